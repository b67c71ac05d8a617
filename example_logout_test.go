package oidcauth_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidctest"
)

// Logout that lands somewhere: the provider sends the browser back to
// /logged-out with the logout's state, PostLogoutHandler checks it and
// redirects to the landing path, "/", whose handler says once that the
// user has logged out.
func ExampleAuth_PostLogoutHandler() {
	t := exampleT{}
	op, err := oidctest.NewProvider(oidctest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	app := httptest.NewUnstartedServer(nil)
	defer app.Close()
	base := "http://" + app.Listener.Addr().String()
	auth, err := oidcauth.New(context.Background(), op.Issuer,
		oidcauth.WithClientID("client"), oidcauth.WithClientSecret("secret"),
		oidcauth.WithRedirectURL(base+"/callback"),
		oidcauth.WithPostLogoutRedirectURL(base+"/logged-out"), // registered at the provider
	)
	if err != nil {
		t.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /callback", auth.CallbackHandler())
	mux.Handle("POST /logout", auth.LogoutHandler())
	mux.Handle("GET /logged-out", auth.PostLogoutHandler())
	mux.Handle("GET /me", auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello")
	})))
	mux.Handle("GET /{$}", auth.Optional(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if auth.LoggedOut(w, r) { // before the body: it forgets the mark
			fmt.Fprint(w, "You have been logged out. ")
		}
		fmt.Fprint(w, "Welcome.")
	})))
	app.Config.Handler = auth.LoadAndSave(mux)
	app.Start()

	b := oidctest.NewBrowser(t, app.URL)
	b.Login(op, "/me")
	resp := b.Post("/logout", nil)            // to the provider's end_session_endpoint
	resp = b.Get(resp.Header.Get("Location")) // the provider: back to /logged-out?state=...
	resp = b.Get(resp.Header.Get("Location")) // PostLogoutHandler: the state is right
	fmt.Println(resp.Header.Get("Location"))  // the landing path, without the state
	fmt.Println(b.Get("/").Body)              // says it once
	fmt.Println(b.Get("/").Body)
	fmt.Println(b.Get("/logged-out?state=forged").Header.Get("Location")) // a wrong state: no error page
	fmt.Println(b.Get("/").Body)
	// Output:
	// /
	// You have been logged out. Welcome.
	// Welcome.
	// /
	// Welcome.
}

// Mount with a route moved and one left out: the login handler at
// /auth/login, no back-channel logout.
func ExampleAuth_Mount() {
	op, err := oidctest.NewProvider(oidctest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()
	auth, err := oidcauth.New(context.Background(), op.Issuer,
		oidcauth.WithClientID("client"), oidcauth.WithClientSecret("secret"),
		oidcauth.WithRedirectURL("http://127.0.0.1:8080/auth/callback"),
	)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	auth.Mount(mux, oidcauth.LoginPath("/auth/login"), oidcauth.BackchannelLogoutPath(""))

	for _, target := range []string{"/auth/login?return_to=/reports", "/auth/callback?state=forged", "/login"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
		fmt.Println(target, rec.Code)
	}
	// Output:
	// /auth/login?return_to=/reports 302
	// /auth/callback?state=forged 400
	// /login 404
}
