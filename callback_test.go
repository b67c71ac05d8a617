package oidcauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidctest"
)

func TestCallbackRejectsBadState(t *testing.T) {
	tests := []struct {
		name string
		// callback turns a genuine callback URL into the one the browser sends.
		callback func(t *testing.T, h *harness, genuine string) string
	}{
		{"missing state", func(t *testing.T, h *harness, g string) string { return withParam(g, "state", "") }},
		{"unknown state", func(t *testing.T, h *harness, g string) string { return withParam(g, "state", "made-up") }},
		{"state of another browser", func(t *testing.T, h *harness, g string) string {
			// Login CSRF: the attacker's own state and code, sent to the victim's browser.
			victim := newHarnessWith(t, h.op)
			attacker := victim.authorize(victim.startLogin("/me"))
			u := mustParse(attacker)
			u.Host = mustParse(h.app.URL).Host
			return u.String()
		}},
		{"reused state", func(t *testing.T, h *harness, g string) string {
			h.mustLoginCallback(g)
			return g
		}},
		{"reused state with its cookie replayed", func(t *testing.T, h *harness, g string) string {
			// An attacker who copied the login cookie meets the used state.
			saved := h.loginCookies()
			h.mustLoginCallback(g)
			h.client.Jar.SetCookies(mustParse(h.app.URL), saved)
			return g
		}},
		{"expired state", func(t *testing.T, h *harness, g string) string {
			h.editLoginCookies(func(p *pendingLogin) { p.Created = time.Now().Add(-pendingTTL - time.Second).Unix() })
			return g
		}},
		{"tampered binding cookie", func(t *testing.T, h *harness, g string) string {
			var forged []*http.Cookie
			for _, c := range h.loginCookies() {
				forged = append(forged, &http.Cookie{Name: c.Name, Value: "1.forged", Path: "/"})
			}
			h.client.Jar.SetCookies(mustParse(h.app.URL), forged)
			return g
		}},
		{"cookie sealed by another application", func(t *testing.T, h *harness, g string) string {
			other := newHarnessWith(t, h.op)
			sealed, err := other.auth.seal(context.Background(), &pendingLogin{
				StateHash: hashString(mustParse(g).Query().Get("state")), Created: time.Now().Unix(),
			})
			if err != nil {
				t.Fatal(err)
			}
			var forged []*http.Cookie
			for _, c := range h.loginCookies() {
				forged = append(forged, &http.Cookie{Name: c.Name, Value: sealed, Path: "/"})
			}
			h.client.Jar.SetCookies(mustParse(h.app.URL), forged)
			return g
		}},
		{"oversized state", func(t *testing.T, h *harness, g string) string {
			return withParam(g, "state", strings.Repeat("a", maxStateLen+1))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var last error
			h := newHarness(t, oidctest.Config{}, recordErrors(&last))
			genuine := h.authorize(h.startLogin("/me"))
			target := tt.callback(t, h, genuine)
			grantsBefore := h.op.Hits("/token")
			resp := h.get(target)
			if resp.StatusCode != http.StatusBadRequest || !errors.Is(last, ErrStateMismatch) {
				t.Fatalf("status %d, error %v; want 400 ErrStateMismatch", resp.StatusCode, last)
			}
			if h.op.Hits("/token") != grantsBefore {
				t.Fatal("the code was sent to the provider despite a bad state")
			}
		})
	}
}

func TestCallbackMalformedParameters(t *testing.T) {
	tests := []struct {
		name  string
		query func(genuine url.Values) string
	}{
		{"repeated state", func(q url.Values) string { return q.Encode() + "&state=" + url.QueryEscape(q.Get("state")) }},
		{"repeated code", func(q url.Values) string { return q.Encode() + "&code=x" }},
		{"huge query", func(q url.Values) string { return q.Encode() + "&pad=" + strings.Repeat("x", maxCallbackQuery) }},
		{"not UTF-8", func(q url.Values) string { return q.Encode() + "&error_description=%ff%fe" }},
		{"bad escape", func(q url.Values) string { return q.Encode() + "&x=%zz" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var last error
			h := newHarness(t, oidctest.Config{}, recordErrors(&last))
			u := mustParse(h.authorize(h.startLogin("/me")))
			u.RawQuery = tt.query(u.Query())
			resp := h.get(u.String())
			if resp.StatusCode != http.StatusBadRequest || !errors.Is(last, ErrBadRequest) {
				t.Fatalf("status %d error %v, want 400 ErrBadRequest", resp.StatusCode, last)
			}
			if h.op.Hits("/token") != 0 {
				t.Fatal("the provider was called")
			}
		})
	}
}

