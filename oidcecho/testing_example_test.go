package oidcecho_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidcecho"
	"github.com/oidcauth/oidcauth/oidctest"
)

// newEchoApp is the Echo application under test: its /profile page needs a
// login.
func newEchoApp(auth *oidcauth.Auth) *echo.Echo {
	e := echo.New()
	e.GET("/callback", oidcecho.Callback(auth))
	e.GET("/profile", func(c echo.Context) error {
		claims, _ := oidcecho.Claims(c)
		return c.String(http.StatusOK, "hello "+claims.Name)
	}, oidcecho.Require(auth))
	return e
}

// A test of an Echo application with the test provider of package oidctest:
// start the provider, build the app, log a user in with an
// oidctest.Browser and check the protected page.
//
// oidcauth.New needs the app's redirect URL, and the app's routes need the
// Auth that New returns: httptest.NewUnstartedServer listens at once, so its
// address is known before the handler is set and the server started.
//
// Example functions get no *testing.T, so t here is a stand-in that panics
// where a test would fail; in a test, use the test's own t.
func Example_testing() {
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
	app.Config.Handler = newEchoApp(auth)
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
