package oidcauth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oidcauth/oidcauth/oidctest"
)

func TestLoginEachClientAuthMethod(t *testing.T) {
	tests := []struct {
		name   string
		client oidctest.Client
		opts   []Option
	}{
		{"client_secret_basic", oidctest.Client{ID: "c", Secret: "s p&=%ä", AuthMethod: "client_secret_basic"},
			[]Option{WithClientID("c"), WithClientSecret("s p&=%ä")}},
		{"client_secret_post", oidctest.Client{ID: "c", Secret: "s", AuthMethod: "client_secret_post"},
			[]Option{WithClientID("c"), WithClientSecret("s"), WithClientAuth(AuthMethodPost)}},
		{"none", oidctest.Client{ID: "pub", AuthMethod: "none"},
			[]Option{WithClientID("pub"), WithClientSecret("")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, oidctest.Config{Clients: []oidctest.Client{tt.client}}, tt.opts...)
			h.mustLogin("/me?x=1")
			resp := h.get("/me?x=1")
			var claims map[string]any
			if err := json.Unmarshal([]byte(body(resp)), &claims); err != nil || claims["sub"] != "alice" {
				t.Fatalf("/me: status %d, claims %v (%v)", resp.StatusCode, claims, err)
			}
			reqs := h.op.TokenRequests()
			if len(reqs) != 1 || reqs[0].ClientAuth != tt.name || reqs[0].Status != http.StatusOK {
				t.Fatalf("token requests %+v, want one %s", reqs, tt.name)
			}
		})
	}
}

func TestAuthorizeRequest(t *testing.T) {
	h := newHarness(t, oidctest.Config{}, WithAuthParam("prompt", "login"), WithAuthParam("acr_values", "urn:mfa"),
		WithScopes("openid", "email", "offline_access"))
	u := h.startLogin("/me")
	q := u.Query()
	want := map[string]string{
		"response_type": "code", "client_id": "client", "redirect_uri": h.app.URL + "/callback",
		"scope": "openid email offline_access", "code_challenge_method": "S256", "prompt": "login", "acr_values": "urn:mfa",
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		raw, err := base64.RawURLEncoding.DecodeString(q.Get(k))
		if err != nil || len(raw) < 16 {
			t.Errorf("%s = %q: want at least 128 random bits, base64url", k, q.Get(k))
		}
	}
	if q.Get("state") == q.Get("nonce") {
		t.Error("state and nonce are equal")
	}
	// A second login gets fresh values.
	u2 := h.startLogin("/me")
	if u2.Query().Get("state") == q.Get("state") || u2.Query().Get("nonce") == q.Get("nonce") || u2.Query().Get("code_challenge") == q.Get("code_challenge") {
		t.Error("state, nonce or code_challenge repeated across logins")
	}
}

func TestPKCEVerifierMatchesChallenge(t *testing.T) {
	// The provider checks S256(code_verifier) == code_challenge; a login that
	// succeeds proves the pair, and a tampered challenge must fail.
	h := newHarness(t, oidctest.Config{})
	u := h.startLogin("/me")
	q := u.Query()
	sum := sha256.Sum256([]byte("not the verifier"))
	q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]))
	u.RawQuery = q.Encode()
	resp := h.get(h.authorize(u))
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("callback with a foreign code_challenge: status %d, want 502", resp.StatusCode)
	}
	if h.apiStatus() != http.StatusUnauthorized {
		t.Fatal("a failed exchange left a login")
	}
}

