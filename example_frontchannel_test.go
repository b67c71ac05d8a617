package oidcauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidctest"
)

// Front-channel logout: the provider's logout page frames
// /frontchannel-logout?iss=...&sid=..., which ends the sessions of that
// provider session everywhere.
func ExampleAuth_FrontchannelLogoutHandler() {
	t := exampleT{}
	op, err := oidctest.NewProvider(oidctest.Config{})
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
	mux := http.NewServeMux()
	mux.Handle("GET /callback", auth.CallbackHandler())
	// Register it at the provider as frontchannel_logout_uri, with
	// frontchannel_logout_session_required=true.
	mux.Handle("GET /frontchannel-logout", auth.FrontchannelLogoutHandler())
	mux.Handle("GET /api/me", auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := oidcauth.ClaimsFromContext(r.Context())
		fmt.Fprint(w, c.SessionID)
	})))
	app.Config.Handler = auth.LoadAndSave(mux)
	app.Start()

	b := oidctest.NewBrowser(t, app.URL)
	b.Login(op, "/api/me")
	sid := b.Do("GET", "/api/me", oidctest.APICall, nil).Body

	// What the provider's iframe requests (no cookie of the app).
	resp, err := http.Get(app.URL + "/frontchannel-logout?" + url.Values{"iss": {op.Issuer}, "sid": {sid}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Cache-Control"))
	fmt.Println(b.Do("GET", "/api/me", oidctest.APICall, nil).StatusCode)
	// Output:
	// 200 no-store
	// 401
}

// A multi-tenant provider, such as Microsoft Entra ID's organizations
// endpoint: its discovery document publishes the issuer
// https://login.microsoftonline.com/{tenantid}/v2.0, and every token must name
// an allowed tenant in tid and the tenant's issuer in iss.
func ExampleWithMultiTenantIssuer() {
	t := exampleT{}
	const contoso = "0b5d4f3e-1c2a-4b6d-8e9f-a1b2c3d4e5f6"
	op, err := oidctest.NewProvider(oidctest.Config{Tenant: contoso}) // like .../common
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	auth, err := oidcauth.New(context.Background(), op.Issuer, // the discovery URL's issuer, .../common
		oidcauth.WithClientID("client"), oidcauth.WithClientSecret("secret"),
		oidcauth.WithRedirectURL("http://127.0.0.1:8080/callback"),
		oidcauth.WithMultiTenantIssuer(contoso), // only this tenant; none listed: any
	)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(auth.Issuer() == op.TokenIssuer()[:len(op.TokenIssuer())-len(contoso)]+"{tenantid}")
	// Output: true
}
