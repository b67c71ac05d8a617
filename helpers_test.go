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
	mux.Handle("GET /cached", h.auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, max-age=60")
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
	h.tokenRoutes(mux)  // tokens_test.go
	h.policyRoutes(mux) // policy_test.go
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
	if err != nil || !strings.HasPrefix(u.String(), h.auth.primary().meta.AuthorizationEndpoint+"?") {
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

// newBrowser returns h with a browser of its own (an empty cookie jar).
func (h *harness) newBrowser() *harness {
	b := *h
	jar, _ := cookiejar.New(nil)
	b.client = &http.Client{Jar: jar, CheckRedirect: h.client.CheckRedirect}
	return &b
}

// claims returns the logged-in user's claims, from /api/me.
func (h *harness) claims() map[string]any {
	h.t.Helper()
	resp := h.do(http.MethodGet, "/api/me", http.Header{"Accept": {"application/json"}})
	var c map[string]any
	if err := json.Unmarshal([]byte(body(resp)), &c); resp.StatusCode != http.StatusOK || err != nil {
		h.t.Fatalf("GET /api/me: %d %s", resp.StatusCode, body(resp))
	}
	return c
}

// sidSub returns the sid and sub of the logged-in user.
func (h *harness) sidSub() (string, string) {
	c := h.claims()
	sid, _ := c["sid"].(string)
	sub, _ := c["sub"].(string)
	if sid == "" || sub == "" {
		h.t.Fatalf("claims without sid or sub: %v", c)
	}
	return sid, sub
}

// mustBeLoggedOut fails unless h's browser, cookie and all, is anonymous:
// an API request gets 401 and a page sends it to the provider.
func (h *harness) mustBeLoggedOut(what string) {
	h.t.Helper()
	// The session record itself is gone (before a request writes a new one).
	if c := h.sessionCookie(); c != nil {
		key := c.Value // where scs keeps it, worked out here, not by oidcauth
		if h.auth.sm.HashTokenInStore {
			key = hashString(c.Value)
		}
		if _, found, _ := h.auth.sm.Store.Find(key); found {
			h.t.Fatalf("%s: the session record is still in the store", what)
		}
	}
	if s := h.apiStatus(); s != http.StatusUnauthorized {
		h.t.Fatalf("%s: GET /api/me with the old cookie: %d, want 401", what, s)
	}
	if resp := h.get("/me"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), h.op.Issuer) {
		h.t.Fatalf("%s: GET /me: %d to %q, want a redirect to the provider", what, resp.StatusCode, resp.Header.Get("Location"))
	}
}

// logout posts the logout form from the app's own page.
func (h *harness) logout() *http.Response {
	h.t.Helper()
	return h.do(http.MethodPost, "/logout", http.Header{"Origin": {h.app.URL}, "Sec-Fetch-Site": {"same-origin"}})
}

// serveBackchannel serves h's back-channel logout handler on a server of its
// own, as the usual app would (behind LoadAndSave), registers it as the
// client's back-channel logout URI at the provider and returns it.
func (h *harness) serveBackchannel() string {
	h.t.Helper()
	srv := httptest.NewServer(h.auth.LoadAndSave(h.auth.BackchannelLogoutHandler()))
	h.t.Cleanup(srv.Close)
	c, ok := h.op.Client(h.auth.primary().clientID)
	if !ok {
		h.t.Fatalf("no client %q at the provider", h.auth.primary().clientID)
	}
	c.BackchannelLogoutURI = srv.URL + "/backchannel-logout"
	h.op.SetClient(c)
	return c.BackchannelLogoutURI
}

// postLogout posts form to the back-channel logout URI as a provider does:
// no cookie, no Origin.
func postLogout(t *testing.T, uri string, form url.Values, header http.Header) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, uri, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp
}

func logoutForm(token string) url.Values { return url.Values{"logout_token": {token}} }

// recordErrors makes h's error handler remember the last error, then answer
// as the default does.
func recordErrors(last *error) Option {
	return WithErrorHandler(func(w http.ResponseWriter, r *http.Request, status int, err error) {
		*last = err
		DefaultErrorHandler(w, r, status, err)
	})
}

func (h *harness) mustLoginCallback(callback string) {
	h.t.Helper()
	if resp := h.get(callback); resp.StatusCode != http.StatusFound {
		h.t.Fatalf("callback: status %d body %s", resp.StatusCode, body(resp))
	}
}

func withParam(rawURL, key, value string) string {
	u := mustParse(rawURL)
	q := u.Query()
	if value == "" {
		q.Del(key)
	} else {
		q.Set(key, value)
	}
	u.RawQuery = q.Encode()
	return u.String()
}