func TestAnonymousRequests(t *testing.T) {
	h := newHarness(t, oidctest.Config{})
	tests := []struct {
		name     string
		method   string
		path     string
		header   http.Header
		redirect bool
	}{
		{"browser page", "GET", "/me", http.Header{"Accept": {"text/html,*/*"}}, true},
		{"HEAD page", "HEAD", "/me", nil, true},
		{"no Accept", "GET", "/me", nil, true},
		{"JSON client", "GET", "/me", http.Header{"Accept": {"application/json"}}, false},
		{"API prefix, browser Accept", "GET", "/api/me", http.Header{"Accept": {"text/html"}}, false},
		{"POST", "POST", "/me", http.Header{"Accept": {"text/html"}}, false},
		{"DELETE", "DELETE", "/me", nil, false},
		{"fetch()", "GET", "/me", http.Header{"Sec-Fetch-Mode": {"cors"}, "Accept": {"*/*"}}, false},
		{"navigation", "GET", "/me", http.Header{"Sec-Fetch-Mode": {"navigate"}, "Accept": {"text/html"}}, true},
		{"XHR", "GET", "/me", http.Header{"X-Requested-With": {"XMLHttpRequest"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := h.do(tt.method, tt.path, tt.header)
			if tt.redirect {
				if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), h.op.Issuer+"/authorize?") {
					t.Fatalf("status %d Location %q, want 302 to the provider", resp.StatusCode, resp.Header.Get("Location"))
				}
				return
			}
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Location") != "" {
				t.Fatalf("status %d Location %q, want 401 without redirect", resp.StatusCode, resp.Header.Get("Location"))
			}
			if got, want := resp.Header.Get("WWW-Authenticate"), `Bearer realm="`+h.op.Issuer+`"`; got != want {
				t.Errorf("WWW-Authenticate %q, want %q (RFC 6750 3)", got, want)
			}
			if tt.method != "HEAD" {
				var e struct{ Error string }
				if err := json.Unmarshal([]byte(body(resp)), &e); err != nil || e.Error != "login_required" {
					t.Errorf("body %q: want JSON error login_required", body(resp))
				}
			}
		})
	}
}

func TestOptional(t *testing.T) {
	h := newHarness(t, oidctest.Config{})
	if got := body(h.get("/")); got != "hello stranger" {
		t.Fatalf("anonymous: %q", got)
	}
	if resp := h.login("/login?return_to=/"); resp.Header.Get("Location") != "/" {
		t.Fatalf("login: status %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := body(h.get("/")); got != "hello alice" {
		t.Fatalf("logged in: %q", got)
	}
}

func TestClaimsAccessors(t *testing.T) {
	op := newProvider(t, oidctest.Config{User: oidctest.User{Subject: "bob", Claims: map[string]any{
		"email": "bob@example.com", "email_verified": "true", "name": "Bob", "department": "R&D",
	}}})
	h := newHarnessWith(t, op)
	var got struct {
		claims *Claims
		dept   string
		err    error
	}
	h.app.Config.Handler = h.auth.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/callback" {
			h.auth.CallbackHandler().ServeHTTP(w, r)
			return
		}
		h.auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got.claims, _ = ClaimsFromContext(r.Context())
			var mine struct {
				Department string `json:"department"`
			}
			got.err = DecodeClaims(r.Context(), &mine)
			got.dept = mine.Department
		})).ServeHTTP(w, r)
	}))
	h.mustLogin("/x")
	h.get("/x")
	c := got.claims
	if c == nil || c.Subject != "bob" || c.Email != "bob@example.com" || !bool(c.EmailVerified) || c.Name != "Bob" ||
		c.Issuer != op.Issuer || len(c.Audience) != 1 || c.Audience[0] != "client" || c.IssuedAt.IsZero() || c.SessionID == "" {
		t.Fatalf("claims %+v", c)
	}
	if got.err != nil || got.dept != "R&D" {
		t.Fatalf("DecodeClaims: %q, %v", got.dept, got.err)
	}
	if err := DecodeClaims(httptest.NewRequest("GET", "/", nil).Context(), &struct{}{}); err != ErrNotLoggedIn {
		t.Fatalf("DecodeClaims anonymous: %v, want ErrNotLoggedIn", err)
	}
}

