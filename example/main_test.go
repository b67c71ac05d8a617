package main

import (
	"encoding/json"
	"errors"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidctest"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestLoadConfigErrors(t *testing.T) {
	issuer := map[string]string{"OIDC_ISSUER": "https://idp.example", "OIDC_CLIENT_ID": "app"}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantVar string
		wantMsg string // the whole message, when not empty
		secret  string // must not appear in the message
	}{
		{"addr without port", with(nil, "ADDR", "localhost"), "ADDR", "", ""},
		{"addr with a named port", with(nil, "ADDR", "127.0.0.1:http"), "ADDR", "", ""},
		{"issuer not a URL", with(nil, "OIDC_ISSUER", "idp", "OIDC_CLIENT_ID", "app"), "OIDC_ISSUER", "", ""},
		{"issuer plain http", with(nil, "OIDC_ISSUER", "http://idp.example", "OIDC_CLIENT_ID", "app"), "OIDC_ISSUER", "", ""},
		{"issuer with query", with(nil, "OIDC_ISSUER", "https://idp.example/?a=b", "OIDC_CLIENT_ID", "app"), "OIDC_ISSUER", "", ""},
		{"issuer without client", with(nil, "OIDC_ISSUER", "https://idp.example"), "OIDC_CLIENT_ID", "", ""},
		{"unknown auth method", with(nil, "OIDC_CLIENT_AUTH", "private_key_jwt"), "OIDC_CLIENT_AUTH", "", ""},
		{"none with a secret", with(nil, "OIDC_CLIENT_AUTH", "none", "OIDC_CLIENT_SECRET", "s"), "OIDC_CLIENT_AUTH", "", ""},
		{"post with an empty secret", with(nil, "OIDC_CLIENT_AUTH", "client_secret_post", "OIDC_CLIENT_SECRET", ""), "OIDC_CLIENT_AUTH", "", ""},
		{"basic without a secret", with(issuer, "OIDC_CLIENT_AUTH", "client_secret_basic"), "OIDC_CLIENT_AUTH", "", ""},
		{"redirect not absolute", with(nil, "OIDC_REDIRECT_URL", "foo"), "OIDC_REDIRECT_URL",
			`OIDC_REDIRECT_URL: "foo" is not an absolute http(s) URL`, ""},
		{"redirect not http", with(nil, "OIDC_REDIRECT_URL", "ftp://app.example/callback"), "OIDC_REDIRECT_URL", "", ""},
		{"redirect with fragment", with(nil, "OIDC_REDIRECT_URL", "https://app.example/callback#x"), "OIDC_REDIRECT_URL", "", ""},
		{"post-logout relative", with(nil, "OIDC_POST_LOGOUT_REDIRECT_URL", "/bye"), "OIDC_POST_LOGOUT_REDIRECT_URL", "", ""},
		{"scopes without openid", with(nil, "OIDC_SCOPES", "profile email"), "OIDC_SCOPES", "", ""},
		{"endpoints without issuer", with(nil, "OIDC_AUTHORIZE_URL", "https://idp.example/auth",
			"OIDC_TOKEN_URL", "https://idp.example/token", "OIDC_JWKS_URL", "https://idp.example/jwks"), "OIDC_AUTHORIZE_URL", "", ""},
		{"token endpoint without authorize", with(issuer, "OIDC_TOKEN_URL", "https://idp.example/token"), "OIDC_TOKEN_URL", "", ""},
		{"authorize without jwks", with(issuer, "OIDC_AUTHORIZE_URL", "https://idp.example/auth",
			"OIDC_TOKEN_URL", "https://idp.example/token"), "OIDC_JWKS_URL", "", ""},
		{"jwks plain http", with(issuer, "OIDC_AUTHORIZE_URL", "https://idp.example/auth",
			"OIDC_TOKEN_URL", "https://idp.example/token", "OIDC_JWKS_URL", "http://idp.example/jwks"), "OIDC_JWKS_URL", "", ""},
		{"end session not a URL", with(issuer, "OIDC_AUTHORIZE_URL", "https://idp.example/auth",
			"OIDC_TOKEN_URL", "https://idp.example/token", "OIDC_JWKS_URL", "https://idp.example/jwks",
			"OIDC_END_SESSION_URL", "logout"), "OIDC_END_SESSION_URL", "", ""},
		{"redis wrong scheme", with(nil, "SESSION_REDIS_URL", "http://127.0.0.1:6379"), "SESSION_REDIS_URL", "", ""},
		{"redis bad URL", with(nil, "SESSION_REDIS_URL", "redis://u:hunter2@127.0.0.1:6379/x y"), "SESSION_REDIS_URL", "", "hunter2"},
		{"postgres bad URL", with(nil, "SESSION_POSTGRES_URL", "postgres://u:hunter2@127.0.0.1:notaport/db"), "SESSION_POSTGRES_URL", "", "hunter2"},
		{"two stores", with(nil, "SESSION_REDIS_URL", "redis://127.0.0.1:6379/0",
			"SESSION_POSTGRES_URL", "postgres://127.0.0.1/db"), "SESSION_POSTGRES_URL", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(envOf(tt.env))
			var ce *configError
			if !errors.As(err, &ce) {
				t.Fatalf("loadConfig(%v) = %v, want an error naming %s", tt.env, err, tt.wantVar)
			}
			if ce.Var != tt.wantVar || !strings.HasPrefix(err.Error(), tt.wantVar+": ") {
				t.Errorf("error %q names %s, want %s", err, ce.Var, tt.wantVar)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("error %q, want %q", err, tt.wantMsg)
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := loadConfig(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:8080" || cfg.Issuer != "" || cfg.SecretSet || cfg.Endpoints != nil ||
		strings.Join(cfg.Scopes, " ") != "openid profile email" {
		t.Errorf("defaults: %+v", cfg)
	}
	cfg = cfg.withDefaults()
	if cfg.RedirectURL != "http://127.0.0.1:8080/callback" || cfg.PostLogoutRedirectURL != "http://127.0.0.1:8080/" {
		t.Errorf("default URLs: %q, %q", cfg.RedirectURL, cfg.PostLogoutRedirectURL)
	}

	cfg, err = loadConfig(envOf(map[string]string{"OIDC_CLIENT_SECRET": "", "ADDR": ""}))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.SecretSet || cfg.ClientSecret != "" || cfg.Addr != "127.0.0.1:8080" {
		t.Errorf("OIDC_CLIENT_SECRET set to empty: %+v", cfg)
	}

	cfg, err = loadConfig(envOf(map[string]string{
		"OIDC_ISSUER": "https://idp.example/tenant", "OIDC_CLIENT_ID": "app", "OIDC_CLIENT_SECRET": "s",
		"OIDC_CLIENT_AUTH": "client_secret_post", "OIDC_SCOPES": " openid  offline_access ",
		"OIDC_REDIRECT_URL":  "https://app.example/callback",
		"OIDC_AUTHORIZE_URL": "https://idp.example/tenant/auth/", "OIDC_TOKEN_URL": "https://idp.example/tenant/token/",
		"OIDC_JWKS_URL": "https://idp.example/tenant/jwks", "OIDC_END_SESSION_URL": "https://idp.example/tenant/logout",
	}))
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.withDefaults()
	if cfg.ClientAuth != "client_secret_post" || strings.Join(cfg.Scopes, ",") != "openid,offline_access" ||
		cfg.Endpoints == nil || cfg.Endpoints.Authorize != "https://idp.example/tenant/auth/" ||
		cfg.Endpoints.EndSession != "https://idp.example/tenant/logout" || cfg.Endpoints.UserInfo != "" ||
		cfg.PostLogoutRedirectURL != "http://127.0.0.1:8080/" {
		t.Errorf("full configuration: %+v, endpoints %+v", cfg, cfg.Endpoints)
	}
}

func TestBaseURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080",
		":8080":          "http://127.0.0.1:8080",
		"0.0.0.0:8080":   "http://127.0.0.1:8080",
		"[::]:8080":      "http://[::1]:8080",
		"localhost:80":   "http://localhost:80",
	} {
		if got := baseURL(addr); got != want {
			t.Errorf("baseURL(%q) = %q, want %q", addr, got, want)
		}
	}
}

// testApp is the example app served by httptest, and a browser-like client
// with a cookie jar that follows no redirect by itself.
type testApp struct {
	t      *testing.T
	url    string // http://127.0.0.1:PORT, no trailing slash
	issuer string
	client *http.Client
}

func startApp(t *testing.T, env map[string]string) *testApp {
	t.Helper()
	cfg, err := loadConfig(envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	cfg.Addr = srv.Listener.Addr().String()
	app, err := newApp(t.Context(), cfg, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	srv.Config.Handler = app.Handler
	srv.Start()
	t.Cleanup(srv.Close)
	if app.URL != srv.URL+"/" {
		t.Errorf("app.URL = %q, want %q", app.URL, srv.URL+"/")
	}
	jar, _ := cookiejar.New(nil)
	return &testApp{t: t, url: srv.URL, issuer: app.Issuer, client: &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// do sends a request (a form POST when form is not nil) and returns the
// response with its body read.
func (a *testApp) do(method, target string, form url.Values, header map[string]string) (*http.Response, string) {
	a.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = a.url + target
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(a.t.Context(), method, target, body)
	if err != nil {
		a.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatalf("%s %s: reading the body: %v", method, target, err)
	}
	return resp, string(b)
}

func (a *testApp) get(target string, header map[string]string) (*http.Response, string) {
	a.t.Helper()
	return a.do(http.MethodGet, target, nil, header)
}

// wantRedirect checks that resp is a 302 to a URL that starts with prefix
// and returns the absolute target.
func (a *testApp) wantRedirect(resp *http.Response, prefix string) string {
	a.t.Helper()
	loc, err := resp.Location()
	if resp.StatusCode != http.StatusFound || err != nil {
		a.t.Fatalf("%s %s: %d (Location %q), want 302", resp.Request.Method, resp.Request.URL, resp.StatusCode, resp.Header.Get("Location"))
	}
	if !strings.HasPrefix(loc.String(), prefix) {
		a.t.Fatalf("%s %s: redirect to %s, want %s...", resp.Request.Method, resp.Request.URL, loc, prefix)
	}
	return loc.String()
}

var formAction = regexp.MustCompile(`<form method="post" action="([^"]*)"`)

// formActionURL returns the absolute URL the provider's login page posts
// its form to, as a browser would compute it.
func (a *testApp) formActionURL(resp *http.Response, body string) *url.URL {
	a.t.Helper()
	m := formAction.FindStringSubmatch(body)
	if m == nil {
		a.t.Fatalf("the provider's login page has no form:\n%s", body)
	}
	action, err := resp.Request.URL.Parse(html.UnescapeString(m[1]))
	if err != nil {
		a.t.Fatalf("the login form's action %q: %v", m[1], err)
	}
	return action
}

// formTarget returns where to post the provider's login form: its action.
func (a *testApp) formTarget(resp *http.Response, body string) string {
	a.t.Helper()
	return a.formActionURL(resp, body).String()
}

// login logs in from a protected page or from /login?return_to=..., through
// the development provider's form when it shows one, and returns the
// response of the page it comes back to.
func (a *testApp) login(start, user string) (*http.Response, string) {
	a.t.Helper()
	resp, _ := a.get(start, nil)
	authorize := a.wantRedirect(resp, a.issuer+"/authorize?")
	resp, body := a.get(authorize, nil)
	if resp.StatusCode == http.StatusOK {
		action := a.formTarget(resp, body)
		resp, _ = a.do(http.MethodPost, action, url.Values{"login": {user}, "password": {"dev"}}, nil)
	}
	callback := a.wantRedirect(resp, a.url+"/callback?")
	resp, _ = a.get(callback, nil)
	back := a.wantRedirect(resp, a.url+"/")
	want, _ := url.Parse(start)
	wantBack := want.RequestURI()
	if want.Path == "/login" {
		wantBack = want.Query().Get("return_to")
	}
	if back != a.url+wantBack {
		a.t.Fatalf("after the callback: redirect to %s, want %s", back, a.url+wantBack)
	}
	return a.get(back, nil)
}

func wantJSON(t *testing.T, resp *http.Response, body string, status int) map[string]any {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s %s: %d %s, want %d", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, body, status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s %s: Content-Type %q, want JSON", resp.Request.Method, resp.Request.URL.Path, ct)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%s %s: body %q is not a JSON object: %v", resp.Request.Method, resp.Request.URL.Path, body, err)
	}
	return v
}

func TestAnonymous(t *testing.T) {
	a := startApp(t, nil)

	resp, body := a.get("/", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `<a href="/login?return_to=/me">`) {
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
	a.wantRedirect(resp, a.url+"/?state=")

	resp, body = a.get("/api/me", nil)
	wantJSON(t, resp, body, http.StatusUnauthorized)
	resp, _ = a.get("/me", nil)
	a.wantRedirect(resp, a.issuer+"/authorize?")
	if _, body := a.get("/", nil); !strings.Contains(body, "/login?return_to=/me") {
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
