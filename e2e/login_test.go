//go:build linux

package e2e

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// sessionCookie is the name of the example's session cookie.
const sessionCookie = "oidcauth"

// appOrigins matches any app of the suite: they all listen on 127.0.0.1,
// and the provider on localhost.
func onAnyApp(st pageState) bool { return strings.HasPrefix(st.URL, "http://127.0.0.1:") }

// login opens startURL (a protected page of an app), answers the provider's
// login and consent pages as user, and returns the page the browser ends on,
// back on an app. shot names the screenshot of the login page.
func login(t *testing.T, p *oidcProvider, b *tab, startURL, user, shot string) pageState {
	t.Helper()
	b.navigate(startURL)
	first, err := b.state()
	if err == nil && !strings.HasPrefix(first.URL, p.issuer+"/") {
		t.Fatalf("GET %s without a session ended on %s, want the provider's login page:\n%s", startURL, first.URL, first.Text)
	}
	f := &flow{user: user, done: onAnyApp, shotLogin: shot}
	st := b.drive(f, 45*time.Second)
	if !f.sawLogin {
		t.Errorf("the provider did not ask for a login")
	}
	return st
}

// checkClaims checks the claims of the ID token the app shows.
func checkClaims(t *testing.T, p *oidcProvider, s *slot, claims map[string]any, user string) {
	t.Helper()
	if claims["sub"] != user {
		t.Errorf("claims: sub = %v, want %q (claims %v)", claims["sub"], user, claims)
	}
	if iss, ok := claims["iss"]; ok && iss != p.issuer {
		t.Errorf("claims: iss = %v, want %s", iss, p.issuer)
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
}

// TestLogin logs in through the browser with each kind of client: the first
// protected page asked for sends the browser to the provider, and after the
// login and consent pages the browser is back on that same page, with the
// user's claims.
func TestLogin(t *testing.T) {
	t.Parallel()
	p := needApp(t)
	for _, kind := range []string{"basic", "post", "public"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			s := p.slot(t, "login-"+kind)
			a := startApp(t, p, appConfig{slot: s})
			b := newTab(t)
			user := "alice-" + kind
			defer func() {
				if t.Failed() {
					p.logClientEvents(t, s.clientID())
				}
			}()

			st := login(t, p, b, a.origin+"/me?x=1", user, "login-page")
			if want := a.origin + "/me?x=1"; st.URL != want {
				b.screenshot("wrong-page")
				t.Fatalf("after login the browser is on %s, want %s:\n%s", st.URL, want, st.Text)
			}
			b.screenshot("claims-page")
			claims := b.pageJSON()
			checkClaims(t, p, s, claims, user)
			if claims["name"] != "E2E "+user {
				t.Errorf("claims: name = %v, want the profile claim %q", claims["name"], "E2E "+user)
			}

			r := b.open(a.origin + "/api/me")
			if r.Status != 200 || !strings.Contains(r.ContentType, "json") {
				t.Fatalf("GET /api/me after login: %d %s %q", r.Status, r.ContentType, r.Body)
			}
			if got := jsonObject(t, "/api/me", r.Body)["sub"]; got != user {
				t.Errorf("GET /api/me: sub = %v, want %s", got, user)
			}

			// The home page names the user.
			b.navigate(a.origin + "/")
			if text := b.text(); !strings.Contains(text, "E2E "+user) {
				t.Errorf("GET / when logged in does not show the user's name %q:\n%s", "E2E "+user, text)
			}

			// The token request used the registered method, with PKCE.
			reqs := p.tokenRequests(s.clientID())
			if len(reqs) == 0 {
				t.Fatalf("the provider saw no token request from %s", s.clientID())
			}
			if reqs[0].GrantType != "authorization_code" || reqs[0].Status != 200 {
				t.Errorf("first token request: %v", reqs[0])
			}
			if reqs[0].Auth != s.auth {
				t.Errorf("the app authenticated with %s at the token endpoint, want %s", reqs[0].Auth, s.auth)
			}
			if !reqs[0].CodeVerifier {
				t.Errorf("the token request had no code_verifier: the app did not use PKCE")
			}
		})
	}
}

