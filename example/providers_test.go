package main

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/oidcauth/oidcauth/oidctest"
)

func TestLoadProvidersErrors(t *testing.T) {
	base := map[string]string{
		"ADDR":        "127.0.0.1:8080",
		"OIDC_ISSUER": "https://one.example", "OIDC_CLIENT_ID": "app1",
		"OIDC2_ISSUER": "https://two.example", "OIDC2_CLIENT_ID": "app2",
	}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "<unset>" {
				delete(m, kv[i])
				continue
			}
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantVar string
	}{
		{"first name uppercase", with("OIDC_PROVIDER_NAME", "Main"), "OIDC_PROVIDER_NAME"},
		{"first name with a space", with("OIDC_PROVIDER_NAME", "my idp"), "OIDC_PROVIDER_NAME"},
		{"first name too long", with("OIDC_PROVIDER_NAME", strings.Repeat("a", 33)), "OIDC_PROVIDER_NAME"},
		{"second name with a slash", with("OIDC2_NAME", "a/b"), "OIDC2_NAME"},
		{"second name starting with -", with("OIDC2_NAME", "-x"), "OIDC2_NAME"},
		{"second name is the default first", with("OIDC2_NAME", "main"), "OIDC2_NAME"},
		{"second name is the first's", with("OIDC_PROVIDER_NAME", "corp", "OIDC2_NAME", "corp"), "OIDC2_NAME"},
		{"default second name given to the first", with("OIDC_PROVIDER_NAME", "second"), "OIDC2_NAME"},
		{"issuer not a URL", with("OIDC2_ISSUER", "two"), "OIDC2_ISSUER"},
		{"issuer plain http", with("OIDC2_ISSUER", "http://two.example"), "OIDC2_ISSUER"},
		{"issuer with a fragment", with("OIDC2_ISSUER", "https://two.example/#x"), "OIDC2_ISSUER"},
		{"issuer the first's", with("OIDC2_ISSUER", "https://one.example"), "OIDC2_ISSUER"},
		{"client ID missing", with("OIDC2_CLIENT_ID", "<unset>"), "OIDC2_CLIENT_ID"},
		{"unknown auth method", with("OIDC2_CLIENT_AUTH", "tls_client_auth"), "OIDC2_CLIENT_AUTH"},
		{"private_key_jwt", with("OIDC2_CLIENT_AUTH", "private_key_jwt"), "OIDC2_CLIENT_AUTH"},
		{"basic without a secret", with("OIDC2_CLIENT_AUTH", "client_secret_basic"), "OIDC2_CLIENT_AUTH"},
		{"post with an empty secret", with("OIDC2_CLIENT_AUTH", "client_secret_post", "OIDC2_CLIENT_SECRET", ""), "OIDC2_CLIENT_AUTH"},
		{"none with a secret", with("OIDC2_CLIENT_AUTH", "none", "OIDC2_CLIENT_SECRET", "s"), "OIDC2_CLIENT_AUTH"},
		{"redirect not absolute", with("OIDC2_REDIRECT_URL", "/callback/second"), "OIDC2_REDIRECT_URL"},
		{"redirect not http", with("OIDC2_REDIRECT_URL", "ftp://127.0.0.1:8080/cb2"), "OIDC2_REDIRECT_URL"},
		{"redirect with a fragment", with("OIDC2_REDIRECT_URL", "http://127.0.0.1:8080/cb2#x"), "OIDC2_REDIRECT_URL"},
		{"redirect on another port", with("OIDC2_REDIRECT_URL", "http://127.0.0.1:9090/cb2"), "OIDC2_REDIRECT_URL"},
		{"redirect on another host", with("OIDC2_REDIRECT_URL", "http://localhost:8080/cb2"), "OIDC2_REDIRECT_URL"},
		{"redirect over https", with("OIDC2_REDIRECT_URL", "https://127.0.0.1:8080/cb2"), "OIDC2_REDIRECT_URL"},
		{"redirect the first's path", with("OIDC2_REDIRECT_URL", "http://127.0.0.1:8080/callback"), "OIDC2_REDIRECT_URL"},
		{"redirect the first's given path", with("OIDC_REDIRECT_URL", "http://127.0.0.1:8080/cb",
			"OIDC2_REDIRECT_URL", "http://127.0.0.1:8080/cb"), "OIDC2_REDIRECT_URL"},
		{"redirect at /login", with("OIDC2_REDIRECT_URL", "http://127.0.0.1:8080/login"), "OIDC2_REDIRECT_URL"},
		{"redirect at the root", with("OIDC2_REDIRECT_URL", "http://127.0.0.1:8080/"), "OIDC2_REDIRECT_URL"},
		{"redirect without a path", with("OIDC2_REDIRECT_URL", "http://127.0.0.1:8080"), "OIDC2_REDIRECT_URL"},
		{"redirect with a brace", with("OIDC2_REDIRECT_URL", "http://127.0.0.1:8080/cb/{x}"), "OIDC2_REDIRECT_URL"},
		{"first redirect at /me", with("OIDC_REDIRECT_URL", "http://127.0.0.1:8080/me"), "OIDC_REDIRECT_URL"},
		{"client ID without issuer", with("OIDC2_ISSUER", "<unset>"), "OIDC2_CLIENT_ID"},
		{"empty secret without issuer", map[string]string{"OIDC2_CLIENT_SECRET": ""}, "OIDC2_CLIENT_SECRET"},
		{"name without issuer", map[string]string{"OIDC2_NAME": "corp"}, "OIDC2_NAME"},
		{"redirect without issuer", map[string]string{"OIDC2_REDIRECT_URL": "http://127.0.0.1:8080/cb2"}, "OIDC2_REDIRECT_URL"},
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
		})
	}
}

