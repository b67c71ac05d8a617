//go:build linux

package e2e

import (
	"strings"
	"testing"
	"time"
)

// logoutFrom submits the logout form of the app's home page at origin, and
// answers the provider's confirmation, until the browser is back on an app.
func logoutFrom(t *testing.T, b *tab, origin string) (pageState, *flow) {
	t.Helper()
	b.navigate(origin + "/")
	own := b.clickLogout()
	t.Logf("logout: home page has its own logout form: %v", own)
	f := &flow{done: onAnyApp}
	st := b.drive(f, 30*time.Second)
	return st, f
}

// TestRPInitiatedLogout logs out from the app: the provider's end-session
// endpoint asks for confirmation, sends the browser back to the app, and the
// session is gone. A cross-site logout form does nothing.
func TestRPInitiatedLogout(t *testing.T) {
	t.Parallel()
	p := needApp(t)
	s := p.slot(t, "rp-logout")
	a := startApp(t, p, appConfig{slot: s})
	b := newTab(t)
	defer func() {
		if t.Failed() {
			p.logClientEvents(t, s.clientID())
		}
	}()

	user := "erin"
	if st := login(t, p, b, a.origin+"/me", user, ""); st.URL != a.origin+"/me" {
		t.Fatalf("after login the browser is on %s:\n%s", st.URL, st.Text)
	}

	// A page of the provider's site posts a logout form to the app: the
	// session must survive it.
	b.navigate(p.issuer + "/session/end/success")
	b.submitForm(a.origin+"/logout", nil)
	st := b.drive(&flow{done: onAnyApp}, 20*time.Second)
	t.Logf("cross-site POST /logout answered with the page %s: %.200q", st.URL, st.Text)
	b.navigate(a.origin + "/")
	if r := b.open(a.origin + "/api/me"); r.Status != 200 {
		t.Fatalf("a cross-site POST /logout ended the session: /api/me is %d", r.Status)
	}

	var f *flow
	st, f = logoutFrom(t, b, a.origin)
	if !f.sawLogoutConfirm {
		t.Errorf("the browser did not pass through the provider's logout confirmation")
	}
	if !strings.HasPrefix(st.URL, a.origin+"/") {
		t.Errorf("after logout the browser is on %s, want the app's post-logout page %s/", st.URL, a.origin)
	}
	b.screenshot("after-logout")
	if e, ok := p.events.wait(5*time.Second, func(e event) bool { return e.Event == "end_session.success" && e.ClientID == s.clientID() }); !ok {
		t.Errorf("the provider ended no session for %s (id_token_hint missing?)", s.clientID())
	} else {
		t.Logf("provider: %s", e)
	}

	if r := b.open(a.origin + "/api/me"); r.Status != 401 {
		t.Errorf("GET /api/me after logout: %d %q, want 401", r.Status, r.Body)
	}
	// A navigation to a protected page goes to the provider again, whose
	// session is gone too: it asks for the password.
	st = login(t, p, b, a.origin+"/me", user, "")
	if st.URL != a.origin+"/me" {
		t.Errorf("login after logout ended on %s", st.URL)
	}
}

// TestBackchannelLogout ends the user's session at the provider, not at the
// app: the provider posts a logout token to the app's back-channel endpoint,
// and the cookie the browser still holds no longer opens a session.
func TestBackchannelLogout(t *testing.T) {
	t.Parallel()
	p := needApp(t)
	s := p.slot(t, "bc-logout")
	a := startApp(t, p, appConfig{slot: s})
	skipWithoutBackchannelLogout(t, a)
	b := newTab(t)
	defer func() {
		if t.Failed() {
			p.logClientEvents(t, s.clientID())
		}
	}()

	user := "frank"
	if st := login(t, p, b, a.origin+"/me", user, ""); st.URL != a.origin+"/me" {
		t.Fatalf("after login the browser is on %s:\n%s", st.URL, st.Text)
	}
	before := b.cookie(a.origin+"/", sessionCookie)
	if before == nil {
		t.Fatalf("no %s cookie after login", sessionCookie)
	}

	// Log out at the provider itself.
	b.navigate(p.issuer + "/session/end")
	f := &flow{done: func(st pageState) bool { return strings.Contains(st.URL, "/session/end/success") }}
	b.drive(f, 30*time.Second)
	if !f.sawLogoutConfirm {
		t.Errorf("the provider did not ask to confirm the logout")
	}
	e, ok := p.events.wait(10*time.Second, func(e event) bool {
		return e.ClientID == s.clientID() && strings.HasPrefix(e.Event, "backchannel.")
	})
	switch {
	case !ok:
		t.Fatalf("the provider sent no back-channel logout to %s", s.clientID())
	case e.Event != "backchannel.success":
		t.Fatalf("the app refused the provider's logout token: %s", e)
	}

	b.navigate(a.origin + "/")
	after := b.cookie(a.origin+"/", sessionCookie)
	if after != nil && after.Value != before.Value {
		t.Logf("the app replaced the session cookie after the back-channel logout")
	}
	if r := b.open(a.origin + "/api/me"); r.Status != 401 {
		t.Errorf("GET /api/me with the old cookie after back-channel logout: %d %q, want 401", r.Status, r.Body)
	}
	if r := b.open(a.origin + "/api/userinfo"); r.Status != 401 {
		t.Errorf("GET /api/userinfo after back-channel logout: %d %q, want 401", r.Status, r.Body)
	}
}
