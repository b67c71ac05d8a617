package oidcauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/oidcauth/oidcauth/oidctest"
)

// TestSilentLoginWithoutProviderSession: an anonymous navigation tries
// prompt=none once; login_required brings the browser back to the page
// anonymous, with no error page and no second try.
func TestSilentLoginWithoutProviderSession(t *testing.T) {
	h := newHarness(t, oidctest.Config{}, WithSilentLogin())
	u := h.startLogin("/")
	if u.Query().Get("prompt") != "none" {
		t.Fatalf("silent login without prompt=none: %v", u.Query())
	}
	callback := h.authorize(u)
	if !strings.Contains(callback, "error=login_required") {
		t.Fatalf("provider without a session answered %s", callback)
	}
	resp := h.get(callback)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/" {
		t.Fatalf("silent login_required: %d %q %s", resp.StatusCode, resp.Header.Get("Location"), body(resp))
	}
	for range 2 {
		if resp := h.get("/"); resp.StatusCode != http.StatusOK || body(resp) != "hello stranger" {
			t.Fatalf("GET / after the silent try: %d %s", resp.StatusCode, body(resp))
		}
	}
	// The state is checked as for any login: replayed, and forged.
	if resp := h.get(callback); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("replayed silent callback: %d", resp.StatusCode)
	}
	if resp := h.newBrowser().get("/callback?error=login_required&state=forged"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("forged silent callback: %d", resp.StatusCode)
	}
	// API requests, other methods and protected pages are never silent.
	b := h.newBrowser()
	if st := b.do(http.MethodGet, "/", apiHeader).StatusCode; st != http.StatusOK {
		t.Fatalf("API GET /: %d", st)
	}
	if loc := b.get("/me").Header.Get("Location"); strings.Contains(loc, "prompt=none") {
		t.Fatal("Require tried a silent login")
	}
}

// TestSilentLoginWithProviderSession: a browser logged in at the provider
// is logged in without a click.
func TestSilentLoginWithProviderSession(t *testing.T) {
	h := newHarness(t, oidctest.Config{}, WithSilentLogin())
	h.mustLogin("/me")
	// A new app session in the same browser: only the provider's cookie.
	b := h.newBrowser()
	op := mustParse(h.op.Issuer)
	for _, c := range h.client.Jar.Cookies(op) {
		if c.Name == "oidctest_session" {
			b.client.Jar.SetCookies(op, []*http.Cookie{c})
		}
	}
	u := b.startLogin("/")
	if u.Query().Get("prompt") != "none" {
		t.Fatalf("no silent login: %v", u.Query())
	}
	b.mustLoginCallback(b.authorize(u))
	if resp := b.get("/"); body(resp) != "hello alice" {
		t.Fatalf("GET / after the silent login: %s", body(resp))
	}
}

// TestSilentErrorsOnlyForSilentLogins: login_required answering an
// ordinary login is an error page, as before.
func TestSilentErrorsOnlyForSilentLogins(t *testing.T) {
	h := newHarness(t, oidctest.Config{}, WithSilentLogin())
	h.op.SetTamper(oidctest.Tamper{AuthorizeError: "login_required"})
	if resp := h.login("/me"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("login_required on an ordinary login: %d", resp.StatusCode)
	}
	// And an error that is not one of "needs the user" is one for a silent login too.
	h.op.SetTamper(oidctest.Tamper{AuthorizeError: "access_denied"})
	if resp := h.login("/"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("access_denied on a silent login: %d", resp.StatusCode)
	}
}

