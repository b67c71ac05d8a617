package oidcauth

import (
	"net/http"
	"testing"

	"github.com/oidcauth/oidcauth/oidctest"
)

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