func TestRequireWithoutLoadAndSave(t *testing.T) {
	// Handlers mounted without the LoadAndSave wrapper still work: each loads
	// the session itself.
	h := newHarness(t, oidctest.Config{})
	mux := http.NewServeMux()
	mux.Handle("GET /callback", h.auth.CallbackHandler())
	mux.Handle("/me", h.auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := ClaimsFromContext(r.Context())
		w.Write([]byte(c.Subject))
	})))
	h.app.Config.Handler = mux
	h.mustLogin("/me")
	if resp := h.get("/me"); resp.StatusCode != 200 || body(resp) != "alice" {
		t.Fatalf("status %d body %q", resp.StatusCode, body(resp))
	}
}

func TestSessionRenewedAtLogin(t *testing.T) {
	h := newHarness(t, oidctest.Config{})
	h.get("/visit")
	before := h.sessionCookie()
	if before == nil {
		t.Fatal("no session cookie before login")
	}
	h.mustLogin("/me")
	after := h.sessionCookie()
	if after == nil || after.Value == before.Value {
		t.Fatal("the session token was not renewed at login (session fixation)")
	}
	// The pre-login token no longer finds a session.
	if _, found, _ := h.auth.SessionManager().Store.Find(before.Value); found {
		t.Fatal("the pre-login session still exists in the store")
	}
	// The application's own session data survives the renewal.
	if !strings.Contains(body(h.get("/me")), "alice") {
		t.Fatal("not logged in after renewal")
	}
}

func TestMultipleTabs(t *testing.T) {
	h := newHarness(t, oidctest.Config{})
	paths := []string{"/me?tab=1", "/me?tab=2", "/me?tab=3"}
	var callbacks []string
	for _, p := range paths {
		callbacks = append(callbacks, h.authorize(h.startLogin(p)))
	}
	// Finish them in reverse order: each finds its own pending login.
	for i := len(paths) - 1; i >= 0; i-- {
		resp := h.get(callbacks[i])
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != paths[i] {
			t.Fatalf("tab %d: status %d Location %q body %s", i+1, resp.StatusCode, resp.Header.Get("Location"), body(resp))
		}
	}
}

func TestPendingLoginsAreCapped(t *testing.T) {
	h := newHarness(t, oidctest.Config{})
	first := h.authorize(h.startLogin("/me?n=0"))
	for i := 1; i < maxPending+1; i++ {
		h.startLogin("/me?n=" + string(rune('0'+i)))
	}
	if resp := h.get(first); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("the oldest of %d pending logins: status %d, want 400 (dropped)", maxPending+1, resp.StatusCode)
	}
	if n := len(h.loginCookies()); n != maxPending {
		t.Fatalf("%d login cookies, want %d", len(h.loginCookies()), maxPending)
	}
}

// TestAuthenticatedResponsesAreNotStored: a response to a logged-in user
// carries Cache-Control: no-store (ASVS 14.3.2), so a page does not stay in
// the browser's cache after logout; a handler's own Cache-Control wins, and
// anonymous responses of Optional are left alone.
func TestAuthenticatedResponsesAreNotStored(t *testing.T) {
	t.Parallel()
	h := newHarness(t, oidctest.Config{})
	if cc := h.get("/").Header.Get("Cache-Control"); cc != "" {
		t.Errorf("anonymous GET / (Optional): Cache-Control %q, want none", cc)
	}
	h.mustLogin("/me")
	for _, path := range []string{"/me", "/"} {
		resp := h.get(path)
		if cc := resp.Header.Get("Cache-Control"); resp.StatusCode != http.StatusOK || cc != "no-store" {
			t.Errorf("GET %s logged in: %d, Cache-Control %q, want 200 no-store", path, resp.StatusCode, cc)
		}
	}
	if cc := h.get("/cached").Header.Get("Cache-Control"); cc != "private, max-age=60" {
		t.Errorf("a handler's own Cache-Control: %q, want it kept", cc)
	}
}