// TestLoginQueryAllowList: the login handler passes on prompt=login,
// login_hint and the application's acr values, and nothing else.
func TestLoginQueryAllowList(t *testing.T) {
	h := newHarness(t, oidctest.Config{}, WithLoginACRValues("urn:mfa"))
	base := h.startLogin("/login").Query()
	q := url.Values{
		"return_to": {"/me"}, "prompt": {"login"}, "login_hint": {"bob@example.com"}, "acr_values": {"urn:mfa"},
		"scope": {"openid admin"}, "redirect_uri": {"https://evil.example/"}, "client_id": {"evil"},
		"max_age": {"1"}, "foo": {"bar"}, "response_mode": {"form_post"},
	}
	got := h.startLogin("/login?" + q.Encode()).Query()
	want := map[string]string{"prompt": "login", "login_hint": "bob@example.com", "acr_values": "urn:mfa"}
	for k, v := range want {
		if got.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, got.Get(k), v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok && got.Get(k) != base.Get(k) && k != "state" && k != "nonce" && k != "code_challenge" {
			t.Errorf("%s = %q reached the provider", k, got.Get(k))
		}
	}
	for _, tt := range []struct{ name, query, param string }{
		{"acr not configured", "acr_values=urn:other", "acr_values"},
		{"one acr not configured", "acr_values=urn:mfa+urn:other", "acr_values"},
		{"prompt none", "prompt=none", "prompt"},
		{"prompt consent", "prompt=consent", "prompt"},
		{"repeated login_hint", "login_hint=a&login_hint=b", "login_hint"},
		{"control character in login_hint", "login_hint=a%0Ab", "login_hint"},
		{"forged step_up", "step_up=" + random(60), "acr_values"},
	} {
		if v := h.startLogin("/login?" + tt.query).Query().Get(tt.param); v != "" {
			t.Errorf("%s: %s = %q reached the provider", tt.name, tt.param, v)
		}
	}
	// What the login asked is what its callback checks.
	var last error
	h2 := newHarness(t, oidctest.Config{}, WithLoginACRValues("urn:mfa"), recordErrors(&last))
	h2.op.SetAuthentication(oidctest.Authentication{ACR: "urn:pwd"})
	if resp := h2.login("/login?acr_values=urn:mfa"); resp.StatusCode != http.StatusForbidden || !errors.Is(last, ErrInsufficientAuthentication) {
		t.Fatalf("acr_values login with a weaker acr: %d %v", resp.StatusCode, last)
	}
}

// TestLoginHook: the hook enriches the claims, or refuses the login with
// a reason the user sees; a refused login leaves the session as it was.
func TestLoginHook(t *testing.T) {
	var mode atomic.Value
	mode.Store("enrich")
	hook := WithLoginHook(func(ctx context.Context, claims json.RawMessage) (json.RawMessage, error) {
		var c map[string]any
		json.Unmarshal(claims, &c)
		switch mode.Load() {
		case "refuse":
			return nil, RefuseLogin("This account is not allowed here.")
		case "fail":
			return nil, errors.New("directory down: secret detail")
		case "sub":
			c["sub"] = "mallory"
		default:
			c["role"] = "editor"
		}
		return json.Marshal(c)
	})
	var ended atomic.Value
	logoutHook := WithLogoutHook(func(ctx context.Context, sub, sid string) { ended.Store(sub) })
	h := newHarness(t, oidctest.Config{}, hook, logoutHook)
	h.mustLogin("/me")
	if c := h.claims(); c["role"] != "editor" || c["sub"] != "alice" {
		t.Fatalf("enriched claims %v", c)
	}
	for _, m := range []string{"refuse", "fail", "sub"} {
		mode.Store(m)
		cookie, record := h.sessionRecord()
		resp := h.login("/login?return_to=/me")
		if resp.StatusCode < 400 {
			t.Fatalf("%s: the login went through: %d", m, resp.StatusCode)
		}
		if m == "refuse" && (resp.StatusCode != http.StatusForbidden || !strings.Contains(body(resp), "This account is not allowed here.")) {
			t.Fatalf("refused: %d %s", resp.StatusCode, body(resp))
		}
		if m == "fail" && (resp.StatusCode != http.StatusForbidden || strings.Contains(body(resp), "secret detail")) {
			t.Fatalf("failed hook: %d %s", resp.StatusCode, body(resp))
		}
		if c2, r2 := h.sessionRecord(); c2 != cookie || string(r2) != string(record) {
			t.Fatalf("%s: the refused login changed the session", m)
		}
	}
	h.logout()
	if ended.Load() != "alice" {
		t.Fatalf("logout hook got %v", ended.Load())
	}
	if _, err := New(context.Background(), h.op.Issuer, WithClientID("c"), WithRedirectURL("http://127.0.0.1/cb"), WithLoginHook(nil)); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("WithLoginHook(nil): %v", err)
	}
}
