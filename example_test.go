package oidcauth_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidctest"
)

// The quick start: mount oidcauth's routes, protect a handler, and wrap
// everything with the session middleware.
func Example() {
	// A provider for the example; in production, your provider's issuer.
	op, err := oidctest.NewProvider(oidctest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()
	ctx := context.Background()

	auth, err := oidcauth.New(ctx, op.Issuer,
		oidcauth.WithClientID("client"),
		oidcauth.WithClientSecret("secret"),
		oidcauth.WithRedirectURL("http://127.0.0.1:8080/callback"), // open the app at this address
	)
	if err != nil {
		log.Fatal(err) // a wrong option or an unreachable provider: the message says which
	}
	me := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := oidcauth.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "hello %s", claims.Name)
	})

	mux := http.NewServeMux()
	auth.Mount(mux)                         // GET /callback, GET /login, POST /logout, POST /backchannel-logout
	mux.Handle("GET /me", auth.Require(me)) // browsers log in first, APIs get 401
	handler := auth.LoadAndSave(mux)        // http.ListenAndServe("127.0.0.1:8080", handler)

	// An anonymous browser is sent to the provider to log in.
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest("GET", "/me", nil))
	fmt.Println(rec.Code, strings.HasPrefix(rec.Header().Get("Location"), op.Issuer+"/authorize?"))

	// An API client gets 401.
	rec = httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/me", nil)
	req.Header.Set("Accept", "application/json")
	handler.ServeHTTP(rec, req)
	fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	// Output:
	// 302 true
	// 401 {"error":"login_required","error_description":"You need to log in."}
}

// Providers without a discovery document: give the endpoints by hand, each
// used exactly as written.
func ExampleWithEndpoints() {
	op, err := oidctest.NewProvider(oidctest.Config{Clients: []oidctest.Client{{ID: "app", Secret: "s", AuthMethod: "client_secret_post"}}})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()

	_, err = oidcauth.New(context.Background(), op.Issuer,
		oidcauth.WithClientID("app"),
		oidcauth.WithClientSecret("s"),
		oidcauth.WithClientAuth(oidcauth.AuthMethodPost),
		oidcauth.WithRedirectURL("https://app.example/callback"),
		oidcauth.WithEndpoints(oidcauth.Endpoints{
			Authorize: op.Issuer + "/authorize",
			Token:     op.Issuer + "/token",
			JWKS:      op.Issuer + "/jwks",
		}),
	)
	fmt.Println(err)
	// Output: <nil>
}

// Options are checked when the Auth is built; the error names the option.
func ExampleNew_badOption() {
	_, err := oidcauth.New(context.Background(), "https://idp.example",
		oidcauth.WithClientID("app"),
		oidcauth.WithRedirectURL("/callback"),
	)
	fmt.Println(err)
	// Output: oidcauth: invalid option: WithRedirectURL: "/callback" is not an absolute http(s) URL
}
