package oidcauth

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/oidcauth/oidcauth/oidctest"
)

// patterns is a Mux that records the patterns registered on it, and
// registers them on a ServeMux too, which panics on a bad one.
type patterns struct {
	list []string
	mux  *http.ServeMux
}

func (p *patterns) Handle(pattern string, h http.Handler) {
	p.list = append(p.list, pattern)
	p.mux.Handle(pattern, h)
}

func TestMountPatterns(t *testing.T) {
	op := newProvider(t, oidctest.Config{})
	tests := []struct {
		name string
		opts []Option
		with []MountOption
		want []string
	}{
		{"defaults", nil, nil,
			[]string{"GET /callback", "GET /login", "POST /logout", "POST /backchannel-logout", "GET /frontchannel-logout"}},
		{"post-logout route of its own", []Option{WithPostLogoutRedirectURL("http://127.0.0.1:8080/logged-out")}, nil,
			[]string{"GET /callback", "GET /login", "POST /logout", "POST /backchannel-logout", "GET /frontchannel-logout", "GET /logged-out"}},
		{"post-logout URL is the landing page", []Option{WithPostLogoutRedirectURL("http://127.0.0.1:8080/")}, nil,
			[]string{"GET /callback", "GET /login", "POST /logout", "POST /backchannel-logout", "GET /frontchannel-logout"}},
		{"post-logout URL is another landing page", []Option{WithPostLogoutRedirectURL("http://127.0.0.1:8080/bye"), WithPostLogoutLanding("/bye?see=you")}, nil,
			[]string{"GET /callback", "GET /login", "POST /logout", "POST /backchannel-logout", "GET /frontchannel-logout"}},
		{"post-logout URL on another origin", []Option{WithPostLogoutRedirectURL("https://www.example.com/logged-out")}, nil,
			[]string{"GET /callback", "GET /login", "POST /logout", "POST /backchannel-logout", "GET /frontchannel-logout"}},
		{"paths moved and left out", []Option{WithRedirectURL("http://127.0.0.1:8080/auth/callback/")},
			[]MountOption{LoginPath("/auth/login"), LogoutPath(""), BackchannelLogoutPath("/auth/bcl"), FrontchannelLogoutPath("/auth/fcl")},
			[]string{"GET /auth/callback/{$}", "GET /auth/login", "POST /auth/bcl", "GET /auth/fcl"}},
		{"redirect URL without a path", []Option{WithRedirectURL("http://127.0.0.1:8080")}, []MountOption{LoginPath(""), LogoutPath(""), BackchannelLogoutPath(""), FrontchannelLogoutPath("")},
			[]string{"GET /{$}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append([]Option{WithClientID("client"), WithClientSecret("secret"), WithRedirectURL("http://127.0.0.1:8080/callback")}, tt.opts...)
			auth, err := New(context.Background(), op.Issuer, opts...)
			if err != nil {
				t.Fatal(err)
			}
			p := &patterns{mux: http.NewServeMux()}
			auth.Mount(p, tt.with...)
			if !slices.Equal(p.list, tt.want) {
				t.Fatalf("Mount registered %q, want %q", p.list, tt.want)
			}
		})
	}
}

func TestMountRefusesBadPaths(t *testing.T) {
	op := newProvider(t, oidctest.Config{})
	auth, err := New(context.Background(), op.Issuer, WithClientID("client"), WithRedirectURL("http://127.0.0.1:8080/callback"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"login", "/{id}", "/a}"} {
		func() {
			defer func() {
				if v := recover(); v == nil || !strings.Contains(fmt.Sprint(v), "LoginPath") {
					t.Errorf("Mount with LoginPath(%q): panic %v, want one naming LoginPath", path, v)
				}
			}()
			auth.Mount(http.NewServeMux(), LoginPath(path))
		}()
	}
}

// The routes Mount registers work as the handlers do one by one, beside
// the application's own, its home page included.
func TestMount(t *testing.T) {
	h := newHarness(t, oidctest.Config{})
	mux := http.NewServeMux()
	h.auth.Mount(mux)
	mux.Handle("GET /me", h.auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := ClaimsFromContext(r.Context())
		fmt.Fprint(w, "hello "+c.Subject)
	})))
	mux.Handle("GET /api/me", h.auth.Require(http.NotFoundHandler()))
	// The post-logout URL is the home page: Mount left it to the app.
	mux.Handle("GET /{$}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "home") }))
	h.app.Config.Handler = h.auth.LoadAndSave(mux)

	if resp := h.get("/login?return_to=/me"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), h.op.Issuer+"/authorize?") {
		t.Fatalf("GET /login: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	h.mustLogin("/me") // GET /callback
	if got := body(h.get("/me")); got != "hello alice" {
		t.Fatalf("GET /me after login: %q", got)
	}
	resp := postLogout(t, h.app.URL+"/backchannel-logout", logoutForm("not-a-jwt"), nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body(resp), `"error"`) {
		t.Fatalf("POST /backchannel-logout: %d %s", resp.StatusCode, body(resp))
	}
	if resp := h.get("/logout"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET /logout: %d, want 405", resp.StatusCode)
	}
	if resp := h.logout(); resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), h.op.Issuer+"/end_session?") {
		t.Fatalf("POST /logout: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	h.mustBeLoggedOut("after POST /logout")
	if got := body(h.get("/")); got != "home" {
		t.Fatalf("GET /: %q", got)
	}
}
