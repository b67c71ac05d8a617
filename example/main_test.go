package main

import (
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidctest"
)

func TestAnonymous(t *testing.T) {
	a := startApp(t, nil)

	resp, body := a.get("/", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `<a href="/login?return_to=/">`) {
		t.Errorf("GET /: %d, want 200 with a login link:\n%s", resp.StatusCode, body)
	}
	if resp, _ := a.get("/nothing-here", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nothing-here: %d, want 404", resp.StatusCode)
	}

	for _, accept := range []string{"application/json", "text/html,application/xhtml+xml,*/*;q=0.8"} {
		for _, path := range []string{"/api/me", "/api/userinfo"} {
			resp, body := a.get(path, map[string]string{"Accept": accept})
			if v := wantJSON(t, resp, body, http.StatusUnauthorized); v["error"] == nil {
				t.Errorf("GET %s (Accept %s): body %s has no error", path, accept, body)
			}
		}
	}

	resp, _ = a.get("/me", map[string]string{"Accept": "text/html"})
	a.wantRedirect(resp, a.issuer+"/authorize?")

	resp, _ = a.get("/login?return_to=/me", nil)
	a.wantRedirect(resp, a.issuer+"/authorize?")

	// A logout token that is not a JWT: 400 with a JSON error.
	resp, body = a.do(http.MethodPost, "/backchannel-logout", url.Values{"logout_token": {"x"}}, nil)
	if v := wantJSON(t, resp, body, http.StatusBadRequest); v["error"] == nil {
		t.Errorf("POST /backchannel-logout: %s", body)
	}
}

