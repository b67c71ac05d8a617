package oidcauth

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/oidcauth/oidcauth/oidctest"
)

func TestNewRejectsBadOptions(t *testing.T) {
	op := newProvider(t, oidctest.Config{})
	good := []Option{WithClientID("client"), WithClientSecret("secret"), WithRedirectURL("http://127.0.0.1:1/callback")}
	tests := []struct {
		name   string
		issuer string
		opts   []Option
		kind   error
		names  string // the message must name this
	}{
		{"missing client ID", op.Issuer, []Option{WithRedirectURL("http://127.0.0.1:1/cb")}, ErrInvalidOption, "WithClientID"},
		{"empty client ID", op.Issuer, []Option{WithClientID(" ")}, ErrInvalidOption, "WithClientID"},
		{"missing redirect URL", op.Issuer, []Option{WithClientID("c")}, ErrInvalidOption, "WithRedirectURL"},
		{"relative redirect URL", op.Issuer, append(good, WithRedirectURL("/callback")), ErrInvalidOption, "WithRedirectURL"},
		{"non-http redirect URL", op.Issuer, append(good, WithRedirectURL("ftp://host/cb")), ErrInvalidOption, "WithRedirectURL"},
		{"scopes without openid", op.Issuer, append(good, WithScopes("profile", "email")), ErrInvalidOption, "WithScopes"},
		{"unknown auth method", op.Issuer, append(good, WithClientAuth("private_key_jwt")), ErrInvalidOption, "WithClientAuth"},
		{"basic without secret", op.Issuer, append(good, WithClientSecret(""), WithClientAuth(AuthMethodBasic)), ErrInvalidOption, "WithClientAuth"},
		{"none with a secret", op.Issuer, append(good, WithClientAuth(AuthMethodNone)), ErrInvalidOption, "WithClientAuth"},
		{"reserved auth param", op.Issuer, append(good, WithAuthParam("state", "x")), ErrInvalidOption, "WithAuthParam"},
		{"bad session lifetime", op.Issuer, append(good, WithSessionLifetime(time.Hour, time.Minute)), ErrInvalidOption, "WithSessionLifetime"},
		{"nil session manager", op.Issuer, append(good, WithSessionManager(nil)), ErrInvalidOption, "WithSessionManager"},
		{"zero timeout", op.Issuer, append(good, WithTimeout(0)), ErrInvalidOption, "WithTimeout"},
		{"huge clock skew", op.Issuer, append(good, WithClockSkew(time.Hour)), ErrInvalidOption, "WithClockSkew"},
		{"API prefix without slash", op.Issuer, append(good, WithAPIPrefix("api")), ErrInvalidOption, "WithAPIPrefix"},
		{"relative issuer", "/issuer", good, ErrInvalidOption, "issuer"},
		{"http issuer off loopback", "http://idp.example.com", good, ErrInvalidOption, "issuer"},
		{"issuer differs from discovery", op.Issuer + "/", good, ErrDiscovery, "issuer"},
		{"discovery down", "http://127.0.0.1:1", good, ErrDiscovery, "discovery"},
		{"manual endpoints incomplete", op.Issuer, append(good, WithEndpoints(Endpoints{Authorize: op.Issuer + "/authorize"})), ErrDiscovery, "WithEndpoints"},
		{"manual endpoint off loopback over http", op.Issuer, append(good, WithEndpoints(Endpoints{
			Authorize: op.Issuer + "/authorize", Token: "http://idp.example.com/token", JWKS: op.Issuer + "/jwks"})), ErrDiscovery, "token_endpoint"},
		{"only HMAC id_tokens", op.Issuer, append(good, WithEndpoints(Endpoints{
			Authorize: op.Issuer + "/authorize", Token: op.Issuer + "/token", JWKS: op.Issuer + "/jwks", SigningAlgs: []string{"HS256", "none"}})), ErrDiscovery, "asymmetric"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(context.Background(), tt.issuer, tt.opts...)
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.names) {
				t.Fatalf("err = %v; want %v naming %q", err, tt.kind, tt.names)
			}
		})
	}
}

