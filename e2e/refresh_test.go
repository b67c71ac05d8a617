//go:build linux

package e2e

import (
	"strings"
	"testing"
	"time"
)

// codeGrantTime returns when the provider issued the client's first tokens.
func codeGrantTime(t *testing.T, p *oidcProvider, s *slot) time.Time {
	t.Helper()
	g := p.grants(s.clientID(), "authorization_code")
	if len(g) == 0 {
		t.Fatalf("the provider issued no tokens to %s", s.clientID())
	}
	return g[len(g)-1].at()
}

// sleepPastExpiry waits until the access token issued at issued has expired.
func sleepPastExpiry(issued time.Time) {
	time.Sleep(time.Until(issued.Add(accessTokenTTL() + 1500*time.Millisecond)))
}

const userinfoFeature = "GET /api/userinfo (the session's access token, refreshed when expired)"

// userinfo asks the app's /api/userinfo from the browser, which must be on an
// app page, and checks it answers 200 with the user's sub.
func userinfo(t *testing.T, b *tab, origin, user, when string) {
	t.Helper()
	r := b.open(origin + "/api/userinfo")
	skipIfNotImplemented(t, r.Status, r.Body, userinfoFeature)
	if r.Status != 200 {
		t.Fatalf("GET /api/userinfo %s: %d %q", when, r.Status, r.Body)
	}
	if got := jsonObject(t, "/api/userinfo", r.Body)["sub"]; got != user {
		t.Errorf("GET /api/userinfo %s: sub = %v, want %s", when, got, user)
	}
}

// TestRefreshAfterExpiry waits out the access token and checks that the app
// refreshes it (once) to call the provider's userinfo endpoint.
func TestRefreshAfterExpiry(t *testing.T) {
	t.Parallel()
	p := needApp(t)
	s := p.slot(t, "refresh")
	a := startApp(t, p, appConfig{slot: s})
	b := newTab(t)
	defer func() {
		if t.Failed() {
			p.logClientEvents(t, s.clientID())
		}
	}()

	user := "dave"
	if st := login(t, p, b, a.origin+"/me", user, ""); st.URL != a.origin+"/me" {
		t.Fatalf("after login the browser is on %s:\n%s", st.URL, st.Text)
	}
	issued := codeGrantTime(t, p, s)

	userinfo(t, b, a.origin, user, "right after login")
	if n := len(p.grants(s.clientID(), "refresh_token")); n != 0 {
		t.Errorf("the app refreshed %d times before the access token (TTL %s) expired", n, accessTokenTTL())
	}

	sleepPastExpiry(issued)
	b.navigate(a.origin + "/")
	userinfo(t, b, a.origin, user, "after the access token expired")
	refreshes := p.grants(s.clientID(), "refresh_token")
	if len(refreshes) != 1 {
		t.Fatalf("the provider granted %d refreshes after expiry, want 1", len(refreshes))
	}
	if !p.events.has(func(e event) bool {
		return e.Event == "request" && e.Path == "/me" && e.ClientID == s.clientID() && e.Status == 200 && e.Time >= refreshes[0].Time
	}) {
		t.Errorf("the provider's userinfo endpoint saw no request with the refreshed token")
	}
	for _, r := range p.tokenRequests(s.clientID()) {
		if r.GrantType == "refresh_token" && r.Auth != s.auth {
			t.Errorf("the refresh request authenticated with %s, want %s", r.Auth, s.auth)
		}
	}

	// The refreshed token is kept: no second refresh for the next call.
	userinfo(t, b, a.origin, user, "once more")
	if n := len(p.grants(s.clientID(), "refresh_token")); n != 1 {
		t.Errorf("the provider granted %d refreshes, want still 1: the app did not keep the refreshed tokens", n)
	}
	if errs := p.events.filter(forClient(s.clientID(), "grant.error")); len(errs) > 0 {
		t.Errorf("token errors at the provider: %v", errs)
	}
	// The page the user sees still works.
	r := b.open(a.origin + "/api/me")
	if r.Status != 200 || !strings.Contains(r.Body, user) {
		t.Errorf("GET /api/me after the refresh: %d %q", r.Status, r.Body)
	}
}
