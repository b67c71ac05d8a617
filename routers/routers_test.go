package routers_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/internal/apptest"
	"github.com/oidcauth/oidcauth/oidctest"
)

// me answers with the user's subject and the route's id parameter, read
// with param: the claims and the router's parameters both survive Require.
func me(param func(*http.Request) string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		claims, ok := oidcauth.ClaimsFromContext(r.Context())
		if !ok {
			http.Error(w, "no claims", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"sub": claims.Subject, "email": claims.Email, "id": param(r)})
	}
}

func greet(w http.ResponseWriter, r *http.Request) {
	if claims, ok := oidcauth.ClaimsFromContext(r.Context()); ok {
		io.WriteString(w, "hello "+claims.Subject)
		return
	}
	io.WriteString(w, "hello stranger")
}

// serveMux mounts oidcauth on http.ServeMux with Go 1.22 patterns; the
// session is loaded once for every route when loadAndSave is set, and by
// each oidcauth handler otherwise.
func serveMux(loadAndSave bool) func(*oidcauth.Auth) http.Handler {
	return func(auth *oidcauth.Auth) http.Handler {
		mux := http.NewServeMux()
		mux.Handle("GET /callback", auth.CallbackHandler())
		mux.Handle("GET /login", auth.LoginHandler())
		mux.Handle("POST /logout", auth.LogoutHandler())
		id := func(r *http.Request) string { return r.PathValue("id") }
		mux.Handle("GET /me/{id}", auth.Require(me(id)))
		mux.Handle("GET /api/me/{id}", auth.Require(me(id)))
		mux.Handle("GET /{$}", auth.Optional(http.HandlerFunc(greet)))
		if loadAndSave {
			return auth.LoadAndSave(mux)
		}
		return mux
	}
}

// chiRouter mounts oidcauth on chi.
func chiRouter(auth *oidcauth.Auth) http.Handler {
	r := chi.NewRouter()
	r.Use(auth.LoadAndSave)
	r.Method(http.MethodGet, "/callback", auth.CallbackHandler())
	r.Method(http.MethodGet, "/login", auth.LoginHandler())
	r.Method(http.MethodPost, "/logout", auth.LogoutHandler())
	id := func(r *http.Request) string { return chi.URLParam(r, "id") }
	r.With(auth.Require).Get("/me/{id}", me(id))
	r.Route("/api", func(r chi.Router) {
		r.Use(auth.Require)
		r.Get("/me/{id}", me(id))
	})
	r.With(auth.Optional).Get("/", greet)
	return r
}

var routers = []struct {
	name   string
	routes func(*oidcauth.Auth) http.Handler
}{
	{"ServeMux", serveMux(false)},
	{"ServeMux in LoadAndSave", serveMux(true)},
	{"chi", chiRouter},
}

func TestAnonymous(t *testing.T) {
	for _, rt := range routers {
		t.Run(rt.name, func(t *testing.T) {
			t.Parallel()
			s := apptest.New(t, rt.routes)
			r := s.Get("/me/7")
			if loc := r.Header.Get("Location"); r.StatusCode != http.StatusFound || !strings.HasPrefix(loc, s.OP.Issuer+"/authorize?") {
				t.Errorf("GET /me/7: %d to %q, want 302 to the provider", r.StatusCode, loc)
			}
			for _, tc := range []struct {
				path   string
				header http.Header
			}{
				{"/api/me/7", oidctest.Navigation},
				{"/me/7", oidctest.APICall},
			} {
				r := s.Do("GET", tc.path, tc.header, nil)
				if r.StatusCode != http.StatusUnauthorized || r.Body != `{"error":"login_required","error_description":"You need to log in."}`+"\n" {
					t.Errorf("GET %s (Accept %s): %d %s, want 401 JSON", tc.path, tc.header.Get("Accept"), r.StatusCode, r.Body)
				}
			}
			if r := s.Get("/"); r.Body != "hello stranger" {
				t.Errorf("GET /: %q", r.Body)
			}
		})
	}
}

func TestLoginLogout(t *testing.T) {
	for _, rt := range routers {
		t.Run(rt.name, func(t *testing.T) {
			t.Parallel()
			s := apptest.New(t, rt.routes)
			s.Login("/me/7")
			want := `{"email":"alice@example.com","id":"7","sub":"alice"}` + "\n"
			for _, tc := range []struct {
				path   string
				header http.Header
			}{
				{"/me/7", oidctest.Navigation},
				{"/api/me/7", oidctest.APICall},
			} {
				r := s.Do("GET", tc.path, tc.header, nil)
				if r.StatusCode != http.StatusOK || r.Body != want {
					t.Errorf("GET %s: %d %s, want %s", tc.path, r.StatusCode, r.Body, want)
				}
			}
			if r := s.Get("/"); r.Body != "hello alice" {
				t.Errorf("GET /: %q", r.Body)
			}

			r := s.Post("/logout", nil)
			if r.StatusCode != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), s.OP.Issuer+"/end_session?") {
				t.Fatalf("logout: %d to %q", r.StatusCode, r.Header.Get("Location"))
			}
			if r := s.Do("GET", "/api/me/7", oidctest.APICall, nil); r.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET /api/me/7 after logout: %d %s", r.StatusCode, r.Body)
			}
			if r := s.Get("/"); r.Body != "hello stranger" {
				t.Errorf("GET / after logout: %q", r.Body)
			}
		})
	}
}

// The routers answer wrong methods themselves: oidcauth's handlers are
// only reached with the methods they are mounted for.
func TestMethods(t *testing.T) {
	for _, rt := range routers {
		t.Run(rt.name, func(t *testing.T) {
			t.Parallel()
			s := apptest.New(t, rt.routes)
			for _, tc := range []struct{ method, path string }{
				{"GET", "/logout"},
				{"POST", "/callback"},
			} {
				if r := s.Do(tc.method, tc.path, oidctest.Navigation, nil); r.StatusCode != http.StatusMethodNotAllowed {
					t.Errorf("%s %s: %d, want 405", tc.method, tc.path, r.StatusCode)
				}
			}
		})
	}
}
