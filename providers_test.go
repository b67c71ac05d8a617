package oidcauth

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/oidcauth/oidcauth/oidctest"
)

// twoProviders is an app with two providers, "main" (New's, at /callback)
// and "second" (at /callback/second), mounted with Mount, and a browser.
type twoProviders struct {
	*harness
	op2 *oidctest.Provider
}

func newTwoProviders(t *testing.T, cfg1, cfg2 oidctest.Config, opts ...Option) *twoProviders {
	t.Helper()
	op1, op2 := newProvider(t, cfg1), newProvider(t, cfg2)
	h := &harness{t: t, op: op1, logs: &syncBuffer{}}
	var handler http.Handler = http.NotFoundHandler()
	h.app = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(h.app.Close)
	base := []Option{
		WithProviderName("main"),
		WithClientID("client"), WithClientSecret("secret"),
		WithRedirectURL(h.app.URL + "/callback"),
		WithPostLogoutRedirectURL(h.app.URL + "/"),
		WithLogger(slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		WithAPIPrefix("/api/"),
		WithProvider("second", op2.Issuer,
			WithClientID("client"), WithClientSecret("secret"),
			WithRedirectURL(h.app.URL+"/callback/second"),
			WithPostLogoutRedirectURL(h.app.URL+"/"),
			WithScopes("openid", "profile", "offline_access")),
	}
	auth, err := New(context.Background(), op1.Issuer, append(base, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.auth = auth
	mux := http.NewServeMux()
	auth.Mount(mux)
	claims := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := RawClaimsFromContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		w.Write(raw)
	})
	mux.Handle("/me", auth.Require(claims))
	mux.Handle("/api/me", auth.Require(claims))
	mux.Handle("GET /api/provider", auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, auth.ProviderName(r))
	})))
	mux.Handle("GET /api/token", auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := auth.Token(r); err != nil {
			auth.HandleError(w, r, err)
		}
	})))
	handler = auth.LoadAndSave(mux)
	jar, _ := cookiejar.New(nil)
	h.client = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &twoProviders{harness: h, op2: op2}
}

// browser is a new browser of the same app.
func (tp *twoProviders) browser() *twoProviders {
	return &twoProviders{harness: tp.newBrowser(), op2: tp.op2}
}

// startAt starts a login at the provider called name and returns the URL
// of its authorization request, which must be op's.
func (tp *twoProviders) startAt(name string, op *oidctest.Provider) *url.URL {
	tp.t.Helper()
	resp := tp.get("/login?provider=" + name + "&return_to=/me")
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, op.Issuer+"/") {
		tp.t.Fatalf("login at %s: %d to %q, want a redirect to %s", name, resp.StatusCode, loc, op.Issuer)
	}
	return mustParse(loc)
}

// loginAt logs the browser in at the provider called name, which is op.
func (tp *twoProviders) loginAt(name string, op *oidctest.Provider) {
	tp.t.Helper()
	resp := tp.get(tp.authorize(tp.startAt(name, op)))
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/me" {
		tp.t.Fatalf("callback of %s: %d to %q: %s", name, resp.StatusCode, resp.Header.Get("Location"), body(resp))
	}
}

