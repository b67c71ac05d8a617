//go:build linux

package e2e

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestDexRefresh waits out Dex's access token twice: each time the app
// refreshes it to call Dex's userinfo endpoint, and the second refresh
// sends the refresh token that the first one got, since Dex rotates them
// and refuses the old one.
func TestDexRefresh(t *testing.T) {
	t.Parallel()
	d, s, a, b, sub := dexSession(t, "dex-refresh")
	codes := d.tokenCalls(s.clientID(), "authorization_code")
	if len(codes) != 1 || codes[0].Status != 200 || codes[0].RefreshOut == "" {
		t.Fatalf("code exchange: %v, want one that brought a refresh token", codes)
	}
	rt0 := codes[0].RefreshOut

	userinfo(t, b, a.origin, sub, "right after login")
	if n := len(d.tokenCalls(s.clientID(), "refresh_token")); n != 0 {
		t.Errorf("the app refreshed %d times before the access token (TTL %s) expired", n, accessTokenTTL())
	}

	// First expiry: one refresh, with the refresh token of the login.
	sleepPastExpiry(codes[0].Time)
	b.navigate(a.origin + "/")
	userinfo(t, b, a.origin, sub, "after the access token expired")
	refreshes := d.tokenCalls(s.clientID(), "refresh_token")
	if len(refreshes) != 1 {
		t.Fatalf("the app made %d refresh requests after expiry, want 1: %v", len(refreshes), refreshes)
	}
	r1 := refreshes[0]
	switch {
	case r1.Status != 200:
		t.Fatalf("Dex refused the refresh: %v", r1)
	case r1.RefreshIn != rt0:
		t.Errorf("the refresh sent another refresh token than the login's")
	case r1.RefreshOut == "" || r1.RefreshOut == rt0:
		t.Fatalf("Dex did not rotate the refresh token (rotation is on)")
	}
	if r1.Auth != s.auth {
		t.Errorf("the refresh request authenticated with %s, want %s", r1.Auth, s.auth)
	}
	if !d.calls.hasAfter(r1.Time, func(c dexCall) bool { return c.Path == "/userinfo" && c.Bearer && c.Status == 200 }) {
		t.Errorf("Dex's userinfo endpoint saw no request with the refreshed token")
	}
	userinfo(t, b, a.origin, sub, "once more")
	if n := len(d.tokenCalls(s.clientID(), "refresh_token")); n != 1 {
		t.Errorf("the app made %d refresh requests, want still 1: it did not keep the refreshed tokens", n)
	}

	// Second expiry: the app must send the rotated token; Dex would refuse
	// the first one ("refresh token claimed twice").
	sleepPastExpiry(r1.Time)
	b.navigate(a.origin + "/")
	userinfo(t, b, a.origin, sub, "after the refreshed access token expired")
	refreshes = d.tokenCalls(s.clientID(), "refresh_token")
	if len(refreshes) != 2 {
		t.Fatalf("the app made %d refresh requests in all, want 2: %v", len(refreshes), refreshes)
	}
	r2 := refreshes[1]
	switch {
	case r2.RefreshIn != r1.RefreshOut:
		t.Errorf("the second refresh did not send the rotated refresh token (status %d %s)", r2.Status, r2.Error)
	case r2.Status != 200:
		t.Errorf("Dex refused the second refresh: %v", r2)
	case r2.RefreshOut == "" || r2.RefreshOut == r1.RefreshOut:
		t.Errorf("Dex did not rotate the refresh token again")
	}

	// Dex enforces the rotation: the login's refresh token, replayed
	// directly to Dex (not through the proxy, out of the app's sight), is
	// refused.
	replay := plainDo(t, "POST", d.direct+dexIssuerPath+"/token", "application/x-www-form-urlencoded",
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt0}, "client_id": {s.clientID()}, "client_secret": {s.secret}}.Encode(), nil)
	if replay.status != 400 || !strings.Contains(replay.body, "invalid_request") && !strings.Contains(replay.body, "invalid_grant") {
		t.Errorf("Dex took the login's refresh token after two rotations: %d %s", replay.status, replay.body)
	}

	// The session goes on.
	r := b.open(a.origin + "/api/me")
	if r.Status != 200 || !strings.Contains(r.Body, sub) {
		t.Errorf("GET /api/me after the refreshes: %d %q", r.Status, r.Body)
	}
	if errs := d.calls.filter(func(c dexCall) bool { return c.Path == "/token" && c.ClientID == s.clientID() && c.Status != 200 }); len(errs) > 0 {
		t.Errorf("token errors at Dex: %v", errs)
	}
}