func TestCallbackMissingCode(t *testing.T) {
	var last error
	h := newHarness(t, oidctest.Config{}, recordErrors(&last))
	resp := h.get(withParam(h.authorize(h.startLogin("/me")), "code", ""))
	if resp.StatusCode != http.StatusBadRequest || !errors.Is(last, ErrBadRequest) {
		t.Fatalf("status %d error %v", resp.StatusCode, last)
	}
}

func TestProviderErrorIsShownEscaped(t *testing.T) {
	var last error
	h := newHarness(t, oidctest.Config{}, recordErrors(&last))
	h.op.SetTamper(oidctest.Tamper{AuthorizeError: "access_denied", AuthorizeErrorDescription: `<script>alert("x")</script> denied`})
	resp := h.do("GET", h.authorize(h.startLogin("/me")), http.Header{"Accept": {"text/html"}})
	page := body(resp)
	if resp.StatusCode != http.StatusForbidden || !errors.Is(last, ErrProvider) {
		t.Fatalf("status %d error %v", resp.StatusCode, last)
	}
	if strings.Contains(page, "<script>") || !strings.Contains(page, "&lt;script&gt;") || !strings.Contains(page, "access_denied") {
		t.Fatalf("the provider's error is not shown escaped:\n%s", page)
	}
	// A provider error with a forged state shows nothing of it.
	last = nil
	h.op.SetTamper(oidctest.Tamper{AuthorizeError: "access_denied", AuthorizeErrorDescription: "forged"})
	resp = h.get(withParam(h.authorize(h.startLogin("/me")), "state", "forged"))
	if !errors.Is(last, ErrStateMismatch) || strings.Contains(body(resp), "forged") {
		t.Fatalf("error %v, body %s", last, body(resp))
	}
}

func TestIssuerParameter(t *testing.T) {
	advertise := func(doc map[string]any) { doc["authorization_response_iss_parameter_supported"] = true }
	tests := []struct {
		name   string
		cfg    oidctest.Config
		tamper oidctest.Tamper
		ok     bool
	}{
		{"advertised and right", oidctest.Config{IssParameter: true}, oidctest.Tamper{}, true},
		{"not advertised, absent", oidctest.Config{}, oidctest.Tamper{}, true},
		{"advertised, wrong (mix-up)", oidctest.Config{IssParameter: true}, oidctest.Tamper{Iss: "https://attacker.example"}, false},
		{"advertised, absent", oidctest.Config{}, oidctest.Tamper{Metadata: advertise}, false},
		{"not advertised, wrong", oidctest.Config{}, oidctest.Tamper{Iss: "https://attacker.example"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var last error
			op := newProvider(t, tt.cfg)
			op.SetTamper(oidctest.Tamper{Metadata: tt.tamper.Metadata})
			h := newHarnessWith(t, op, recordErrors(&last))
			op.SetTamper(tt.tamper)
			resp := h.login("/me")
			if tt.ok {
				if resp.StatusCode != http.StatusFound {
					t.Fatalf("status %d error %v", resp.StatusCode, last)
				}
				return
			}
			if resp.StatusCode != http.StatusBadRequest || !errors.Is(last, ErrIssuerMismatch) || op.Hits("/token") != 0 {
				t.Fatalf("status %d error %v token calls %d; want 400 ErrIssuerMismatch before any exchange", resp.StatusCode, last, op.Hits("/token"))
			}
		})
	}
}

