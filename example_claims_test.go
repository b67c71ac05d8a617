package oidcauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidctest"
)

// An application's own claims beside the standard ones: embed
// oidcauth.Claims in the application's struct and decode both at once.
func ExampleDecodeClaims() {
	t := exampleT{}
	op, err := oidctest.NewProvider(oidctest.Config{User: oidctest.User{Subject: "alice", Claims: map[string]any{
		"email": "alice@example.com", "email_verified": "true", // a string, as some providers send it
		"groups": []string{"admins", "staff"},
	}}})
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

	type appClaims struct {
		oidcauth.Claims
		Groups []string `json:"groups"`
	}
	mux := http.NewServeMux()
	mux.Handle("GET /callback", auth.CallbackHandler())
	mux.Handle("GET /me", auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c appClaims
		if err := oidcauth.DecodeClaims(r.Context(), &c); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"sub": c.Subject, "verified": c.EmailVerified, "groups": c.Groups})
	})))
	app.Config.Handler = mux
	app.Start()

	b := oidctest.NewBrowser(t, app.URL)
	b.Login(op, "/me")
	fmt.Print(b.Get("/me").Body)
	// Output: {"groups":["admins","staff"],"sub":"alice","verified":true}
}

// exampleT stands in for a test's *testing.T in Example functions, which
// have none: it fails the example by panicking. Its other testing.TB methods
// are not implemented.
type exampleT struct{ testing.TB }

func (exampleT) Helper()                           {}
func (exampleT) Fatal(args ...any)                 { panic(fmt.Sprint(args...)) }
func (exampleT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