// TestProtectedWithoutSession checks the answers of the app to a client
// with no session, without a browser.
func TestProtectedWithoutSession(t *testing.T) {
	t.Parallel()
	p := needApp(t)
	s := p.slot(t, "api")
	a := startApp(t, p, appConfig{slot: s})

	t.Run("api/me is 401 JSON", func(t *testing.T) {
		r := a.get(t, "/api/me")
		if r.status != 401 {
			t.Fatalf("GET /api/me without session: %d %q, want 401", r.status, r.body)
		}
		if loc := r.header.Get("Location"); loc != "" {
			t.Errorf("GET /api/me without session redirects to %s", loc)
		}
		if ct := r.header.Get("Content-Type"); !strings.Contains(ct, "json") {
			t.Errorf("GET /api/me without session: Content-Type %q, want JSON", ct)
		}
		jsonObject(t, "GET /api/me body", r.body)
	})

	t.Run("api/userinfo is 401", func(t *testing.T) {
		r := a.get(t, "/api/userinfo")
		if r.status != 401 {
			t.Fatalf("GET /api/userinfo without session: %d %q, want 401", r.status, r.body)
		}
	})

	t.Run("me redirects to the provider", func(t *testing.T) {
		r := a.get(t, "/me")
		if r.status != 302 && r.status != 303 {
			t.Fatalf("GET /me without session: %d, want 302", r.status)
		}
		loc, err := url.Parse(r.header.Get("Location"))
		if err != nil || !strings.HasPrefix(loc.String(), p.issuer+"/auth") {
			t.Fatalf("GET /me redirects to %q, want the authorization endpoint", r.header.Get("Location"))
		}
		q := loc.Query()
		for _, k := range []string{"state", "nonce", "code_challenge"} {
			if q.Get(k) == "" {
				t.Errorf("authorization request without %s: %s", k, loc)
			}
		}
		if q.Get("client_id") != s.clientID() || q.Get("redirect_uri") != a.origin+"/callback" || q.Get("response_type") != "code" {
			t.Errorf("authorization request: %s", loc)
		}
		if q.Get("code_challenge_method") != "S256" {
			t.Errorf("code_challenge_method %q, want S256", q.Get("code_challenge_method"))
		}
		if !strings.Contains(" "+q.Get("scope")+" ", " offline_access ") {
			t.Errorf("scope %q lacks offline_access from OIDC_SCOPES", q.Get("scope"))
		}
	})

	t.Run("callback with an unknown state is refused", func(t *testing.T) {
		r := a.get(t, "/callback?code=x&state=nope&iss="+url.QueryEscape(p.issuer))
		if r.status < 400 || r.status >= 500 {
			t.Errorf("GET /callback with a forged state: %d, want 4xx", r.status)
		}
	})

	t.Run("cross-origin logout is refused", func(t *testing.T) {
		r := plainDo(t, "POST", a.origin+"/logout", "application/x-www-form-urlencoded", "",
			map[string]string{"Origin": p.issuer, "Sec-Fetch-Site": "cross-site"})
		if r.status < 400 || r.status >= 500 {
			t.Errorf("cross-origin POST /logout: %d (Location %q), want 4xx", r.status, r.header.Get("Location"))
		}
	})

	t.Run("backchannel logout rejects a bad token", func(t *testing.T) {
		skipWithoutBackchannelLogout(t, a)
		r := plainDo(t, "POST", a.origin+"/backchannel-logout", "application/x-www-form-urlencoded", "logout_token=not.a.jwt", nil)
		if r.status != 400 {
			t.Errorf("POST /backchannel-logout with a bad token: %d %q, want 400", r.status, r.body)
		}
		r = plainDo(t, "POST", a.origin+"/backchannel-logout", "application/x-www-form-urlencoded", "", nil)
		if r.status != 400 {
			t.Errorf("POST /backchannel-logout without a token: %d %q, want 400", r.status, r.body)
		}
	})
}