func TestIDTokenVerification(t *testing.T) {
	set := func(k string, v any) func(map[string]any) { return func(c map[string]any) { c[k] = v } }
	del := func(k string) func(map[string]any) { return func(c map[string]any) { delete(c, k) } }
	tests := []struct {
		name   string
		tamper oidctest.Tamper
		ok     bool
	}{
		{"valid", oidctest.Tamper{}, true},
		{"expired within clock skew", oidctest.Tamper{IDTokenClaims: set("exp", time.Now().Add(-30*time.Second).Unix())}, true},
		{"kid absent, one key", oidctest.Tamper{NoKeyID: true}, true},
		{"azp is the client", oidctest.Tamper{IDTokenClaims: func(c map[string]any) { c["aud"] = []string{"client", "other"}; c["azp"] = "client" }}, true},
		{"bad signature", oidctest.Tamper{BadSignature: true}, false},
		{"alg none", oidctest.Tamper{Alg: "none"}, false},
		{"HS256 keyed with the public key", oidctest.Tamper{Alg: "HS256"}, false},
		{"key not in the JWKS", oidctest.Tamper{UnknownKey: true}, false},
		{"wrong iss", oidctest.Tamper{IDTokenClaims: set("iss", "https://attacker.example")}, false},
		{"missing iss", oidctest.Tamper{IDTokenClaims: del("iss")}, false},
		{"wrong aud", oidctest.Tamper{IDTokenClaims: set("aud", "other")}, false},
		{"missing aud", oidctest.Tamper{IDTokenClaims: del("aud")}, false},
		{"several aud, no azp", oidctest.Tamper{IDTokenClaims: set("aud", []string{"client", "other"})}, false},
		{"azp of another client", oidctest.Tamper{IDTokenClaims: set("azp", "other")}, false},
		{"missing sub", oidctest.Tamper{IDTokenClaims: del("sub")}, false},
		{"empty sub", oidctest.Tamper{IDTokenClaims: set("sub", "")}, false},
		{"missing iat", oidctest.Tamper{IDTokenClaims: del("iat")}, false},
		{"iat in the future", oidctest.Tamper{IDTokenClaims: set("iat", time.Now().Add(time.Hour).Unix())}, false},
		{"expired", oidctest.Tamper{IDTokenClaims: set("exp", time.Now().Add(-2*time.Minute).Unix())}, false},
		{"missing exp", oidctest.Tamper{IDTokenClaims: del("exp")}, false},
		{"nbf in the future", oidctest.Tamper{IDTokenClaims: set("nbf", time.Now().Add(time.Hour).Unix())}, false},
		{"nbf beyond the clock skew", oidctest.Tamper{IDTokenClaims: set("nbf", time.Now().Add(3*time.Minute).Unix())}, false},
		{"nbf within the clock skew", oidctest.Tamper{IDTokenClaims: set("nbf", time.Now().Add(30*time.Second).Unix())}, true},
		{"wrong nonce", oidctest.Tamper{IDTokenClaims: set("nonce", "replayed")}, false},
		{"missing nonce", oidctest.Tamper{IDTokenClaims: del("nonce")}, false},
		{"wrong at_hash", oidctest.Tamper{IDTokenClaims: set("at_hash", "AAAAAAAAAAAAAAAAAAAAAA")}, false},
		{"a standard claim of the wrong type", oidctest.Tamper{IDTokenClaims: set("name", 42)}, false},
		{"no id_token", oidctest.Tamper{NoIDToken: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var last error
			h := newHarness(t, oidctest.Config{}, recordErrors(&last))
			h.op.SetTamper(tt.tamper)
			resp := h.login("/me")
			h.op.SetTamper(oidctest.Tamper{})
			if tt.ok {
				if resp.StatusCode != http.StatusFound || h.apiStatus() != http.StatusOK {
					t.Fatalf("status %d error %v, want a login", resp.StatusCode, last)
				}
				return
			}
			if resp.StatusCode != http.StatusBadRequest || !errors.Is(last, ErrIDToken) {
				t.Fatalf("status %d error %v, want 400 ErrIDToken", resp.StatusCode, last)
			}
			if h.apiStatus() != http.StatusUnauthorized {
				t.Fatal("a rejected id_token left a login")
			}
		})
	}
}

func TestTokenEndpointFailures(t *testing.T) {
	tests := []struct {
		name   string
		tamper oidctest.Tamper
		opts   []Option
		status int
	}{
		{"invalid_grant", oidctest.Tamper{TokenStatus: 400, TokenBody: `{"error":"invalid_grant","error_description":"code used"}`}, nil, http.StatusBadGateway},
		{"malformed JSON", oidctest.Tamper{TokenStatus: 200, TokenBody: `{"access_token": `}, nil, http.StatusBadGateway},
		{"huge body", oidctest.Tamper{TokenStatus: 200, TokenBody: `{"access_token":"` + strings.Repeat("a", 2<<20) + `"}`}, nil, http.StatusBadGateway},
		{"slow", oidctest.Tamper{TokenDelay: 5 * time.Second}, []Option{WithTimeout(300 * time.Millisecond)}, http.StatusBadGateway},
		{"5xx", oidctest.Tamper{TokenStatus: 503, TokenBody: `busy`}, nil, http.StatusBadGateway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var last error
			h := newHarness(t, oidctest.Config{}, append(tt.opts, recordErrors(&last))...)
			h.op.SetTamper(tt.tamper)
			resp := h.login("/me")
			if resp.StatusCode != tt.status || !errors.Is(last, ErrExchange) {
				t.Fatalf("status %d error %v, want %d ErrExchange", resp.StatusCode, last, tt.status)
			}
			if h.apiStatus() != http.StatusUnauthorized {
				t.Fatal("a failed exchange left a login")
			}
		})
	}
}

