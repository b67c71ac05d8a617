//go:build linux

package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestFrontchannelLogout logs out at the provider, whose logout page renders
// the app's frontchannel_logout_uri in an iframe (iss and sid) in the real
// browser: the session ends, though the iframe is cross-site and carries no
// cookie of the app, and though the client has no back-channel logout URI.
func TestFrontchannelLogout(t *testing.T) {
	t.Parallel()
	p := needApp(t)
	s := p.slot(t, "fc-logout")
	a := startApp(t, p, appConfig{slot: s})
	b := newTab(t)
	defer func() {
		if t.Failed() {
			p.logClientEvents(t, s.clientID())
		}
	}()

	if st := login(t, p, b, a.origin+"/me", "grace", ""); st.URL != a.origin+"/me" {
		t.Fatalf("after login the browser is on %s:\n%s", st.URL, st.Text)
	}
	if r := b.open(a.origin + "/api/me"); r.Status != 200 {
		t.Fatalf("GET /api/me after login: %d", r.Status)
	}

	// Log out at the provider itself.
	b.navigate(p.issuer + "/session/end")
	f := &flow{done: func(st pageState) bool { return strings.Contains(st.URL, "/session/end/success") }}
	b.drive(f, 30*time.Second)
	if !f.sawLogoutConfirm {
		t.Errorf("the provider did not ask to confirm the logout")
	}
	if _, ok := p.events.wait(5*time.Second, forClient(s.clientID(), "frontchannel.rendered")); !ok {
		t.Fatalf("the provider's logout page rendered no front-channel iframe for %s", s.clientID())
	}
	if p.events.has(func(e event) bool { return e.ClientID == s.clientID() && strings.HasPrefix(e.Event, "backchannel.") }) {
		t.Fatal("the provider sent a back-channel logout: the test would not prove the front channel")
	}
	b.screenshot("after-frontchannel-logout")
	if r := b.open(a.origin + "/api/me"); r.Status != 401 {
		t.Errorf("GET /api/me after the front-channel logout: %d %q, want 401", r.Status, r.Body)
	}
}
