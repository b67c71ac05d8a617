package oidcauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidctest"
)

// Two providers in one app: the company's SSO and a partner's. An
// anonymous page goes to the login chooser; each login comes back to its
// own redirect URL, and the session belongs to its provider.
func ExampleWithProvider() {
	t := exampleT{}
	company, err := oidctest.NewProvider(oidctest.Config{User: oidctest.User{Subject: "alice"}})
	if err != nil {
		t.Fatal(err)
	}
	defer company.Close()
	partner, err := oidctest.NewProvider(oidctest.Config{User: oidctest.User{Subject: "bob"}})
	if err != nil {
		t.Fatal(err)
	}
	defer partner.Close()
	app := httptest.NewUnstartedServer(nil)
	defer app.Close()
	base := "http://" + app.Listener.Addr().String()
	auth, err := oidcauth.New(context.Background(), company.Issuer,
		oidcauth.WithProviderName("company"),
		oidcauth.WithClientID("client"), oidcauth.WithClientSecret("secret"),
		oidcauth.WithRedirectURL(base+"/callback"),
		oidcauth.WithProvider("partner", partner.Issuer,
			oidcauth.WithClientID("client"), oidcauth.WithClientSecret("secret"),
			oidcauth.WithRedirectURL(base+"/callback/partner")),
	)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	auth.Mount(mux)
	mux.Handle("/me", auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := oidcauth.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "%s from %s", c.Subject, auth.ProviderName(r))
	})))
	app.Config.Handler = auth.LoadAndSave(mux)
	app.Start()

	b := oidctest.NewBrowser(t, app.URL)
	fmt.Println(b.Get("/me").Header.Get("Location"))
	chooser := b.Get("/login?return_to=/me").Body
	fmt.Println(strings.Count(chooser, `<a href="/login?provider=`))
	b.Login(partner, "/login?provider=partner&return_to=/me")
	fmt.Println(b.Get("/me").Body)
	// Output:
	// /login?return_to=%2Fme
	// 2
	// bob from partner
}