func TestLoadProvidersDefaults(t *testing.T) {
	cfg, err := loadConfig(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ProviderName != "main" || cfg.Second != nil {
		t.Errorf("without OIDC2_ISSUER: name %q, second %+v; want main and none", cfg.ProviderName, cfg.Second)
	}

	// The development provider (no OIDC_ISSUER) and a second provider.
	cfg, err = loadConfig(envOf(map[string]string{
		"ADDR": "127.0.0.1:9000", "OIDC2_ISSUER": "https://two.example", "OIDC2_CLIENT_ID": "app2",
	}))
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.withDefaults()
	s := cfg.Second
	if cfg.ProviderName != "main" || s == nil || s.Name != "second" || s.ClientSecret != "" || s.ClientAuth != "" ||
		s.RedirectURL != "http://127.0.0.1:9000/callback/second" {
		t.Errorf("second provider defaults: name %q, %+v", cfg.ProviderName, s)
	}

	cfg, err = loadConfig(envOf(map[string]string{
		"ADDR":        "127.0.0.1:9000",
		"OIDC_ISSUER": "https://one.example", "OIDC_CLIENT_ID": "app1", "OIDC_PROVIDER_NAME": "corp",
		"OIDC2_ISSUER": "https://two.example/", "OIDC2_CLIENT_ID": "app2", "OIDC2_CLIENT_SECRET": "s2",
		"OIDC2_CLIENT_AUTH": "client_secret_post", "OIDC2_NAME": "partner_2",
	}))
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.withDefaults()
	s = cfg.Second
	if cfg.ProviderName != "corp" || s.Name != "partner_2" || s.Issuer != "https://two.example/" || s.ClientID != "app2" ||
		s.ClientSecret != "s2" || s.ClientAuth != "client_secret_post" || s.RedirectURL != "http://127.0.0.1:9000/callback/partner_2" {
		t.Errorf("second provider: name %q, %+v", cfg.ProviderName, s)
	}

	// A redirect URL given by hand, on the first's origin.
	cfg, err = loadConfig(envOf(map[string]string{
		"OIDC_REDIRECT_URL": "https://app.example/auth/one",
		"OIDC2_ISSUER":      "https://two.example", "OIDC2_CLIENT_ID": "app2", "OIDC2_REDIRECT_URL": "https://app.example/auth/two",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.withDefaults().Second.RedirectURL; got != "https://app.example/auth/two" {
		t.Errorf("OIDC2_REDIRECT_URL: %q", got)
	}
}

// twoProviders is the app with two oidctest providers, main and second,
// each with a client registered with the app's redirect URI for it and its
// back-channel logout URI. Both log in the same user, alice, so that only
// the issuer tells their sessions apart.
type twoProviders struct {
	app         *testApp
	main, other *oidctest.Provider
}

func startTwoProviders(t *testing.T) *twoProviders {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	origin := "http://" + srv.Listener.Addr().String()
	start := func(clientID, auth, callback string) *oidctest.Provider {
		p, err := oidctest.NewProvider(oidctest.Config{
			IssParameter: true,
			Clients: []oidctest.Client{{
				ID: clientID, Secret: "secret-" + clientID, AuthMethod: auth,
				RedirectURIs:         []string{origin + callback},
				BackchannelLogoutURI: origin + "/backchannel-logout",
			}},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		return p
	}
	tp := &twoProviders{main: start("app-main", "client_secret_basic", "/callback"),
		other: start("app-second", "client_secret_post", "/callback/second")}
	tp.app = serveApp(t, srv, map[string]string{
		"OIDC_ISSUER": tp.main.Issuer, "OIDC_CLIENT_ID": "app-main", "OIDC_CLIENT_SECRET": "secret-app-main",
		"OIDC2_ISSUER": tp.other.Issuer, "OIDC2_CLIENT_ID": "app-second", "OIDC2_CLIENT_SECRET": "secret-app-second",
		"OIDC2_CLIENT_AUTH": "client_secret_post",
	})
	return tp
}

// provider returns the provider called name.
func (tp *twoProviders) provider(name string) *oidctest.Provider {
	if name == "second" {
		return tp.other
	}
	return tp.main
}

// login logs browser b in at the provider called name from the chooser's
// link, and returns the claims of /api/me.
func (tp *twoProviders) login(b *testApp, name string) map[string]any {
	b.t.Helper()
	p := tp.provider(name)
	resp, body := b.get("/login?return_to=/me", nil)
	link := `href="/login?provider=` + name + `&amp;return_to=%2Fme"`
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, link) {
		b.t.Fatalf("GET /login?return_to=/me: %d, want 200 with the link %s:\n%s", resp.StatusCode, link, body)
	}
	resp, _ = b.get("/login?provider="+name+"&return_to=%2Fme", nil)
	authorize := b.wantRedirect(resp, p.Issuer+"/authorize?")
	resp, _ = b.get(authorize, nil)
	callback := "/callback"
	if name == "second" {
		callback = "/callback/second"
	}
	resp, _ = b.get(b.wantRedirect(resp, b.url+callback+"?"), nil)
	resp, _ = b.get(b.wantRedirect(resp, b.url+"/me"), nil)
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("GET /me after the login at %s: %d", name, resp.StatusCode)
	}
	resp, body = b.get("/api/me", nil)
	claims := wantJSON(b.t, resp, body, http.StatusOK)
	if claims["iss"] != p.Issuer || claims["sub"] != "alice" {
		b.t.Fatalf("logged in at %s: iss %v sub %v, want %s and alice", name, claims["iss"], claims["sub"], p.Issuer)
	}
	return claims
}

func (b *testApp) apiStatus() int {
	b.t.Helper()
	resp, _ := b.get("/api/me", nil)
	return resp.StatusCode
}

func TestTwoProviders(t *testing.T) {
	tp := startTwoProviders(t)
	anon := tp.app

	resp, body := anon.get("/", nil)
	for _, link := range []string{`href="/login?provider=main&amp;return_to=%2F"`, `href="/login?provider=second&amp;return_to=%2F"`} {
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, link) {
			t.Errorf("GET / anonymous: %d, want a link %s:\n%s", resp.StatusCode, link, body)
		}
	}
	// A protected page goes to the chooser, an API answers 401.
	resp, _ = anon.get("/me", map[string]string{"Accept": "text/html"})
	if loc := anon.wantRedirect(resp, anon.url+"/login?"); loc != anon.url+"/login?return_to=%2Fme" {
		t.Errorf("GET /me anonymous: redirect to %s, want /login?return_to=%%2Fme", loc)
	}
	resp, body = anon.get("/api/me", map[string]string{"Accept": "text/html"})
	wantJSON(t, resp, body, http.StatusUnauthorized)
	if resp, _ := anon.get("/login?provider=nope&return_to=/me", nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("GET /login?provider=nope: %d, want 400", resp.StatusCode)
	}

	atMain, atSecond := anon.browser(), anon.browser()
	tp.login(atMain, "main")
	second := tp.login(atSecond, "second")
	for name, b := range map[string]*testApp{"main": atMain, "second": atSecond} {
		_, body := b.get("/", nil)
		if want := `<strong class="provider">` + name + `</strong>`; !strings.Contains(body, want) ||
			!strings.Contains(body, "<code>"+tp.provider(name).Issuer+"</code>") {
			t.Errorf("GET / logged in at %s: want %s and its issuer:\n%s", name, want, body)
		}
	}

	// The second provider's logout token (its sid) ends its session only.
	if err := tp.other.Logout(second["sid"].(string)); err != nil {
		t.Fatal(err)
	}
	if s := atSecond.apiStatus(); s != http.StatusUnauthorized {
		t.Errorf("after the second provider's back-channel logout its session answers %d, want 401", s)
	}
	if s := atMain.apiStatus(); s != http.StatusOK {
		t.Errorf("the second provider's back-channel logout ended the main provider's session: %d", s)
	}
	// The main provider's logout of alice (sub, no sid) ends hers at main,
	// not alice's at the second provider.
	tp.login(atSecond, "second")
	if err := tp.main.LogoutSubject("alice"); err != nil {
		t.Fatal(err)
	}
	if s := atMain.apiStatus(); s != http.StatusUnauthorized {
		t.Errorf("after the main provider's back-channel logout its session answers %d, want 401", s)
	}
	if s := atSecond.apiStatus(); s != http.StatusOK {
		t.Errorf("the main provider's logout of alice ended her session at the second provider: %d", s)
	}
}

// TestTwoProvidersMixUp delivers the main provider's authorization
// response to the second provider's redirect URI: refused, and no provider
// is asked for a token.
func TestTwoProvidersMixUp(t *testing.T) {
	tp := startTwoProviders(t)
	b := tp.app.browser()
	// Once with the iss parameter made the second's (only the redirect
	// URI's binding to the main provider refuses it), once as it came.
	for _, forge := range []bool{true, false} {
		resp, _ := b.get("/login?provider=main&return_to=/me", nil)
		resp, _ = b.get(b.wantRedirect(resp, tp.main.Issuer+"/authorize?"), nil)
		callback, err := url.Parse(b.wantRedirect(resp, b.url+"/callback?"))
		if err != nil {
			t.Fatal(err)
		}
		q := callback.Query()
		if forge {
			q.Set("iss", tp.other.Issuer)
		}
		resp, body := b.get("/callback/second?"+q.Encode(), nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "issuer_mismatch") {
			t.Errorf("the main provider's response (iss %s) at the second's redirect URI: %d, want 400 issuer_mismatch:\n%s", q.Get("iss"), resp.StatusCode, body)
		}
	}
	if n := len(tp.main.TokenRequests()) + len(tp.other.TokenRequests()); n != 0 {
		t.Errorf("the providers got %d token requests, want none", n)
	}
	if s := b.apiStatus(); s != http.StatusUnauthorized {
		t.Errorf("GET /api/me after the refused responses: %d, want 401", s)
	}
}

// TestDevProviderAndSecond: the development provider is the provider
// called main, beside a second one.
func TestDevProviderAndSecond(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	other, err := oidctest.NewProvider(oidctest.Config{Clients: []oidctest.Client{{
		ID: "app-second", RedirectURIs: []string{"http://" + srv.Listener.Addr().String() + "/callback/second"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	a := serveApp(t, srv, map[string]string{"OIDC2_ISSUER": other.Issuer, "OIDC2_CLIENT_ID": "app-second", "OIDC2_CLIENT_SECRET": ""})
	resp, body := a.login("/login?provider=main&return_to=/api/me", "alice")
	if claims := wantJSON(t, resp, body, http.StatusOK); claims["iss"] != a.issuer || a.issuer == other.Issuer {
		t.Errorf("logged in at main: iss %v, want the development provider's %s", claims["iss"], a.issuer)
	}
	if _, body := a.get("/", nil); !strings.Contains(body, `<strong class="provider">main</strong>`) {
		t.Errorf("GET /: want the provider main:\n%s", body)
	}
}

func TestSecondProviderUnreachable(t *testing.T) {
	cfg, err := loadConfig(envOf(map[string]string{"OIDC2_ISSUER": "http://127.0.0.1:1", "OIDC2_CLIENT_ID": "app"}))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = "127.0.0.1:0"
	app, err := newApp(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err == nil {
		app.Close()
		t.Fatal("newApp succeeded without the second provider")
	}
	if !strings.HasPrefix(err.Error(), "OIDC2_ISSUER: ") {
		t.Errorf("error %q, want it to name OIDC2_ISSUER", err)
	}
}
