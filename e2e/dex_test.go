//go:build linux

package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDexDiscovery proves the Dex bench without the app: Dex answers
// discovery under its issuer's path, through the proxy, and advertises what
// the other Dex tests count on.
func TestDexDiscovery(t *testing.T) {
	t.Parallel()
	d := needDex(t)
	t.Logf("Dex: %s", d.version)
	r := plainDo(t, "GET", d.issuer+"/.well-known/openid-configuration", "", "", nil)
	if r.status != 200 {
		t.Fatalf("discovery: %d %s", r.status, r.body)
	}
	var disc struct {
		discovery
		AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
		PKCE        []string `json:"code_challenge_methods_supported"`
		GrantTypes  []string `json:"grant_types_supported"`
		Revocation  string   `json:"revocation_endpoint"`
	}
	if err := json.Unmarshal([]byte(r.body), &disc); err != nil {
		t.Fatal(err)
	}
	t.Logf("Dex discovery: %s", r.body)
	if disc.Issuer != d.issuer {
		t.Errorf("issuer %q, want %q", disc.Issuer, d.issuer)
	}
	if !strings.HasPrefix(disc.TokenEndpoint, d.issuer+"/") || !strings.HasPrefix(disc.AuthorizationEndpoint, d.issuer+"/") {
		t.Errorf("endpoints outside the issuer (the proxy would not see them): %s %s", disc.AuthorizationEndpoint, disc.TokenEndpoint)
	}
	for _, m := range []string{authBasic, authPost} {
		if !slices.Contains(disc.AuthMethods, m) {
			t.Errorf("token_endpoint_auth_methods_supported %v lacks %s", disc.AuthMethods, m)
		}
	}
	if !slices.Contains(disc.PKCE, "S256") {
		t.Errorf("code_challenge_methods_supported %v lacks S256", disc.PKCE)
	}
	if !slices.Contains(disc.GrantTypes, "refresh_token") {
		t.Errorf("grant_types_supported %v lacks refresh_token", disc.GrantTypes)
	}
	// What the logout test relies on: there is no end_session_endpoint
	// (nor revocation endpoint) to send the browser or the tokens to.
	if disc.EndSessionEndpoint != "" || disc.Revocation != "" {
		t.Logf("this Dex has end_session_endpoint %q, revocation_endpoint %q: TestDexLogout expects neither", disc.EndSessionEndpoint, disc.Revocation)
	}
}

// dexLogin opens startURL (a protected page of an app) in the browser,
// which must land on Dex's login form, logs in as the slot's user and
// returns the page the browser ends on, back on an app.
func dexLogin(t *testing.T, d *dexProvider, b *tab, startURL string, s *slot, shot string) (pageState, *flow) {
	t.Helper()
	b.navigate(startURL)
	first, err := b.state()
	if err == nil && !strings.HasPrefix(first.URL, d.issuer+"/") {
		t.Fatalf("GET %s without a session ended on %s, want Dex's login page:\n%s", startURL, first.URL, first.Text)
	}
	f := &flow{user: dexUserOf(s).email, password: dexPassword, done: onAnyApp, shotLogin: shot}
	st := b.drive(f, 45*time.Second)
	if !f.sawLogin {
		t.Errorf("Dex did not ask for a login")
	}
	return st, f
}

// checkDexClaims checks the claims the app shows for the slot's user, and
// returns their sub (Dex's: the user ID and connector, encoded).
func checkDexClaims(t *testing.T, d *dexProvider, s *slot, claims map[string]any) string {
	t.Helper()
	u := dexUserOf(s)
	sub, _ := claims["sub"].(string)
	if sub == "" {
		t.Errorf("claims without sub: %v", claims)
	}
	if claims["email"] != u.email {
		t.Errorf("claims: email = %v, want %s (claims %v)", claims["email"], u.email, claims)
	}
	if claims["name"] != u.username {
		t.Errorf("claims: name = %v, want %q", claims["name"], u.username)
	}
	if iss, ok := claims["iss"]; ok && iss != d.issuer {
		t.Errorf("claims: iss = %v, want %s", iss, d.issuer)
	}
	switch aud := claims["aud"].(type) {
	case nil:
	case string:
		if aud != s.clientID() {
			t.Errorf("claims: aud = %v, want %s", aud, s.clientID())
		}
	case []any:
		if !slices.Contains(aud, any(s.clientID())) {
			t.Errorf("claims: aud = %v, want it to hold %s", aud, s.clientID())
		}
	}
	return sub
}