func TestWrongClientSecretFailsClosed(t *testing.T) {
	var last error
	h := newHarness(t, oidctest.Config{}, WithClientSecret("wrong"), recordErrors(&last))
	if resp := h.login("/me"); resp.StatusCode != http.StatusBadGateway || !errors.Is(last, ErrExchange) {
		t.Fatalf("status %d error %v", resp.StatusCode, last)
	}
}

func TestCallbackHeaders(t *testing.T) {
	h := newHarness(t, oidctest.Config{})
	ok := h.login("/me")
	bad := h.do("GET", "/callback?state=x&code=y", http.Header{"Accept": {"text/html"}})
	for name, resp := range map[string]*http.Response{"success": ok, "error page": bad} {
		if got := resp.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s: Cache-Control %q", name, got)
		}
		if got := resp.Header.Get("Referrer-Policy"); got != "no-referrer" {
			t.Errorf("%s: Referrer-Policy %q", name, got)
		}
	}
	if bad.Header.Get("X-Frame-Options") != "DENY" || !strings.Contains(bad.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("the error page can be framed: %v", bad.Header)
	}
	if !strings.HasPrefix(bad.Header.Get("Content-Type"), "text/html") {
		t.Errorf("error page for a browser: Content-Type %q", bad.Header.Get("Content-Type"))
	}
}

func TestLogsHoldNoSecrets(t *testing.T) {
	var last error
	h := newHarness(t, oidctest.Config{}, WithScopes("openid", "offline_access"), recordErrors(&last))
	authURL := h.startLogin("/me")
	callback := h.authorize(authURL)
	code := mustParse(callback).Query().Get("code")
	h.mustLoginCallback(callback)
	var tokens []string
	json.Unmarshal([]byte(body(h.get("/tokens"))), &tokens)
	// Failures log too: a replayed callback, a refused exchange.
	h.get(callback)
	h.op.SetTamper(oidctest.Tamper{TokenStatus: 400, TokenBody: `{"error":"invalid_grant","refresh_token":"leak-me"}`})
	h.login("/login?return_to=/me")
	logs := h.logs.String()
	if !strings.Contains(logs, "oidcauth: login") || !strings.Contains(logs, "state") {
		t.Fatalf("the logs do not tell what happened:\n%s", logs)
	}
	secrets := append(tokens, code, "secret", "leak-me", authURL.Query().Get("state"), authURL.Query().Get("nonce"))
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("the logs contain a secret %.12q…:\n%s", s, logs)
		}
	}
	if len(tokens) != 3 || tokens[2] == "" {
		t.Fatalf("tokens %q: want id, access and refresh token", tokens)
	}
}

// TestRequestedAuthenticationIsEnforced: what the app asks of the user's
// authentication (max_age, acr_values) is checked in the id_token.
func TestRequestedAuthenticationIsEnforced(t *testing.T) {
	set := func(k string, v any) func(map[string]any) { return func(c map[string]any) { c[k] = v } }
	maxAge := WithAuthParam("max_age", "300")
	acr := WithAuthParam("acr_values", "urn:mfa urn:hwk")
	tests := []struct {
		name   string
		opt    Option
		tamper func(map[string]any)
		ok     bool
	}{
		{"max_age, recent auth_time", maxAge, nil, true},
		{"max_age, auth_time too old", maxAge, set("auth_time", time.Now().Add(-time.Hour).Unix()), false},
		{"max_age, no auth_time", maxAge, func(c map[string]any) { delete(c, "auth_time") }, false},
		{"no max_age, old auth_time", nil, set("auth_time", time.Now().Add(-time.Hour).Unix()), true},
		{"acr_values, acr among them", acr, set("acr", "urn:hwk"), true},
		{"acr_values, another acr", acr, set("acr", "urn:password"), false},
		{"acr_values, no acr", acr, func(c map[string]any) { delete(c, "acr") }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var last error
			opts := []Option{recordErrors(&last)}
			if tt.opt != nil {
				opts = append(opts, tt.opt)
			}
			h := newHarness(t, oidctest.Config{}, opts...)
			h.op.SetTamper(oidctest.Tamper{IDTokenClaims: tt.tamper})
			resp := h.login("/me")
			if tt.ok != (resp.StatusCode == http.StatusFound) || !tt.ok && (!errors.Is(last, ErrInsufficientAuthentication) || resp.StatusCode != http.StatusForbidden) {
				t.Fatalf("status %d error %v, want ok=%v", resp.StatusCode, last, tt.ok)
			}
		})
	}
	if _, err := New(context.Background(), "http://127.0.0.1:1", WithClientID("c"), WithRedirectURL("http://127.0.0.1/cb"),
		WithAuthParam("max_age", "soon")); !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "max_age") {
		t.Fatalf("max_age=soon: %v", err)
	}
}