func TestAuthMethodChoice(t *testing.T) {
	tests := []struct {
		name      string
		supported []string // nil: not advertised
		secret    string
		explicit  AuthMethod
		want      AuthMethod
		wantErr   bool
	}{
		{"basic preferred", []string{"client_secret_post", "client_secret_basic"}, "s", "", AuthMethodBasic, false},
		{"post only", []string{"client_secret_post", "private_key_jwt"}, "s", "", AuthMethodPost, false},
		{"not advertised, secret", nil, "s", "", AuthMethodBasic, false},
		{"no secret", []string{"client_secret_basic"}, "", "", AuthMethodNone, false},
		{"explicit overrides", []string{"client_secret_basic"}, "s", AuthMethodPost, AuthMethodPost, false},
		{"nothing usable", []string{"private_key_jwt"}, "s", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &metadata{TokenEndpointAuthMethods: tt.supported}
			got, err := m.chooseAuthMethod(tt.explicit, tt.secret, false)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("got %q, %v; want %q (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestManualEndpoints puts the provider behind the URL layouts of real
// providers without discovery. The proxy answers only the exact paths, so a
// login proves each is used as given, trailing slash included.
func TestManualEndpoints(t *testing.T) {
	layouts := []struct {
		name                  string
		authorize, token, jwk string
		client                oidctest.Client
		opts                  []Option
	}{
		{"Identity Hub", "/acme/oauth2/v1/auth/", "/acme/oauth2/v1/token/", "/acme/oauth2/v1/keys/",
			oidctest.Client{ID: "c", Secret: "s"}, []Option{WithClientID("c"), WithClientSecret("s")}},
		{"PingOne", "/5f1c/as/authorize", "/5f1c/as/token", "/5f1c/as/jwks",
			oidctest.Client{ID: "c", Secret: "s", AuthMethod: "client_secret_post"},
			[]Option{WithClientID("c"), WithClientSecret("s"), WithClientAuth(AuthMethodPost)}},
		{"Nevis", "/auth/oauth2/authorize", "/auth/oauth2/token", "/auth/oauth2/jwks",
			oidctest.Client{ID: "c", Secret: "s"}, []Option{WithClientID("c"), WithClientSecret("s"), WithScopes("openid", "offline_access")}},
		{"Next Identity public client", "/authorize", "/token", "/keys",
			oidctest.Client{ID: "pub", AuthMethod: "none"}, []Option{WithClientID("pub"), WithClientSecret("")}},
	}
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			op := newProvider(t, oidctest.Config{Clients: []oidctest.Client{l.client}})
			target := mustParse(op.Issuer)
			proxy := httputil.NewSingleHostReverseProxy(target)
			var mu sync.Mutex
			seen := map[string]int{}
			routes := map[string]string{l.authorize: "/authorize", l.token: "/token", l.jwk: "/jwks"}
			gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				to, ok := routes[r.URL.Path]
				if !ok {
					http.NotFound(w, r)
					return
				}
				mu.Lock()
				seen[r.URL.Path]++
				mu.Unlock()
				r.URL.Path = to
				proxy.ServeHTTP(w, r)
			}))
			t.Cleanup(gw.Close)
			opts := append([]Option{WithEndpoints(Endpoints{
				Authorize: gw.URL + l.authorize, Token: gw.URL + l.token, JWKS: gw.URL + l.jwk,
			})}, l.opts...)
			h := newHarnessWith(t, op, opts...)
			if op.Hits("/.well-known/openid-configuration") != 0 {
				t.Fatal("discovery was fetched despite WithEndpoints")
			}
			u := h.startLogin("/me")
			if u.Path != l.authorize || !strings.HasPrefix(u.String(), gw.URL) {
				t.Fatalf("authorize URL %s, want path %s", u, l.authorize)
			}
			h.mustLoginCallback(h.get(u.String()).Header.Get("Location"))
			if h.apiStatus() != http.StatusOK {
				t.Fatal("not logged in")
			}
			mu.Lock()
			defer mu.Unlock()
			if seen[l.token] != 1 || seen[l.jwk] != 1 {
				t.Fatalf("requests by path: %v", seen)
			}
		})
	}
}