// TestDexRefusedRefresh makes Dex refuse the app's refresh token: a copy of
// it, used first by someone else (this is a public client: the token is
// all it takes), rotates it away, so the app's own refresh is "claimed
// twice". A login that cannot be refreshed any more must end: the API
// answers 401 and the next page goes to Dex's login.
//
// Dex answers a dead refresh token (claimed twice, expired, revoked, or
// unknown after a restart of its memory storage) with 400 invalid_request,
// where RFC 6749 (5.2) says invalid_grant. oidcauth ends the login on
// either (it took invalid_request for a passing failure before, so such a
// login never ended: this test found it).
func TestDexRefusedRefresh(t *testing.T) {
	t.Parallel()
	d, s, a, b, sub := dexSession(t, "dex-refused")
	codes := d.tokenCalls(s.clientID(), "authorization_code")
	if len(codes) != 1 || codes[0].RefreshOut == "" {
		t.Fatalf("code exchange: %v, want one that brought a refresh token", codes)
	}

	// Someone else uses the login's refresh token, directly at Dex, once
	// the reuse interval has passed: within it, Dex hands out the same
	// token again rather than rotating it.
	time.Sleep(time.Until(codes[0].Time.Add(dexReuseInterval + 500*time.Millisecond)))
	stolen := plainDo(t, "POST", d.direct+dexIssuerPath+"/token", "application/x-www-form-urlencoded",
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {codes[0].RefreshOut}, "client_id": {s.clientID()}}.Encode(), nil)
	if stolen.status != 200 {
		t.Fatalf("the copy of the refresh token was refused: %d %s", stolen.status, stolen.body)
	}

	// Past the access token's expiry (and Dex's reuse interval), the app
	// refreshes with the token it holds, which Dex has rotated away.
	sleepPastExpiry(codes[0].Time)
	b.navigate(a.origin + "/")
	r := b.open(a.origin + "/api/userinfo")
	skipIfNotImplemented(t, r.Status, r.Body, userinfoFeature)
	refreshes := d.tokenCalls(s.clientID(), "refresh_token")
	if len(refreshes) != 1 {
		t.Fatalf("the app made %d refresh requests, want 1: %v", len(refreshes), refreshes)
	}
	refused := refreshes[0]
	if refused.Status == 200 {
		t.Fatalf("Dex took the app's rotated-away refresh token: %v", refused)
	}
	t.Logf("Dex refused the app's refresh: %d %s; the app answered GET /api/userinfo with %d %.200q", refused.Status, refused.Error, r.Status, r.Body)

	if r.Status != 401 {
		t.Fatalf("GET /api/userinfo after Dex refused the refresh token: %d %q, want 401 (the login has ended)", r.Status, r.Body)
	}
	if res := b.open(a.origin + "/api/me"); res.Status != 401 {
		t.Errorf("GET /api/me after the login ended: %d %q, want 401", res.Status, res.Body)
	}
	// The next page goes to Dex, and a new login gets the user back.
	st, _ := dexLogin(t, d, b, a.origin+"/me", s, "")
	if st.URL != a.origin+"/me" {
		t.Fatalf("the new login ended on %s", st.URL)
	}
	if got := b.pageJSON()["sub"]; got != sub {
		t.Errorf("new login: sub %v, want %s", got, sub)
	}
	if n := len(d.tokenCalls(s.clientID(), "refresh_token")); n != 1 {
		t.Errorf("the app sent the dead refresh token %d times, want once", n)
	}
}
