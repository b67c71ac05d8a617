//go:build linux

package e2e

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestDexLogout logs out of the app logged in at Dex, which has no
// end_session_endpoint: the app ends its own session and sends the browser
// to /, without a visit to Dex; the next protected page goes to Dex's login
// again.
func TestDexLogout(t *testing.T) {
	t.Parallel()
	d, s, a, b, sub := dexSession(t, "dex-logout")
	if r := b.open(a.origin + "/api/me"); r.Status != 200 {
		t.Fatalf("GET /api/me after login: %d %q", r.Status, r.Body)
	}

	before := time.Now()
	st, _ := logoutFrom(t, b, a.origin)
	if st.URL != a.origin+"/" {
		t.Errorf("after logout the browser is on %s, want %s/ (Dex has no end_session_endpoint)", st.URL, a.origin)
	}
	b.screenshot("after-logout")
	if visits := d.calls.filter(func(c dexCall) bool { return c.Browser && !c.Time.Before(before) }); len(visits) > 0 {
		t.Errorf("the browser went to Dex during the logout: %v", visits)
	}
	if calls := d.calls.filter(func(c dexCall) bool { return !c.Browser && !c.Time.Before(before) }); len(calls) > 0 {
		t.Logf("the app called Dex during the logout: %v", calls)
	}
	if text := b.text(); strings.Contains(text, dexUserOf(s).username) {
		t.Errorf("the home page still names the user after logout:\n%s", text)
	}
	if r := b.open(a.origin + "/api/me"); r.Status != 401 {
		t.Errorf("GET /api/me after logout: %d %q, want 401", r.Status, r.Body)
	}
	if r := b.open(a.origin + "/api/userinfo"); r.Status != 401 {
		t.Errorf("GET /api/userinfo after logout: %d %q, want 401", r.Status, r.Body)
	}
	// Dex has no revocation endpoint either: the ended login's refresh
	// token lives on at Dex until it expires. Not the app's doing; said
	// here so that nobody counts on it.
	if codes := d.tokenCalls(s.clientID(), "authorization_code"); len(codes) == 1 && codes[0].RefreshOut != "" {
		r := plainDo(t, "POST", d.direct+dexIssuerPath+"/token", "application/x-www-form-urlencoded",
			url.Values{"grant_type": {"refresh_token"}, "refresh_token": {codes[0].RefreshOut}}.Encode(),
			map[string]string{"Authorization": "Basic " + basicAuth(s.clientID(), s.secret)})
		t.Logf("the logged-out login's refresh token at Dex: %d (200: still valid, as Dex cannot be told)", r.status)
	}

	// A protected page sends the browser to Dex again. This Dex keeps no
	// login session of its own, so it asks for the password again.
	st, f := dexLogin(t, d, b, a.origin+"/me", s, "login-again")
	if !f.sawLogin {
		t.Errorf("Dex did not ask for the password after the app's logout")
	}
	if st.URL != a.origin+"/me" {
		t.Errorf("login after logout ended on %s", st.URL)
	}
	if got := b.pageJSON()["sub"]; got != sub {
		t.Errorf("login after logout: sub %v, want %s", got, sub)
	}
	if n := len(d.tokenCalls(s.clientID(), "authorization_code")); n != 2 {
		t.Errorf("Dex saw %d code exchanges, want 2 (one per login)", n)
	}
}