func TestCookieDefaults(t *testing.T) {
	op := newProvider(t, oidctest.Config{})
	for _, tt := range []struct {
		redirect string
		name     string
		secure   bool
	}{
		{"https://app.example/callback", "__Host-oidcauth", true},
		{"http://127.0.0.1:8080/callback", "oidcauth", false},
	} {
		a, err := New(context.Background(), op.Issuer, WithClientID("client"), WithClientSecret("secret"), WithRedirectURL(tt.redirect))
		if err != nil {
			t.Fatal(err)
		}
		c := a.SessionManager().Cookie
		if c.Name != tt.name || c.Secure != tt.secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
			t.Errorf("%s: cookie %+v", tt.redirect, c)
		}
		if a.idle != DefaultIdleTimeout || a.SessionManager().Lifetime != DefaultLifetime {
			t.Errorf("%s: lifetimes %v %v", tt.redirect, a.idle, a.SessionManager().Lifetime)
		}
		// The login cookie too.
		rec := httptest.NewRecorder()
		a.LoginHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/login", nil))
		lc := rec.Result().Cookies()
		if len(lc) != 1 || !strings.HasPrefix(lc[0].Name, cookieName("oidcauth_login_", tt.secure)) || lc[0].Secure != tt.secure ||
			!lc[0].HttpOnly || lc[0].SameSite != http.SameSiteLaxMode || lc[0].Path != "/" || lc[0].MaxAge != 600 {
			t.Errorf("%s: login cookie %+v", tt.redirect, lc)
		}
	}
}

func TestOwnSessionManager(t *testing.T) {
	op := newProvider(t, oidctest.Config{})
	sm := scs.New()
	sm.Cookie.HttpOnly = false
	sm.Cookie.SameSite = http.SameSiteNoneMode
	var logs bytes.Buffer
	a, err := New(context.Background(), op.Issuer, WithClientID("client"), WithClientSecret("secret"),
		WithRedirectURL("https://app.example/callback"), WithSessionManager(sm),
		WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if a.SessionManager() != sm || sm.Cookie.HttpOnly || sm.Cookie.Name != "session" {
		t.Fatal("the application's manager was changed")
	}
	for _, setting := range []string{"Cookie.HttpOnly", "Cookie.SameSite", "Cookie.Secure", "Cookie.Name", "IdleTimeout"} {
		if !strings.Contains(logs.String(), setting) {
			t.Errorf("no warning for %s:\n%s", setting, logs.String())
		}
	}
	// And a login through it works.
	h := newHarnessWith(t, op, WithSessionManager(scs.New()))
	h.mustLogin("/me")
}

// TestInsecureHTTP: plain http off loopback only with the explicit option.
func TestInsecureHTTP(t *testing.T) {
	for _, tt := range []struct {
		url      string
		insecure bool
		ok       bool
	}{
		{"https://idp.example.com/token", false, true},
		{"http://127.0.0.1:9000/token", false, true},
		{"http://localhost/token", false, true},
		{"http://idp.example.com/token", false, false},
		{"http://idp.example.com/token", true, true},
		{"ftp://idp.example.com/token", true, false},
		{"/token", true, false},
	} {
		if err := checkEndpoint(tt.url, tt.insecure); (err == nil) != tt.ok {
			t.Errorf("checkEndpoint(%q, insecure=%v) = %v, want ok=%v", tt.url, tt.insecure, err, tt.ok)
		}
	}
	var c config
	if err := WithInsecureHTTP()(&c); err != nil || !c.insecureHTTP {
		t.Fatalf("WithInsecureHTTP: %v %v", err, c.insecureHTTP)
	}
}
