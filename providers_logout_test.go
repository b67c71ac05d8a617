package oidcauth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/alexedwards/scs/v2/memstore"
	"github.com/oidcauth/oidcauth/oidctest"
)

// TestProvidersBackchannelLogout: each provider's logout token is verified
// against its own keys and ends only its sessions, though both providers
// call their user by the same sub.
func TestProvidersBackchannelLogout(t *testing.T) {
	t.Parallel()
	tp := newTwoProviders(t, oidctest.Config{}, oidctest.Config{})
	uri := tp.app.URL + "/backchannel-logout"
	for _, op := range []*oidctest.Provider{tp.op, tp.op2} {
		c, _ := op.Client("client")
		c.BackchannelLogoutURI = uri
		op.SetClient(c)
	}
	one, two := tp.browser(), tp.browser()
	one.loginAt("main", tp.op)
	two.loginAt("second", tp.op2)
	_, sub1 := one.sidSub()
	sid2, sub2 := two.sidSub()
	if sub1 != sub2 {
		t.Fatalf("the providers' users differ (%q, %q); the test needs one sub", sub1, sub2)
	}

	// Second's key signing a token that claims main's issuer is refused.
	forged := tp.op2.LogoutClaims("client", sub1, "")
	forged["iss"] = tp.op.Issuer
	if resp := postLogout(t, uri, logoutForm(tp.op2.SignTyped(forged, "logout+jwt")), nil); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a logout token for main signed by second: %d, want 400", resp.StatusCode)
	}
	unknown := tp.op2.LogoutClaims("client", sub1, "")
	unknown["iss"] = "https://op.invalid"
	if resp := postLogout(t, uri, logoutForm(tp.op2.SignTyped(unknown, "logout+jwt")), nil); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a logout token of an unknown issuer: %d, want 400", resp.StatusCode)
	}
	if one.apiStatus() != http.StatusOK || two.apiStatus() != http.StatusOK {
		t.Fatal("a refused logout token ended a session")
	}

	// Second's logout of its user by sub ends second's session only.
	if err := tp.op2.LogoutSubject(sub2); err != nil {
		t.Fatal(err)
	}
	if s := two.apiStatus(); s != http.StatusUnauthorized {
		t.Fatalf("second's session after second's logout: %d, want 401", s)
	}
	if s := one.apiStatus(); s != http.StatusOK {
		t.Fatalf("main's session after second's logout: %d, want 200", s)
	}
	// Front-channel: main's sid with second's issuer ends nothing; main's
	// issuer and sid end main's session, framed by main alone.
	sid1, _ := one.sidSub()
	if resp := tp.get("/frontchannel-logout?" + url.Values{"iss": {tp.op2.Issuer}, "sid": {sid1}}.Encode()); resp.StatusCode != http.StatusOK {
		t.Fatalf("front-channel logout at second: %d", resp.StatusCode)
	}
	if s := one.apiStatus(); s != http.StatusOK {
		t.Fatalf("second's front-channel logout of main's sid ended main's session: %d", s)
	}
	resp := tp.get("/frontchannel-logout?" + url.Values{"iss": {tp.op.Issuer}, "sid": {sid1}}.Encode())
	if csp := resp.Header.Get("Content-Security-Policy"); resp.StatusCode != http.StatusOK || !strings.HasSuffix(csp, "frame-ancestors "+tp.op.Issuer) {
		t.Fatalf("front-channel logout at main: %d, CSP %q", resp.StatusCode, csp)
	}
	if s := one.apiStatus(); s != http.StatusUnauthorized {
		t.Fatalf("main's session after main's front-channel logout: %d, want 401", s)
	}
	_ = sid2
}

// TestProvidersEndSessions: with several providers a sub is named with
// its issuer.
func TestProvidersEndSessions(t *testing.T) {
	t.Parallel()
	tp := newTwoProviders(t, oidctest.Config{}, oidctest.Config{})
	one, two := tp.browser(), tp.browser()
	one.loginAt("main", tp.op)
	two.loginAt("second", tp.op2)
	_, sub := one.sidSub()
	ctx := context.Background()
	if err := tp.auth.EndSessions(ctx, sub); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("EndSessions with two providers: %v, want ErrBadRequest", err)
	}
	if err := tp.auth.EndIssuerSessions(ctx, "https://op.invalid", sub); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("EndIssuerSessions of an unknown issuer: %v, want ErrBadRequest", err)
	}
	if err := tp.auth.EndIssuerSessions(ctx, tp.op2.Issuer, sub); err != nil {
		t.Fatal(err)
	}
	if one.apiStatus() != http.StatusOK || two.apiStatus() != http.StatusUnauthorized {
		t.Fatalf("after ending second's sub: main %d, second %d; want 200 and 401", one.apiStatus(), two.apiStatus())
	}
}

// TestProvidersRemovedProvider: a session of a provider the application
// no longer configures does not authenticate.
func TestProvidersRemovedProvider(t *testing.T) {
	t.Parallel()
	store := memstore.New()
	tp := newTwoProviders(t, oidctest.Config{}, oidctest.Config{}, WithSessionStore(store))
	tp.loginAt("second", tp.op2)
	one, err := New(context.Background(), tp.op.Issuer, WithClientID("client"), WithClientSecret("secret"),
		WithRedirectURL(tp.app.URL+"/callback"), WithSessionStore(store), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(one.LoadAndSave(one.Require(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))))
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/me", nil)
	req.Header.Set("Accept", "application/json")
	req.AddCookie(tp.sessionCookie())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("second's session at an app without second: %d, want 401", resp.StatusCode)
	}
}

// TestSeveralOidctestProviders: two oidctest providers run at once with
// their own issuers and keys, and each app accepts only its own provider's
// tokens.
func TestSeveralOidctestProviders(t *testing.T) {
	t.Parallel()
	one := newHarness(t, oidctest.Config{})
	two := newHarness(t, oidctest.Config{})
	if one.op.Issuer == two.op.Issuer {
		t.Fatal("the providers share an issuer")
	}
	uri := one.serveBackchannel()
	one.mustLogin("/me")
	two.mustLogin("/me")
	sid, sub := one.sidSub()
	// Signed by the second provider, with the first one's issuer: its key
	// is not in the first provider's set.
	c := two.op.LogoutClaims("client", sub, sid)
	c["iss"] = one.op.Issuer
	checkRefused(t, postLogout(t, uri, logoutForm(two.op.SignTyped(c, "logout+jwt")), nil))
	// Signed by the second provider with its own issuer.
	checkRefused(t, postLogout(t, uri, logoutForm(two.op.SignTyped(two.op.LogoutClaims("client", sub, sid), "logout+jwt")), nil))
	if s := one.apiStatus(); s != http.StatusOK {
		t.Fatalf("the other provider's logout token ended the session: %d", s)
	}
	if err := one.op.Logout(sid); err != nil {
		t.Fatal(err)
	}
	one.mustBeLoggedOut("after its own provider's logout")
	if s := two.apiStatus(); s != http.StatusOK {
		t.Fatalf("the second app's session ended: %d", s)
	}
}
