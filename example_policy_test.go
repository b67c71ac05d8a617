package oidcauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/internal/apptest"
	"github.com/oidcauth/oidcauth/oidctest"
)

// Per-route policy: multi-factor for payments, a recent login for the
// password change, a group for the admin pages. A session without the acr
// is stepped up: to the provider with acr_values, and back.
func ExampleAuth_RequireACR() {
	t := exampleT{}
	op, err := oidctest.NewProvider(oidctest.Config{User: oidctest.User{Subject: "alice", Claims: map[string]any{"groups": []string{"staff"}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	app := httptest.NewUnstartedServer(nil)
	defer app.Close()
	auth, err := oidcauth.New(context.Background(), op.Issuer,
		oidcauth.WithClientID("client"), oidcauth.WithClientSecret("secret"),
		oidcauth.WithRedirectURL("http://"+app.Listener.Addr().String()+"/callback"),
	)
	if err != nil {
		t.Fatal(err)
	}
	me := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := oidcauth.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "%s acr=%q", c.Subject, c.ACR)
	})

	app.Config.Handler = policyRoutes(auth, me)
	app.Start()

	b := oidctest.NewBrowser(t, app.URL)
	b.Login(op, "/me")
	fmt.Println(b.Get("/me").Body)
	b.Login(op, "/pay") // the step-up: to the provider with acr_values=urn:mfa, and back
	fmt.Println(b.Get("/pay").Body)
	fmt.Println(b.Get("/password").Body)
	fmt.Println(b.Get("/admin").StatusCode)
	// Output:
	// alice acr=""
	// alice acr="urn:mfa"
	// alice acr="urn:mfa"
	// 403
}

// A resource server's RFC 9470 challenge: Client's call fails with a
// *StepUpError, and HandleError turns it into a step-up login for a page,
// and a 401 with a login URL for an API client.
func ExampleStepUpError() {
	t := exampleT{}
	op, err := oidctest.NewProvider(oidctest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_user_authentication", acr_values="urn:mfa"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer api.Close()
	app := httptest.NewUnstartedServer(nil)
	defer app.Close()
	auth, err := oidcauth.New(context.Background(), op.Issuer,
		oidcauth.WithClientID("client"), oidcauth.WithClientSecret("secret"),
		oidcauth.WithRedirectURL("http://"+app.Listener.Addr().String()+"/callback"),
	)
	if err != nil {
		t.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /callback", auth.CallbackHandler())
	mux.Handle("GET /login", auth.LoginHandler())
	mux.Handle("GET /orders", auth.Require(orders(auth, api.URL)))
	app.Config.Handler = mux
	app.Start()

	b := oidctest.NewBrowser(t, app.URL)
	b.Login(op, "/login?return_to=/me")
	page := b.Get("/orders")
	authorize, _ := url.Parse(page.Header.Get("Location"))
	fmt.Println(page.StatusCode, authorize.Query().Get("acr_values"))
	call := b.Do(http.MethodGet, "/orders", oidctest.APICall, nil)
	fmt.Println(call.StatusCode, call.Header.Get("WWW-Authenticate") != "")
	// Output:
	// 302 urn:mfa
	// 401 true
}

func policyRoutes(auth *oidcauth.Auth, me http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /callback", auth.CallbackHandler())
	mux.Handle("GET /me", auth.Require(me))
	mux.Handle("GET /pay", auth.RequireACR("urn:mfa")(me))
	mux.Handle("GET /password", auth.RequireFreshLogin(5*time.Minute)(me))
	mux.Handle("GET /admin", auth.RequireClaim("groups", "admins")(me))
	return mux
}

func orders(auth *oidcauth.Auth, apiURL string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		resp, err := auth.Client(r).Get(apiURL + "/orders")
		if err != nil {
			auth.HandleError(w, r, err) // a *StepUpError: a step-up login, or 401 with a login_url
			return
		}
		defer resp.Body.Close()
		// ...
	}
}

// TestREADMEPolicySnippets keeps README.md's "Per-route policy" snippets
// the code of the Examples above.
func TestREADMEPolicySnippets(t *testing.T) {
	apptest.CheckSnippet(t, "README.md", "Per-route policy", 0, "example_policy_test.go")
	apptest.CheckSnippet(t, "README.md", "Per-route policy", 1, "example_policy_test.go")
}