// dexSession starts the app at Dex in the slot name, logs a user in
// through the browser at /me and checks the claims Dex gave; the calls Dex
// saw are logged when the test fails.
func dexSession(t *testing.T, name string) (d *dexProvider, s *slot, a *app, b *tab, sub string) {
	t.Helper()
	d = needDexApp(t)
	s = d.slot(t, name)
	start := time.Now()
	a = startAppAt(t, d.issuer, appConfig{slot: s})
	b = newTab(t)
	t.Cleanup(func() {
		if t.Failed() {
			d.logCalls(t, start)
		}
	})
	st, _ := dexLogin(t, d, b, a.origin+"/me", s, "")
	if st.URL != a.origin+"/me" {
		t.Fatalf("after login the browser is on %s:\n%s", st.URL, st.Text)
	}
	return d, s, a, b, checkDexClaims(t, d, s, b.pageJSON())
}

// TestDexLogin logs in at Dex through the browser with each kind of client
// Dex has: confidential clients authenticating with client_secret_basic
// and with client_secret_post, and a public client (no secret, PKCE).
func TestDexLogin(t *testing.T) {
	t.Parallel()
	d := needDexApp(t)
	for _, kind := range []string{"basic", "post", "public"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			s := d.slot(t, "dex-"+kind)
			start := time.Now()
			a := startAppAt(t, d.issuer, appConfig{slot: s})
			b := newTab(t)
			defer func() {
				if t.Failed() {
					d.logCalls(t, start)
				}
			}()

			st, _ := dexLogin(t, d, b, a.origin+"/me?x=1", s, "dex-login-page")
			if want := a.origin + "/me?x=1"; st.URL != want {
				b.screenshot("wrong-page")
				t.Fatalf("after login the browser is on %s, want %s:\n%s", st.URL, want, st.Text)
			}
			b.screenshot("claims-page")
			sub := checkDexClaims(t, d, s, b.pageJSON())

			r := b.open(a.origin + "/api/me")
			if r.Status != 200 || !strings.Contains(r.ContentType, "json") {
				t.Fatalf("GET /api/me after login: %d %s %q", r.Status, r.ContentType, r.Body)
			}
			if got := jsonObject(t, "/api/me", r.Body)["sub"]; got != sub {
				t.Errorf("GET /api/me: sub = %v, want %s", got, sub)
			}
			b.navigate(a.origin + "/")
			if text := b.text(); !strings.Contains(text, dexUserOf(s).username) {
				t.Errorf("GET / when logged in does not show the user's name %q:\n%s", dexUserOf(s).username, text)
			}

			// The browser's authorization request asked for PKCE S256.
			auths := d.calls.filter(func(c dexCall) bool { return c.Path == "/auth" && c.ClientID == s.clientID() })
			if len(auths) == 0 || auths[0].CodeChallengeMethod != "S256" {
				t.Errorf("authorization requests %v, want code_challenge_method S256", auths)
			}
			// The code was exchanged once, with the configured method and
			// the code_verifier, and Dex accepted it.
			reqs := d.tokenCalls(s.clientID(), "")
			if len(reqs) != 1 {
				t.Fatalf("the app made %d token requests, want 1: %v", len(reqs), reqs)
			}
			tr := reqs[0]
			if tr.GrantType != "authorization_code" || tr.Status != 200 {
				t.Errorf("token request: %v", tr)
			}
			if tr.Auth != s.auth {
				t.Errorf("the app authenticated with %s at Dex's token endpoint, want %s", tr.Auth, s.auth)
			}
			if !tr.CodeVerifier {
				t.Errorf("the token request had no code_verifier: the app did not use PKCE")
			}
			if tr.RefreshOut == "" {
				t.Errorf("Dex issued no refresh token (offline_access)")
			}
		})
	}
}

// basicAuth is the credentials of client_secret_basic (RFC 6749 2.3.1).
func basicAuth(id, secret string) string {
	return base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
}
