//go:build linux

package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestFAPI2Client logs in through the browser with one client that uses
// private_key_jwt, PAR (the provider requires it for the client) and DPoP
// (dpop_bound_access_tokens, nonces demanded) at once, with FAPI 2.0's
// algorithms: ES256 client assertions (token_endpoint_auth_signing_alg) and
// ES256 id_tokens (id_token_signed_response_alg), which oidcauth accepts
// because discovery lists ES256. Then userinfo, a refresh once the access
// token expired, and logout: every call that authenticates the client
// sends a client assertion, the browser goes to the authorize endpoint with
// only client_id and request_uri, the tokens are DPoP-bound to the login's
// key before and after the refresh.
func TestFAPI2Client(t *testing.T) {
	t.Parallel()
	p := needApp(t)
	s := p.slot(t, "fapi2")
	env := append(keyEnv(t, s), "OIDC_CLIENT_AUTH="+authPrivateKeyJWT, "OIDC_PAR=1", "OIDC_DPOP=1")
	a := startApp(t, p, appConfig{slot: s, env: env})
	b := newTab(t)
	defer func() {
		if t.Failed() {
			p.logClientEvents(t, s.clientID())
		}
	}()

	checkPushedLogin(t, a)
	checkClientJWKS(t, a)

	user := "fay"
	if st := login(t, p, b, a.origin+"/me", user, ""); st.URL != a.origin+"/me" {
		t.Fatalf("after login the browser is on %s:\n%s", st.URL, st.Text)
	}
	issued := codeGrantTime(t, p, s)
	checkDPoPCodeExchange(t, p, s)

	userinfo(t, b, a.origin, user, "right after login")
	jkt := dpopUserinfoJKT(t, p, s)

	sleepPastExpiry(issued)
	b.navigate(a.origin + "/")
	userinfo(t, b, a.origin, user, "after the access token expired")
	checkDPoPRefresh(t, p, s, jkt)

	// The id_tokens of the code exchange and of the refresh: ES256.
	var algs []string
	for _, r := range p.tokenRequests(s.clientID()) {
		if r.Status == 200 {
			algs = append(algs, r.IDTokenAlg)
		}
	}
	if len(algs) != 2 || algs[0] != "ES256" || algs[1] != "ES256" {
		t.Errorf("id_token algorithms of the token responses: %q, want ES256 twice", algs)
	}

	st, f := logoutFrom(t, b, a.origin)
	if !f.sawLogoutConfirm || !strings.HasPrefix(st.URL, a.origin+"/") {
		t.Errorf("logout ended on %s (confirmation seen: %v)", st.URL, f.sawLogoutConfirm)
	}
	if _, ok := p.events.wait(5*time.Second, func(e event) bool { return e.Event == "end_session.success" && e.ClientID == s.clientID() }); !ok {
		t.Errorf("the provider ended no session for %s", s.clientID())
	}
	if r := b.open(a.origin + "/api/me"); r.Status != 401 {
		t.Errorf("GET /api/me after logout: %d, want 401", r.Status)
	}

	checkClientAuth(t, p, s, true)
}