func TestProvidersLoginAtEach(t *testing.T) {
	t.Parallel()
	tp := newTwoProviders(t, oidctest.Config{}, oidctest.Config{})

	// Anonymous: a page goes to the chooser, an API gets 401, the chooser
	// links each provider.
	if resp := tp.get("/me"); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/login?return_to=%2Fme" {
		t.Fatalf("anonymous GET /me: %d to %q, want 302 to the chooser", resp.StatusCode, resp.Header.Get("Location"))
	}
	if s := tp.apiStatus(); s != http.StatusUnauthorized {
		t.Fatalf("anonymous API: %d, want 401", s)
	}
	resp := tp.get("/login?return_to=%2Fme")
	page := body(resp)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("chooser: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, link := range []string{`href="/login?provider=main&amp;return_to=%2Fme"`, `href="/login?provider=second&amp;return_to=%2Fme"`} {
		if !strings.Contains(page, link) {
			t.Errorf("the chooser lacks %s:\n%s", link, page)
		}
	}
	if len(tp.loginCookies()) != 0 {
		t.Error("the chooser started a login")
	}
	if resp := tp.get("/login?provider=third"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("an unknown provider: %d, want 400", resp.StatusCode)
	}

	tp.loginAt("main", tp.op)
	if iss := tp.claims()["iss"]; iss != tp.op.Issuer {
		t.Errorf("main's login has iss %v, want %s", iss, tp.op.Issuer)
	}
	if got := body(tp.get("/api/provider")); got != "main" {
		t.Errorf("ProviderName: %q, want main", got)
	}
	b := tp.browser()
	b.loginAt("second", b.op2)
	if iss := b.claims()["iss"]; iss != b.op2.Issuer {
		t.Errorf("second's login has iss %v, want %s", iss, b.op2.Issuer)
	}
	if got := body(b.get("/api/provider")); got != "second" {
		t.Errorf("ProviderName: %q, want second", got)
	}
	// A logged-in user's login without a provider goes to their own.
	if resp := b.get("/login?return_to=/me"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), b.op2.Issuer+"/") {
		t.Errorf("a second login of second's user: %d to %q, want second", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestProvidersMixUp: a response arriving at another provider's redirect
// URL is refused before any token request (RFC 9700 4.4), both ways.
func TestProvidersMixUp(t *testing.T) {
	t.Parallel()
	tp := newTwoProviders(t, oidctest.Config{}, oidctest.Config{})
	for _, tc := range []struct {
		name, started, arrives string
		op                     *oidctest.Provider
	}{
		{"second's response at main's", "second", "/callback", tp.op2},
		{"main's response at second's", "main", "/callback/second", tp.op},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tp.browser()
			cb := mustParse(b.authorize(b.startAt(tc.started, tc.op)))
			resp := b.get(tc.arrives + "?" + cb.RawQuery)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body(resp), "issuer_mismatch") {
				t.Fatalf("status %d, body %s; want 400 issuer_mismatch", resp.StatusCode, body(resp))
			}
			if n := len(tp.op.TokenRequests()) + len(tp.op2.TokenRequests()); n != 0 {
				t.Fatalf("%d token requests were made", n)
			}
			if s := b.apiStatus(); s != http.StatusUnauthorized {
				t.Fatalf("after the refused response the API answers %d, want 401", s)
			}
		})
	}
	// The callback handler mounted under a prefix knows no provider at a
	// path that is no redirect URL's.
	rec := httptest.NewRecorder()
	tp.auth.CallbackHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/callback/third?state=x&code=y", nil))
	if rec.Code != http.StatusNotFound || len(tp.op.TokenRequests()) != 0 {
		t.Errorf("a response at no provider's path: %d, want 404", rec.Code)
	}
}

// TestProvidersMixUpIssParameter: second's login whose response names
// main's issuer in its iss parameter is refused, before any token request.
func TestProvidersMixUpIssParameter(t *testing.T) {
	t.Parallel()
	tp := newTwoProviders(t, oidctest.Config{}, oidctest.Config{IssParameter: true})
	cb := mustParse(tp.authorize(tp.startAt("second", tp.op2)))
	q := cb.Query()
	if q.Get("iss") != tp.op2.Issuer {
		t.Fatalf("the provider sent iss %q", q.Get("iss"))
	}
	q.Set("iss", tp.op.Issuer)
	resp := tp.get("/callback/second?" + q.Encode())
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body(resp), "issuer_mismatch") {
		t.Fatalf("status %d, body %s; want 400 issuer_mismatch", resp.StatusCode, body(resp))
	}
	if n := len(tp.op2.TokenRequests()); n != 0 {
		t.Fatalf("%d token requests were made", n)
	}
}

