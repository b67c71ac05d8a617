package oidctest_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidctest"
)

// TestBrowserLogin walks a login through an app and an interactive
// provider (its login form filled in), then logs out.
func TestBrowserLogin(t *testing.T) {
	for _, interactive := range []bool{false, true} {
		op, err := oidctest.NewProvider(oidctest.Config{Interactive: interactive})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(op.Close)
		var handler http.Handler
		app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
		t.Cleanup(app.Close)
		auth, err := oidcauth.New(context.Background(), op.Issuer, oidcauth.WithClientID("client"),
			oidcauth.WithClientSecret("secret"), oidcauth.WithRedirectURL(app.URL+"/callback"))
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /callback", auth.CallbackHandler())
		mux.Handle("POST /logout", auth.LogoutHandler())
		mux.Handle("GET /me", auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, _ := oidcauth.ClaimsFromContext(r.Context())
			io.WriteString(w, c.Subject)
		})))
		handler = auth.LoadAndSave(mux)

		b := oidctest.NewBrowser(t, app.URL)
		b.Login(op, "/me?x=1")
		if resp := b.Get("/me?x=1"); resp.StatusCode != http.StatusOK || resp.Body != "alice" {
			t.Fatalf("interactive %v: /me %d %q", interactive, resp.StatusCode, resp.Body)
		}
		if b.Cookie(auth.SessionManager().Cookie.Name) == nil {
			t.Fatal("no session cookie")
		}
		if resp := b.Post("/logout", nil); resp.StatusCode != http.StatusFound || !resp.SetsCookie(auth.SessionManager().Cookie.Name) {
			t.Fatalf("logout: %d", resp.StatusCode)
		}
		if resp := b.Do("GET", "/me", oidctest.APICall, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("after logout: %d", resp.StatusCode)
		}
	}
}
