//go:build linux

package e2e

import (
	"testing"
	"time"
)

// TestDPoPWithOIDCProvider logs in through the browser with a client that
// oidc-provider registers with dpop_bound_access_tokens, nonces demanded:
// the code exchange and the refresh carry proofs (the first exchange,
// without a nonce, is refused with use_dpop_nonce and repeated once),
// token_type is DPoP, userinfo is called with the DPoP scheme and the token
// is bound to the login's key (cnf.jkt), the same key after the refresh;
// logout ends it.
func TestDPoPWithOIDCProvider(t *testing.T) {
	t.Parallel()
	p := needApp(t)
	s := p.slot(t, "dpop")
	a := startApp(t, p, appConfig{slot: s, env: []string{"OIDC_DPOP=1"}})
	b := newTab(t)
	defer func() {
		if t.Failed() {
			p.logClientEvents(t, s.clientID())
		}
	}()

	user := "dora"
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
	if errs := p.events.filter(forClient(s.clientID(), "userinfo.error")); len(errs) > 0 {
		t.Errorf("userinfo errors at the provider: %v", errs)
	}

	st, _ := logoutFrom(t, b, a.origin)
	if _, ok := p.events.wait(5*time.Second, func(e event) bool { return e.Event == "end_session.success" && e.ClientID == s.clientID() }); !ok {
		t.Errorf("the provider ended no session for %s (after logout the browser is on %s)", s.clientID(), st.URL)
	}
	if r := b.open(a.origin + "/api/me"); r.Status != 401 {
		t.Errorf("GET /api/me after logout: %d, want 401", r.Status)
	}
}

// checkDPoPCodeExchange checks the token requests of the slot's client
// after its login: the code exchange, without a nonce, refused with
// use_dpop_nonce, then repeated once and answered with a DPoP token, each
// with a proof.
func checkDPoPCodeExchange(t *testing.T, p *oidcProvider, s *slot) {
	t.Helper()
	reqs := p.tokenRequests(s.clientID())
	if len(reqs) != 2 || reqs[0].Status != 400 || reqs[0].Error != "use_dpop_nonce" || reqs[1].Status != 200 || reqs[1].TokenType != "DPoP" {
		t.Fatalf("code exchange requests %v, want use_dpop_nonce, then a DPoP token", reqs)
	}
	for _, r := range reqs {
		if !r.DPoP || r.GrantType != "authorization_code" {
			t.Errorf("a token request without a DPoP proof: %v", r)
		}
	}
}

// dpopUserinfo returns the successful userinfo calls of the slot's client.
func dpopUserinfo(p *oidcProvider, s *slot) []event {
	return p.events.filter(func(e event) bool {
		return e.Event == "request" && e.Path == "/me" && e.ClientID == s.clientID() && e.Status == 200
	})
}

// dpopUserinfoJKT checks that the client's first userinfo call used the
// DPoP scheme with a proof and a bound token, and returns the thumbprint of
// the key it is bound to (cnf.jkt).
func dpopUserinfoJKT(t *testing.T, p *oidcProvider, s *slot) string {
	t.Helper()
	calls := dpopUserinfo(p, s)
	if len(calls) == 0 || calls[0].Auth != "dpop" || !calls[0].DPoP || calls[0].JKT == "" {
		t.Fatalf("userinfo calls %v, want the DPoP scheme with a proof and a bound token", calls)
	}
	return calls[0].JKT
}

// checkDPoPRefresh checks, after a userinfo call that needed a refresh,
// that the provider granted one refresh, with a proof and answered with a
// DPoP token, and that the last userinfo call's token is bound to jkt, the
// login's key.
func checkDPoPRefresh(t *testing.T, p *oidcProvider, s *slot, jkt string) {
	t.Helper()
	if n := len(p.grants(s.clientID(), "refresh_token")); n != 1 {
		t.Fatalf("the provider granted %d refreshes, want 1", n)
	}
	var refreshed bool
	for _, r := range p.tokenRequests(s.clientID()) {
		if r.GrantType == "refresh_token" && r.Status == 200 {
			refreshed = r.DPoP && r.TokenType == "DPoP"
		}
	}
	if !refreshed {
		t.Errorf("the refresh was not DPoP: %v", p.tokenRequests(s.clientID()))
	}
	calls := dpopUserinfo(p, s)
	if last := calls[len(calls)-1]; last.JKT != jkt {
		t.Errorf("after the refresh the token is bound to %q, before to %q: the login's key changed", last.JKT, jkt)
	}
}