// TestProvidersSessionGoesToItsProvider: refresh, userinfo, revocation and
// RP-initiated logout of second's login go to second.
func TestProvidersSessionGoesToItsProvider(t *testing.T) {
	t.Parallel()
	tp := newTwoProviders(t, oidctest.Config{}, oidctest.Config{})
	tp.loginAt("second", tp.op2)
	expireTokens(t, tp.harness)
	if resp := tp.get("/api/token"); resp.StatusCode != http.StatusOK {
		t.Fatalf("Token: %d %s", resp.StatusCode, body(resp))
	}
	if n1, n2 := tp.op.CountGrants("refresh_token"), tp.op2.CountGrants("refresh_token"); n1 != 0 || n2 != 1 {
		t.Fatalf("refreshes: %d at main, %d at second; want 0 and 1", n1, n2)
	}
	resp := tp.logout()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, tp.op2.Issuer+"/") {
		t.Fatalf("logout: %d to %q, want second's end-session endpoint", resp.StatusCode, loc)
	}
	if len(tp.op.RevocationRequests()) != 0 || len(tp.op2.RevocationRequests()) == 0 {
		t.Fatalf("revocations: %d at main, %d at second", len(tp.op.RevocationRequests()), len(tp.op2.RevocationRequests()))
	}
}

// TestProvidersSilentLogin: a silent login goes to New's provider, not to
// the chooser, which would be no silent login.
func TestProvidersSilentLogin(t *testing.T) {
	t.Parallel()
	tp := newTwoProviders(t, oidctest.Config{}, oidctest.Config{}, WithSilentLogin())
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	tp.auth.LoadAndSave(tp.auth.Optional(http.NotFoundHandler())).ServeHTTP(rec, req)
	loc := rec.Header().Get("Location")
	if rec.Code != http.StatusFound || !strings.HasPrefix(loc, tp.op.Issuer+"/") || !strings.Contains(loc, "prompt=none") {
		t.Fatalf("silent login: %d to %q, want main's authorize endpoint with prompt=none", rec.Code, loc)
	}
}

func TestProvidersLoginChooser(t *testing.T) {
	t.Parallel()
	var tp *twoProviders
	tp = newTwoProviders(t, oidctest.Config{}, oidctest.Config{}, WithLoginChooser(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, tp.auth.LoginURL("second", r.URL.Query().Get("return_to")))
	})))
	if got := body(tp.get("/login?return_to=/me")); got != "/login?provider=second&return_to=%2Fme" {
		t.Fatalf("the application's chooser wrote %q", got)
	}
}

func TestProvidersOptions(t *testing.T) {
	t.Parallel()
	op1, op2 := newProvider(t, oidctest.Config{}), newProvider(t, oidctest.Config{})
	const app = "http://127.0.0.1:1"
	client := func(redirect string) []Option {
		return []Option{WithClientID("client"), WithClientSecret("secret"), WithRedirectURL(redirect)}
	}
	for _, tc := range []struct {
		name string
		opts []Option
		want string
	}{
		{"a bad name", []Option{WithProvider("Second!", op2.Issuer, client(app+"/callback/second")...)}, "WithProvider"},
		{"a bad first name", []Option{WithProviderName("")}, "WithProviderName"},
		{"the same name", []Option{WithProvider("default", op2.Issuer, client(app+"/callback/second")...)}, `two providers are named "default"`},
		{"the same issuer", []Option{WithProvider("second", op1.Issuer, client(app+"/callback/second")...)}, "the same issuer"},
		{"the same redirect path", []Option{WithProvider("second", op2.Issuer, client(app+"/callback")...)}, "share the redirect path"},
		{"another origin", []Option{WithProvider("second", op2.Issuer, client("http://127.0.0.1:2/callback/second")...)}, "not on the origin"},
		{"an application option", []Option{WithProvider("second", op2.Issuer, append(client(app+"/callback/second"), WithLogger(slog.Default()))...)}, "WithLogger configures the application"},
		{"no client ID", []Option{WithProvider("second", op2.Issuer, WithRedirectURL(app+"/callback/second"))}, "WithClientID"},
		{"a bad option", []Option{WithProvider("second", op2.Issuer, WithScopes("profile"))}, `WithProvider "second"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(context.Background(), op1.Issuer, append(client(app+"/callback"), tc.opts...)...)
			if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want ErrInvalidOption naming %q", err, tc.want)
			}
		})
	}
}
