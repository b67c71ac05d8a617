package oidcecho5_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidctest"
)

// site is an app on loopback in front of an oidctest provider, and a browser
// for it: a cookie jar, redirects followed by hand.
type site struct {
	t      *testing.T
	op     *oidctest.Provider
	auth   *oidcauth.Auth
	url    string
	client *http.Client
}

// newSite starts a provider and an app server whose handler is built by
// routes once the Auth exists.
func newSite(t *testing.T, routes func(*oidcauth.Auth) http.Handler, opts ...oidcauth.Option) *site {
	t.Helper()
	op, err := oidctest.NewProvider(oidctest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(op.Close)
	var handler http.Handler = http.NotFoundHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	base := []oidcauth.Option{
		oidcauth.WithClientID("client"), oidcauth.WithClientSecret("secret"),
		oidcauth.WithRedirectURL(srv.URL + "/callback"),
		oidcauth.WithAPIPrefix("/api/"),
		oidcauth.WithLogger(slog.New(slog.DiscardHandler)),
	}
	auth, err := oidcauth.New(context.Background(), op.Issuer, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	handler = routes(auth)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &site{t: t, op: op, auth: auth, url: srv.URL, client: client}
}

// response is a response with its body read.
type response struct {
	*http.Response
	body string
}

var (
	browser = http.Header{"Accept": {"text/html"}, "Sec-Fetch-Mode": {"navigate"}}
	api     = http.Header{"Accept": {"application/json"}}
)

func (s *site) do(method, target string, header http.Header) response {
	s.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = s.url + target
	}
	req, err := http.NewRequest(method, target, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, target, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return response{resp, string(b)}
}

func (s *site) get(target string) response { return s.do(http.MethodGet, target, browser) }

// login logs in starting at path, following the redirects to the provider
// and back, and fails unless the callback returns to path.
func (s *site) login(path string) {
	s.t.Helper()
	resp := s.get(path)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, s.op.Issuer+"/authorize?") {
		s.t.Fatalf("GET %s: %d to %q, want 302 to the provider", path, resp.StatusCode, loc)
	}
	resp = s.get(loc)
	if resp.StatusCode != http.StatusFound {
		s.t.Fatalf("provider: %d %s", resp.StatusCode, resp.body)
	}
	resp = s.get(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != path {
		s.t.Fatalf("callback: %d to %q, want 302 to %s; body %s", resp.StatusCode, resp.Header.Get("Location"), path, resp.body)
	}
}

// logout posts to /logout as a same-origin form would.
func (s *site) logout() response {
	s.t.Helper()
	return s.do(http.MethodPost, "/logout", http.Header{"Origin": {s.url}, "Sec-Fetch-Site": {"same-origin"}})
}

// sessionCookie reports whether resp sets the session cookie.
func (s *site) setsSession(resp response) bool {
	for _, c := range resp.Cookies() {
		if c.Name == s.auth.SessionManager().Cookie.Name {
			return true
		}
	}
	return false
}
