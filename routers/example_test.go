package routers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/go-chi/chi/v5"
	"github.com/oidcauth/oidcauth"
)

// oidcauth on the standard library's ServeMux, with Go 1.22 patterns, each
// handler mounted by hand (auth.Mount(mux) registers the first five).
func Example_serveMux() {
	auth, err := oidcauth.New(context.Background(), os.Getenv("OIDC_ISSUER"),
		oidcauth.WithClientID(os.Getenv("OIDC_CLIENT_ID")),
		oidcauth.WithClientSecret(os.Getenv("OIDC_CLIENT_SECRET")),
		oidcauth.WithRedirectURL("http://127.0.0.1:8080/callback"),
		oidcauth.WithPostLogoutRedirectURL("http://127.0.0.1:8080/logged-out"),
		oidcauth.WithAPIPrefix("/api/"),
	)
	if err != nil {
		log.Fatal(err)
	}
	me := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := oidcauth.ClaimsFromContext(r.Context())
		json.NewEncoder(w).Encode(map[string]string{"sub": claims.Subject, "email": claims.Email})
	})
	home := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if claims, ok := oidcauth.ClaimsFromContext(r.Context()); ok {
			fmt.Fprintf(w, "hello %s", claims.Name)
			return
		}
		fmt.Fprint(w, "hello stranger")
	})

	mux := http.NewServeMux()
	mux.Handle("GET /callback", auth.CallbackHandler()) // the redirect URL's path
	mux.Handle("GET /login", auth.LoginHandler())       // /login?return_to=/reports
	mux.Handle("POST /logout", auth.LogoutHandler())    // same-origin POST only
	mux.Handle("POST /backchannel-logout", auth.BackchannelLogoutHandler())
	mux.Handle("GET /logged-out", auth.PostLogoutHandler()) // the post-logout redirect URL's path
	mux.Handle("GET /me", auth.Require(me))
	mux.Handle("GET /{$}", auth.Optional(home)) // claims when logged in, anonymous otherwise
	mux.Handle("GET /api/orders/{id}", auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := oidcauth.ClaimsFromContext(r.Context())
		json.NewEncoder(w).Encode(map[string]string{"order": r.PathValue("id"), "owner": claims.Subject})
	})))
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", auth.LoadAndSave(mux)))
}

// oidcauth on chi: its handlers and middleware are net/http's.
func Example_chi() {
	auth, err := oidcauth.New(context.Background(), os.Getenv("OIDC_ISSUER"),
		oidcauth.WithClientID(os.Getenv("OIDC_CLIENT_ID")),
		oidcauth.WithClientSecret(os.Getenv("OIDC_CLIENT_SECRET")),
		oidcauth.WithRedirectURL("http://127.0.0.1:8080/callback"),
		oidcauth.WithAPIPrefix("/api/"),
	)
	if err != nil {
		log.Fatal(err)
	}

	r := chi.NewRouter()
	r.Use(auth.LoadAndSave)
	r.Method("GET", "/callback", auth.CallbackHandler())
	r.Method("GET", "/login", auth.LoginHandler())
	r.Method("POST", "/logout", auth.LogoutHandler())
	r.Method("POST", "/backchannel-logout", auth.BackchannelLogoutHandler())
	r.With(auth.Require).Get("/me", func(w http.ResponseWriter, r *http.Request) {
		claims, _ := oidcauth.ClaimsFromContext(r.Context())
		json.NewEncoder(w).Encode(map[string]string{"sub": claims.Subject, "email": claims.Email})
	})
	r.Route("/api", func(r chi.Router) {
		r.Use(auth.Require)
		r.Get("/orders/{id}", func(w http.ResponseWriter, r *http.Request) {
			claims, _ := oidcauth.ClaimsFromContext(r.Context())
			json.NewEncoder(w).Encode(map[string]string{"order": chi.URLParam(r, "id"), "owner": claims.Subject})
		})
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", r))
}