func TestLoginAndLogout(t *testing.T) {
	a := startApp(t, nil)

	resp, body := a.login("/me", "alice")
	claims := wantJSON(t, resp, body, http.StatusOK)
	if claims["sub"] != "alice" || claims["iss"] != a.issuer {
		t.Errorf("GET /me claims: %v", claims)
	}

	resp, body = a.get("/api/me", map[string]string{"Accept": "application/json"})
	if claims := wantJSON(t, resp, body, http.StatusOK); claims["sub"] != "alice" {
		t.Errorf("GET /api/me claims: %v", claims)
	}
	_, body = a.get("/", nil)
	if !strings.Contains(body, "<strong>Alice Example</strong>") ||
		!strings.Contains(body, `<form method="post" action="/logout"><button>Log out</button></form>`) {
		t.Errorf("GET / after login: want the name and a logout form:\n%s", body)
	}
	// Userinfo from the provider, with the session's access token.
	resp, body = a.get("/api/userinfo", nil)
	if v := wantJSON(t, resp, body, http.StatusOK); v["sub"] != "alice" {
		t.Errorf("GET /api/userinfo: %s", body)
	}

	// A cross-origin POST cannot log the user out.
	resp, _ = a.do(http.MethodPost, "/logout", url.Values{}, map[string]string{
		"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site",
	})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin POST /logout: %d, want 403", resp.StatusCode)
	}
	if resp, _ := a.get("/api/me", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /api/me after a refused logout: %d, want 200", resp.StatusCode)
	}

	resp, _ = a.do(http.MethodPost, "/logout", url.Values{}, map[string]string{"Origin": a.url})
	endSession := a.wantRedirect(resp, a.issuer+"/end_session?")
	q, _ := url.Parse(endSession)
	if got := q.Query().Get("post_logout_redirect_uri"); got != a.url+"/" {
		t.Errorf("post_logout_redirect_uri = %q, want %q", got, a.url+"/")
	}
	if q.Query().Get("id_token_hint") == "" {
		t.Error("the logout redirect has no id_token_hint")
	}
	resp, _ = a.get(endSession, nil)
	back := a.wantRedirect(resp, a.url+"/?state=")
	// GET / checks the state and drops it from the URL.
	resp, _ = a.get(back, nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != "/" {
		t.Errorf("GET %s: %d to %q, want 302 to /", back, resp.StatusCode, loc)
	}
	if _, body := a.get("/", nil); !strings.Contains(body, "You have been logged out.") {
		t.Errorf("GET / after the provider's logout: no logged-out note:\n%s", body)
	}
	if _, body := a.get("/", nil); strings.Contains(body, "You have been logged out.") {
		t.Error("GET / says it was logged out on every visit, not once")
	}
	// A state that is not this browser's logout's lands on / without the note.
	resp, _ = a.get("/?state=forged", nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != "/" {
		t.Errorf("GET /?state=forged: %d to %q, want 302 to /", resp.StatusCode, loc)
	}
	if _, body := a.get("/", nil); strings.Contains(body, "You have been logged out.") {
		t.Error("GET / after a forged state says it was logged out")
	}

	resp, body = a.get("/api/me", nil)
	wantJSON(t, resp, body, http.StatusUnauthorized)
	resp, _ = a.get("/me", nil)
	a.wantRedirect(resp, a.issuer+"/authorize?")
	if _, body := a.get("/", nil); !strings.Contains(body, `<a href="/login?return_to=/">`) {
		t.Errorf("GET / after logout: want the login link:\n%s", body)
	}
}

func TestHomeEscapesName(t *testing.T) {
	a := startApp(t, nil)
	name := `<script>alert("x")</script>`
	resp, body := a.login("/me", name)
	if claims := wantJSON(t, resp, body, http.StatusOK); claims["sub"] != name {
		t.Errorf("sub = %v, want %q", claims["sub"], name)
	}
	_, body = a.get("/", nil)
	if strings.Contains(body, "<script>") || !strings.Contains(body, "&lt;script&gt;") {
		t.Errorf("GET /: the name is not escaped:\n%s", body)
	}
}

// TestDevProviderLoginForm checks that the development provider's login form,
// which a person uses in the browser, posts back to the authorization
// endpoint with the authorization request's parameters.
func TestDevProviderLoginForm(t *testing.T) {
	a := startApp(t, nil)
	resp, _ := a.get("/me", nil)
	authorize := a.wantRedirect(resp, a.issuer+"/authorize?")
	resp, body := a.get(authorize, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="login"`) {
		t.Fatalf("GET the authorization endpoint: %d, want the login form:\n%s", resp.StatusCode, body)
	}
	action := a.formActionURL(resp, body)
	if action.String() != authorize {
		t.Errorf("the login form posts to\n%s\nwant\n%s", action, authorize)
	}
}

func TestLoginReturnTo(t *testing.T) {
	a := startApp(t, nil)
	resp, body := a.login("/login?return_to=/me", "bob")
	if claims := wantJSON(t, resp, body, http.StatusOK); claims["sub"] != "bob" {
		t.Errorf("GET /me claims: %v", claims)
	}
	// An open redirect is refused: the login comes back to /.
	resp, _ = a.get("/login?return_to=//evil.example/", nil)
	authorize := a.wantRedirect(resp, a.issuer+"/authorize?")
	resp, body = a.get(authorize, nil)
	resp, _ = a.do(http.MethodPost, a.formTarget(resp, body), url.Values{"login": {"bob"}}, nil)
	resp, _ = a.get(a.wantRedirect(resp, a.url+"/callback?"), nil)
	if back := a.wantRedirect(resp, a.url); back != a.url+"/" {
		t.Errorf("return_to=//evil.example/ came back to %s, want %s/", back, a.url)
	}
}

// TestClientKinds logs in with each way of authenticating the client, at
// the development provider and at a separate provider (discovery and
// endpoints given by hand), and checks what the token endpoint saw.
func TestClientKinds(t *testing.T) {
	external := func(t *testing.T, client oidctest.Client) *oidctest.Provider {
		p, err := oidctest.NewProvider(oidctest.Config{Clients: []oidctest.Client{client}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		return p
	}
	byHand := func(p *oidctest.Provider, env map[string]string) map[string]string {
		env["OIDC_AUTHORIZE_URL"] = p.Issuer + "/authorize"
		env["OIDC_TOKEN_URL"] = p.Issuer + "/token"
		env["OIDC_JWKS_URL"] = p.Issuer + "/jwks"
		env["OIDC_END_SESSION_URL"] = p.Issuer + "/end_session"
		return env
	}
	tests := []struct {
		name     string
		provider func(t *testing.T) (*oidctest.Provider, map[string]string)
		wantAuth string
	}{
		{"dev provider, public client", func(*testing.T) (*oidctest.Provider, map[string]string) {
			return nil, map[string]string{"OIDC_CLIENT_SECRET": ""}
		}, "none"},
		{"dev provider, client_secret_post", func(*testing.T) (*oidctest.Provider, map[string]string) {
			return nil, map[string]string{"OIDC_CLIENT_AUTH": "client_secret_post", "OIDC_CLIENT_ID": "mine", "OIDC_SCOPES": "openid offline_access"}
		}, "client_secret_post"},
		{"discovery, client_secret_basic", func(t *testing.T) (*oidctest.Provider, map[string]string) {
			p := external(t, oidctest.Client{ID: "app", Secret: "s3cret"})
			return p, map[string]string{"OIDC_ISSUER": p.Issuer, "OIDC_CLIENT_ID": "app", "OIDC_CLIENT_SECRET": "s3cret"}
		}, "client_secret_basic"},
		{"discovery, public client with the secret unset", func(t *testing.T) (*oidctest.Provider, map[string]string) {
			p := external(t, oidctest.Client{ID: "spa"})
			return p, map[string]string{"OIDC_ISSUER": p.Issuer, "OIDC_CLIENT_ID": "spa"}
		}, "none"},
		{"endpoints by hand, client_secret_post", func(t *testing.T) (*oidctest.Provider, map[string]string) {
			p := external(t, oidctest.Client{ID: "app", Secret: "s3cret", AuthMethod: "client_secret_post"})
			p.SetTamper(oidctest.Tamper{Metadata: func(map[string]any) { t.Error("the discovery document was fetched") }})
			return p, byHand(p, map[string]string{"OIDC_ISSUER": p.Issuer, "OIDC_CLIENT_ID": "app",
				"OIDC_CLIENT_SECRET": "s3cret", "OIDC_CLIENT_AUTH": "client_secret_post"})
		}, "client_secret_post"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, env := tt.provider(t)
			a := startApp(t, env)
			resp, body := a.login("/me", "carol")
			if claims := wantJSON(t, resp, body, http.StatusOK); claims["sub"] == nil {
				t.Errorf("GET /me claims: %v", claims)
			}
			if p != nil {
				reqs := p.TokenRequests()
				if len(reqs) != 1 || reqs[0].ClientAuth != tt.wantAuth || reqs[0].Status != http.StatusOK {
					t.Errorf("token requests %+v, want one with %s", reqs, tt.wantAuth)
				}
			}
			resp, _ = a.do(http.MethodPost, "/logout", url.Values{}, map[string]string{"Origin": a.url})
			a.wantRedirect(resp, a.issuer+"/end_session?")
			if resp, _ := a.get("/api/me", nil); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET /api/me after logout: %d, want 401", resp.StatusCode)
			}
		})
	}
}

func TestStoreUnreachable(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"SESSION_REDIS_URL":    {"SESSION_REDIS_URL": "redis://127.0.0.1:1/0"},
		"SESSION_POSTGRES_URL": {"SESSION_POSTGRES_URL": "postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=5"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := loadConfig(envOf(env))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Addr = "127.0.0.1:0"
			app, err := newApp(t.Context(), cfg, slog.New(slog.DiscardHandler))
			if err == nil {
				app.Close()
				t.Fatal("newApp succeeded with an unreachable store")
			}
			if !strings.HasPrefix(err.Error(), name+": ") || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q, want it to start with %s and hide the password", err, name)
			}
		})
	}
}

func TestProviderUnreachable(t *testing.T) {
	cfg, err := loadConfig(envOf(map[string]string{"OIDC_ISSUER": "http://127.0.0.1:1", "OIDC_CLIENT_ID": "app"}))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = "127.0.0.1:0"
	app, err := newApp(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err == nil {
		app.Close()
		t.Fatal("newApp succeeded without a provider")
	}
	if !strings.HasPrefix(err.Error(), "OIDC_ISSUER: ") {
		t.Errorf("error %q, want it to name OIDC_ISSUER", err)
	}
}

// TestStores logs in and out with sessions in Redis or Postgres, when
// EXAMPLE_TEST_REDIS_URL or EXAMPLE_TEST_POSTGRES_URL names a server to use.
func TestStores(t *testing.T) {
	for testVar, appVar := range map[string]string{
		"EXAMPLE_TEST_REDIS_URL":    "SESSION_REDIS_URL",
		"EXAMPLE_TEST_POSTGRES_URL": "SESSION_POSTGRES_URL",
	} {
		t.Run(appVar, func(t *testing.T) {
			u := os.Getenv(testVar)
			if u == "" {
				t.Skipf("%s is not set", testVar)
			}
			a := startApp(t, map[string]string{appVar: u})
			resp, body := a.login("/me", "dave")
			if claims := wantJSON(t, resp, body, http.StatusOK); claims["sub"] != "dave" {
				t.Errorf("GET /me claims: %v", claims)
			}
			var session *http.Cookie
			for _, c := range a.client.Jar.Cookies(resp.Request.URL) {
				if c.Name == "oidcauth" {
					session = c
				}
			}
			if session == nil {
				t.Fatal("no session cookie named oidcauth")
			}
			resp, _ = a.do(http.MethodPost, "/logout", url.Values{}, map[string]string{"Origin": a.url})
			a.wantRedirect(resp, a.issuer+"/end_session?")
			if resp, _ := a.get("/api/me", nil); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET /api/me after logout: %d, want 401", resp.StatusCode)
			}
		})
	}
}

// TestHome checks what the home page shows a stranger and a logged-in user.
func TestHome(t *testing.T) {
	dateRow := regexp.MustCompile(`<tr><th>exp</th><td>(\d+) <small>\((\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC)\)</small></td></tr>`)
	deadline := regexp.MustCompile(`Your session ends at <time datetime="([^"]+)">([^<]+)</time> \(in ([^)]+)\), or after 30m without a request\.`)
	tests := []struct {
		name    string
		login   bool
		want    []string
		wantNot []string
		check   func(t *testing.T, a *testApp, body string)
	}{
		{"anonymous", false, []string{
			"<p>You are not logged in.</p>",
			"This is the demo of oidcauth",
			"an embedded development provider, which accepts any user name and password",
			`<a href="/login?return_to=/">Log in</a>`,
			`<a href="/me">/me</a> is a protected page`,
		}, []string{"<table", "Your session ends", `action="/logout"`, `action="/api/userinfo"`}, nil},
		{"logged in", true, []string{
			"<p>Logged in as <strong>Alice Example</strong> at <code>",
			`<form method="get" action="/api/userinfo"><button>Refresh: call userinfo</button></form>`,
			`<form method="post" action="/logout"><button>Log out</button></form>`,
			"<tr><th>sub</th><td>alice</td></tr>",
			"<tr><th>email</th><td>alice@example.com</td></tr>",
			"<tr><th>email_verified</th><td>true</td></tr>",
		}, []string{"You are not logged in", `href="/login`}, func(t *testing.T, a *testApp, body string) {
			if !strings.Contains(body, "<tr><th>iss</th><td>"+a.issuer+"</td></tr>") {
				t.Errorf("no iss row for %s", a.issuer)
			}
			if m := dateRow.FindStringSubmatch(body); m == nil {
				t.Errorf("no exp row with its date")
			} else if sec, _ := strconv.ParseInt(m[1], 10, 64); time.Unix(sec, 0).UTC().Format("2006-01-02 15:04:05 UTC") != m[2] {
				t.Errorf("exp %s shown as %s", m[1], m[2])
			}
			m := deadline.FindStringSubmatch(body)
			if m == nil {
				t.Fatalf("no session deadline")
			}
			end, err := time.Parse(time.RFC3339, m[1])
			if left := time.Until(end); err != nil || left < 8*time.Hour-time.Minute || left > 8*time.Hour {
				t.Errorf("session deadline %q (%v), want 8 hours from now", m[1], err)
			}
			if m[2] != end.Format("2006-01-02 15:04:05 UTC") || (m[3] != "8h0m" && m[3] != "7h59m") {
				t.Errorf("session deadline shown as %q, in %q", m[2], m[3])
			}
			// The refresh button's target answers the provider's userinfo.
			resp, info := a.get("/api/userinfo", map[string]string{"Accept": "text/html"})
			if v := wantJSON(t, resp, info, http.StatusOK); v["sub"] != "alice" {
				t.Errorf("GET /api/userinfo: %s", info)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := startApp(t, nil)
			if tt.login {
				a.login("/login?return_to=/", "alice") // the page's own login link comes back to /
			}
			resp, body := a.get("/", map[string]string{"Accept": "text/html"})
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
				t.Fatalf("GET /: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(body, "<script") {
				t.Errorf("CSP %q and a script in the page", csp)
			}
			for _, s := range tt.want {
				if !strings.Contains(body, s) {
					t.Errorf("GET / does not contain %s", s)
				}
			}
			for _, s := range tt.wantNot {
				if strings.Contains(body, s) {
					t.Errorf("GET / contains %s", s)
				}
			}
			if tt.check != nil {
				tt.check(t, a, body)
			}
			if t.Failed() {
				t.Logf("GET /:\n%s", body)
			}
		})
	}
}

// TestDPoP: with OIDC_DPOP=1 the development provider requires DPoP of the
// client, so the login, userinfo and a refresh work only with proofs.
func TestDPoP(t *testing.T) {
	a := startApp(t, map[string]string{"OIDC_DPOP": "1"})
	resp, body := a.login("/me", "alice")
	if claims := wantJSON(t, resp, body, http.StatusOK); claims["sub"] != "alice" {
		t.Fatalf("GET /me claims: %v", claims)
	}
	resp, body = a.get("/api/userinfo", nil)
	if v := wantJSON(t, resp, body, http.StatusOK); v["sub"] != "alice" {
		t.Fatalf("GET /api/userinfo with DPoP: %s", body)
	}
}

// TestFrontchannelLogout follows the contract's GET /frontchannel-logout.
func TestFrontchannelLogout(t *testing.T) {
	a := startApp(t, nil)
	a.login("/me", "alice")
	resp, body := a.get("/api/me", map[string]string{"Accept": "application/json"})
	sid, _ := wantJSON(t, resp, body, http.StatusOK)["sid"].(string)
	if sid == "" {
		t.Fatalf("no sid in the claims: %s", body)
	}
	// The provider's iframe: no cookie of the app.
	get := func(q url.Values) *http.Response {
		resp, err := http.Get(a.url + "/frontchannel-logout?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, q := range []url.Values{
		{"sid": {sid}},
		{"iss": {a.issuer}},
		{"iss": {"http://127.0.0.1:1"}, "sid": {sid}},
		{"iss": {a.issuer, a.issuer}, "sid": {sid}},
	} {
		if resp := get(q); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET /frontchannel-logout?%s: %d, want 400", q.Encode(), resp.StatusCode)
		}
	}
	if resp, _ := a.get("/api/me", map[string]string{"Accept": "application/json"}); resp.StatusCode != http.StatusOK {
		t.Fatalf("a refused front-channel logout ended the session: %d", resp.StatusCode)
	}
	resp = get(url.Values{"iss": {a.issuer}, "sid": {sid}})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors "+a.issuer) || resp.Header.Get("X-Frame-Options") != "" {
		t.Fatalf("GET /frontchannel-logout: %d %v", resp.StatusCode, resp.Header)
	}
	if resp, _ := a.get("/api/me", map[string]string{"Accept": "application/json"}); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after the front-channel logout: %d, want 401", resp.StatusCode)
	}
}
