//go:build linux

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// stepUpACR is the acr the test provider gives a login that asks for it
// (server.mjs, PROVIDER_CONFIG.stepUpACRs).
const stepUpACR = "urn:oidcauth:e2e:mfa"

// TestStepUp: a password login, then GET /step-up asks oidc-provider for
// the stronger acr; its login page comes again, and the login that comes
// back carries the acr, for the same user.
func TestStepUp(t *testing.T) {
	t.Parallel()
	p := needApp(t)
	s := p.slot(t, "step-up")
	a := startApp(t, p, appConfig{slot: s, env: []string{"OIDC_STEP_UP_ACR=" + stepUpACR}})
	b := newTab(t)
	defer func() {
		if t.Failed() {
			p.logClientEvents(t, s.clientID())
		}
	}()
	user := "alice-step-up"
	if st := login(t, p, b, a.origin+"/me", user, ""); st.URL != a.origin+"/me" {
		t.Fatalf("after the password login the browser is on %s", st.URL)
	}
	if acr := b.pageJSON()["acr"]; acr == stepUpACR {
		t.Fatalf("the password login already has the acr %v", acr)
	}
	st := login(t, p, b, a.origin+"/step-up", user, "step-up-login")
	if st.URL != a.origin+"/step-up" {
		b.screenshot("step-up-wrong-page")
		t.Fatalf("after the step-up the browser is on %s:\n%s", st.URL, st.Text)
	}
	claims := b.pageJSON()
	if claims["acr"] != stepUpACR || claims["sub"] != user {
		t.Fatalf("after the step-up: acr %v, sub %v", claims["acr"], claims["sub"])
	}
	if !p.events.has(forClient(s.clientID(), "step_up")) {
		t.Error("the provider did not give the step-up acr")
	}
	// The session is the stepped-up one: the page lets it through at once.
	if r := b.open(a.origin + "/step-up"); r.Status != 200 || r.URL != a.origin+"/step-up" {
		t.Fatalf("GET /step-up again: %d on %s", r.Status, r.URL)
	}
}

// TestSilentLogin: with OIDC_SILENT_LOGIN=1, GET / tries prompt=none once.
// Without a session at oidc-provider it comes back anonymous, with no
// error page, and does not try again; with one, the browser is logged in
// without a click.
func TestSilentLogin(t *testing.T) {
	t.Parallel()
	p := needApp(t)
	s := p.slot(t, "silent")
	a := startApp(t, p, appConfig{slot: s, env: []string{"OIDC_SILENT_LOGIN=1"}})
	defer func() {
		if t.Failed() {
			p.logClientEvents(t, s.clientID())
		}
	}()
	loginRequired := func(e event) bool {
		return e.Event == "authorization.error" && e.ClientID == s.clientID() && strings.Contains(e.Error, "login_required")
	}

	t.Run("without a provider session", func(t *testing.T) {
		b := newTab(t)
		r := b.open(a.origin + "/")
		if r.Status != 200 || r.URL != a.origin+"/" || !strings.Contains(r.Body, "Log in") {
			b.screenshot("silent-anonymous")
			t.Fatalf("GET / with a silent login and no provider session: %d on %s:\n%s", r.Status, r.URL, r.Body)
		}
		tries := len(p.events.filter(loginRequired))
		if tries == 0 {
			t.Fatal("the provider saw no prompt=none request answered login_required")
		}
		if r := b.open(a.origin + "/"); r.URL != a.origin+"/" || !strings.Contains(r.Body, "Log in") {
			t.Fatalf("GET / again: on %s:\n%s", r.URL, r.Body)
		}
		if again := len(p.events.filter(loginRequired)); again != tries {
			t.Fatalf("a second silent try: %d login_required answers, want %d", again, tries)
		}
	})

	t.Run("with a provider session", func(t *testing.T) {
		b := newTab(t)
		user := "alice-silent"
		if st := login(t, p, b, a.origin+"/me", user, ""); st.URL != a.origin+"/me" {
			t.Fatalf("after login the browser is on %s", st.URL)
		}
		// A new browser session for the app only: its cookies go, the
		// provider's stay.
		ctx, cancel := b.actx(10 * time.Second)
		defer cancel()
		for _, name := range []string{sessionCookie, "oidcauth_silent"} {
			if _, err := chromedp.Call(ctx, network.DeleteCookies, network.DeleteCookiesParams{Name: name, URL: a.origin + "/"}); err != nil {
				t.Fatal(err)
			}
		}
		if r := b.open(a.origin + "/api/me"); r.Status != 401 {
			t.Fatalf("GET /api/me without the app's cookie: %d", r.Status)
		}
		r := b.open(a.origin + "/")
		if r.URL != a.origin+"/" || !strings.Contains(r.Body, "E2E "+user) {
			b.screenshot("silent-login")
			t.Fatalf("GET / with a provider session: on %s, want the user's name:\n%s", r.URL, r.Body)
		}
	})
}
