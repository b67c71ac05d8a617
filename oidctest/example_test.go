package oidctest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidctest"
)

// newApp is the application under test: its /profile page needs a login.
func newApp(auth *oidcauth.Auth) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /callback", auth.CallbackHandler())
	mux.Handle("GET /profile", auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := oidcauth.ClaimsFromContext(r.Context())
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "hello %s", claims.Name)
	})))
	return auth.LoadAndSave(mux)
}

// A test of a net/http application: start the provider, build the app,
// log a user in with a Browser and check the protected page.
//
// oidcauth.New needs the app's redirect URL, and the app's handler needs the
// Auth that New returns: httptest.NewUnstartedServer listens at once, so its
// address is known before the handler is set and the server started.
//
// Example functions get no *testing.T, so t here is a stand-in that panics
// where a test would fail; in a test, use the test's own t.
func Example() {
	t := exampleT{}

	op, err := oidctest.NewProvider(oidctest.Config{}) // the client "client"/"secret", the user alice
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()

	app := httptest.NewUnstartedServer(nil) // listening, not serving yet
	defer app.Close()
	auth, err := oidcauth.New(context.Background(), op.Issuer,
		oidcauth.WithClientID("client"),
		oidcauth.WithClientSecret("secret"),
		oidcauth.WithRedirectURL("http://"+app.Listener.Addr().String()+"/callback"),
	)
	if err != nil {
		t.Fatal(err)
	}
	app.Config.Handler = newApp(auth)
	app.Start()

	b := oidctest.NewBrowser(t, app.URL)
	b.Login(op, "/profile") // /profile, the provider, the callback, back to /profile

	resp := b.Get("/profile")
	if resp.StatusCode != http.StatusOK || resp.Body != "hello Alice Example" {
		t.Fatalf("GET /profile: %d %q", resp.StatusCode, resp.Body)
	}
	fmt.Println(resp.Body)
	// Output: hello Alice Example
}

// exampleT stands in for a test's *testing.T in Example functions, which
// have none: it fails the example by panicking. Its other testing.TB methods
// are not implemented.
type exampleT struct{ testing.TB }

func (exampleT) Helper()                           {}
func (exampleT) Fatal(args ...any)                 { panic(fmt.Sprint(args...)) }
func (exampleT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