// TestSessionCookie reads the app's cookies as the browser keeps them.
func TestSessionCookie(t *testing.T) {
	t.Parallel()
	p := needApp(t)
	s := p.slot(t, "cookies")
	a := startApp(t, p, appConfig{slot: s})
	b := newTab(t)

	st := login(t, p, b, a.origin+"/me", "carol", "")
	if st.URL != a.origin+"/me" {
		t.Fatalf("after login the browser is on %s:\n%s", st.URL, st.Text)
	}
	all := b.cookies(a.origin + "/")
	var names []string
	for _, c := range all {
		names = append(names, c.Name)
	}
	t.Logf("cookies the browser sends to the app: %v", names)
	c := b.cookie(a.origin+"/", sessionCookie)
	if c == nil {
		t.Fatalf("no %q cookie for the app; the browser has %v", sessionCookie, names)
	}
	if !c.HTTPOnly {
		t.Errorf("cookie %s is not HttpOnly", c.Name)
	}
	if c.SameSite != "Lax" {
		t.Errorf("cookie %s SameSite = %q, want Lax", c.Name, c.SameSite)
	}
	if c.Secure {
		t.Errorf("cookie %s is Secure on a plain-http app (the browser would not send it)", c.Name)
	}
	if c.Path != "/" {
		t.Errorf("cookie %s Path = %q, want /", c.Name, c.Path)
	}
	if c.Domain != "127.0.0.1" {
		t.Errorf("cookie %s Domain = %q, want host-only 127.0.0.1", c.Name, c.Domain)
	}
	if strings.Count(c.Value, ".") == 2 && strings.HasPrefix(c.Value, "eyJ") {
		t.Errorf("cookie %s holds a JWT, want an opaque session token", c.Name)
	}
	if js := eval[string](b, `document.cookie`); strings.Contains(js, sessionCookie+"=") {
		t.Errorf("page script can read the session cookie: %q", js)
	}
	for _, pc := range b.cookies(p.issuer + "/") {
		if pc.Name == sessionCookie {
			t.Errorf("the browser sends the app's session cookie to the provider")
		}
	}
	// No cookie of the app may be SameSite=Strict: the provider's redirect
	// back is a cross-site navigation, which would not carry it.
	for _, ac := range all {
		if ac.SameSite == "Strict" {
			t.Errorf("app cookie %s is SameSite=Strict", ac.Name)
		}
	}
}

// TestExplicitLogin starts the login at /login?return_to=...: the browser
// comes back to that path, and never to another origin.
func TestExplicitLogin(t *testing.T) {
	t.Parallel()
	p := needApp(t)
	s := p.slot(t, "login-explicit")
	a := startApp(t, p, appConfig{slot: s})
	b := newTab(t)
	user := "bob"

	b.navigate(a.origin + "/login?return_to=" + url.QueryEscape("/me?y=2"))
	f := &flow{user: user, done: onAnyApp}
	st := b.drive(f, 45*time.Second)
	if want := a.origin + "/me?y=2"; st.URL != want {
		t.Fatalf("login with return_to=/me?y=2 ended on %s, want %s:\n%s", st.URL, want, st.Text)
	}
	checkClaims(t, p, s, b.pageJSON(), user)

	// Already logged in at the provider: no login page this time, and an
	// absolute or scheme-relative return_to stays on the app.
	for _, rt := range []string{"http://localhost:1/elsewhere", "//localhost:1/elsewhere", "/\\localhost:1/elsewhere"} {
		b.navigate(a.origin + "/login?return_to=" + url.QueryEscape(rt))
		f := &flow{user: user, done: func(st pageState) bool { return !strings.HasPrefix(st.URL, p.issuer+"/") }}
		st := b.drive(f, 30*time.Second)
		if !strings.HasPrefix(st.URL, a.origin+"/") {
			t.Errorf("login with return_to=%s ended on %s, want a page of the app", rt, st.URL)
		}
	}
}
