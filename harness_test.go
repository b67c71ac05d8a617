package oidcauth

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/oidcauth/oidcauth/oidctest"
)

// harness is an app protected by oidcauth in front of an oidctest provider,
// both on loopback, and a browser (cookie jar, redirects followed by hand).
type harness struct {
	t      testing.TB
	op     *oidctest.Provider
	auth   *Auth
	app    *httptest.Server
	client *http.Client
	logs   *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of slog.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newProvider(t testing.TB, cfg oidctest.Config) *oidctest.Provider {
	t.Helper()
	op, err := oidctest.NewProvider(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(op.Close)
	return op
}

// newHarness starts a provider with cfg and an app whose Auth is built with
// the default client "client"/"secret" unless opts say otherwise.
func newHarness(t testing.TB, cfg oidctest.Config, opts ...Option) *harness {
	t.Helper()
	return newHarnessWith(t, newProvider(t, cfg), opts...)
}

func newHarnessWith(t testing.TB, op *oidctest.Provider, opts ...Option) *harness {
	t.Helper()
	h := &harness{t: t, op: op, logs: &syncBuffer{}}
	var handler http.Handler = http.NotFoundHandler()
	h.app = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(h.app.Close)
	base := []Option{
		WithClientID("client"), WithClientSecret("secret"),
		WithRedirectURL(h.app.URL + "/callback"),
		WithPostLogoutRedirectURL(h.app.URL + "/"),
		WithLogger(slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		WithAPIPrefix("/api/"),
	}
	auth, err := New(context.Background(), op.Issuer, append(base, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.auth = auth
	handler = auth.LoadAndSave(h.routes())
	jar, _ := cookiejar.New(nil)
	h.client = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return h
}

func (h *harness) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /callback", h.auth.CallbackHandler())
	mux.Handle("GET /login", h.auth.LoginHandler())
	mux.Handle("/logout", h.auth.LogoutHandler())
	claims := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := RawClaimsFromContext(r.Context())
		if !ok {
			http.Error(w, "no claims", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(raw)
	})
	mux.Handle("/me", h.auth.Require(claims))
	mux.Handle("/api/me", h.auth.Require(claims))
	mux.Handle("GET /{$}", h.auth.Optional(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := ClaimsFromContext(r.Context()); ok {
			io.WriteString(w, "hello "+c.Subject)
			return
		}
		io.WriteString(w, "hello stranger")
	})))
	mux.HandleFunc("GET /visit", func(w http.ResponseWriter, r *http.Request) {
		h.auth.SessionManager().Put(r.Context(), "visited", true)
	})
	// /tokens shows the session's tokens so tests can look for them in logs.
	mux.Handle("GET /tokens", h.auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := r.Context().Value(ctxKey{}).(*login)
		ts, err := h.auth.loadTokens(r.Context(), l)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode([]string{ts.IDToken, ts.AccessToken, ts.RefreshToken})
	})))
	h.tokenRoutes(mux) // tokens_test.go
	return mux
}

// do sends a request without following redirects.
func (h *harness) do(method, target string, header http.Header) *http.Response {
	h.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = h.app.URL + target
	}
	req, err := http.NewRequest(method, target, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, target, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp
}

func (h *harness) get(target string) *http.Response { return h.do(http.MethodGet, target, nil) }

func body(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return string(b)
}

// startLogin GETs path and returns the authorization URL it redirects to.
func (h *harness) startLogin(path string) *url.URL {
	h.t.Helper()
	resp := h.get(path)
	if resp.StatusCode != http.StatusFound {
		h.t.Fatalf("GET %s: status %d, want 302; body %s", path, resp.StatusCode, body(resp))
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(u.String(), h.auth.meta.AuthorizationEndpoint+"?") {
		h.t.Fatalf("GET %s: redirect to %q, want the provider", path, resp.Header.Get("Location"))
	}
	return u
}

// authorize sends the browser to the provider and returns the callback URL
// the provider redirects back to.
func (h *harness) authorize(authURL *url.URL) string {
	h.t.Helper()
	resp := h.get(authURL.String())
	if resp.StatusCode != http.StatusFound {
		h.t.Fatalf("provider authorize: status %d: %s", resp.StatusCode, body(resp))
	}
	return resp.Header.Get("Location")
}

// login runs a whole login starting at path and returns the callback's response.
func (h *harness) login(path string) *http.Response {
	h.t.Helper()
	return h.get(h.authorize(h.startLogin(path)))
}

// mustLogin logs in at path and fails unless the callback returns to path
// (to its return_to for /login).
func (h *harness) mustLogin(path string) {
	h.t.Helper()
	resp := h.login(path)
	want := path
	if u := mustParse(path); u.Path == "/login" {
		want = u.Query().Get("return_to")
	}
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
		h.t.Fatalf("login at %s: status %d, Location %q, body %s", path, resp.StatusCode, resp.Header.Get("Location"), body(resp))
	}
}

// apiStatus is the status of GET /api/me as an API client.
func (h *harness) apiStatus() int {
	h.t.Helper()
	return h.do(http.MethodGet, "/api/me", http.Header{"Accept": {"application/json"}}).StatusCode
}

// sessionCookie returns the browser's session cookie, or nil.
func (h *harness) sessionCookie() *http.Cookie {
	u, _ := url.Parse(h.app.URL)
	for _, c := range h.client.Jar.Cookies(u) {
		if c.Name == h.auth.SessionManager().Cookie.Name {
			return c
		}
	}
	return nil
}

func mustParse(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func newJar() http.CookieJar {
	jar, _ := cookiejar.New(nil)
	return jar
}
