package oidcauth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oidcauth/oidcauth/oidctest"
)

// newPostLogoutHarness is a harness whose post-logout redirect URL, /, is
// its home page, which passes the requests with a state to
// PostLogoutHandler (as its doc shows); /logged-out is the handler alone.
func newPostLogoutHarness(t *testing.T, opts ...Option) *harness {
	t.Helper()
	h := newHarness(t, oidctest.Config{}, opts...)
	routes, postLogout := h.app.Config.Handler, h.auth.PostLogoutHandler()
	h.app.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/logged-out" || r.URL.Path == "/" && r.URL.Query().Has("state") {
			postLogout.ServeHTTP(w, r)
			return
		}
		routes.ServeHTTP(w, r)
	})
	return h
}

// loggedOut asks the landing page's question, LoggedOut, for h's browser,
// and keeps the cookies it sets.
func (h *harness) loggedOut() bool {
	h.t.Helper()
	u := mustParse(h.app.URL + "/")
	req := httptest.NewRequest(http.MethodGet, u.String(), nil)
	for _, c := range h.client.Jar.Cookies(u) {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	got := h.auth.LoggedOut(rec, req)
	h.client.Jar.SetCookies(u, rec.Result().Cookies())
	return got
}

func TestPostLogout(t *testing.T) {
	h := newPostLogoutHarness(t)
	h.mustLogin("/me")
	resp := h.logout()
	endSession := mustParse(resp.Header.Get("Location"))
	state := endSession.Query().Get("state")
	if resp.StatusCode != http.StatusFound || state == "" || endSession.Query().Get("post_logout_redirect_uri") != h.app.URL+"/" {
		t.Fatalf("logout: %d to %s", resp.StatusCode, endSession)
	}
	if h.loggedOut() {
		t.Fatal("LoggedOut before the provider sent the browser back")
	}
	// The provider sends the browser back with the state.
	back := h.get(endSession.String())
	if loc := back.Header.Get("Location"); loc != h.app.URL+"/?state="+state {
		t.Fatalf("provider: %d to %q", back.StatusCode, loc)
	}
	landing := h.get(back.Header.Get("Location"))
	if landing.StatusCode != http.StatusFound || landing.Header.Get("Location") != "/" || landing.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("post-logout: %d to %q, want 302 to /", landing.StatusCode, landing.Header.Get("Location"))
	}
	if !h.loggedOut() {
		t.Fatal("LoggedOut is false on the landing page")
	}
	if h.loggedOut() {
		t.Fatal("LoggedOut said it twice")
	}
	// The same state again (a reload of the provider's redirect) lands unmarked.
	if again := h.get(back.Header.Get("Location")); again.Header.Get("Location") != "/" || h.loggedOut() {
		t.Fatalf("the state was used twice: %d to %q", again.StatusCode, again.Header.Get("Location"))
	}
}

// A wrong or missing state is no error page: the browser lands on the
// landing path, unmarked.
func TestPostLogoutWrongState(t *testing.T) {
	tests := []struct {
		name  string
		query func(state string) string
		other bool // from another browser, which has no logout cookie
	}{
		{"wrong state", func(string) string { return "?state=forged" }, false},
		{"missing state", func(string) string { return "" }, false},
		{"empty state", func(string) string { return "?state=" }, false},
		{"oversized state", func(s string) string { return "?state=" + s + strings.Repeat("x", maxLogoutState) }, false},
		{"right state, another browser", func(s string) string { return "?state=" + s }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newPostLogoutHarness(t)
			h.mustLogin("/me")
			state := mustParse(h.logout().Header.Get("Location")).Query().Get("state")
			b := h
			if tt.other {
				b = h.newBrowser()
			}
			resp := b.get("/logged-out" + tt.query(state))
			if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/" {
				t.Fatalf("%d to %q, want 302 to /: %s", resp.StatusCode, resp.Header.Get("Location"), body(resp))
			}
			if b.loggedOut() {
				t.Fatal("LoggedOut after a state that is not the logout's")
			}
			if tt.other {
				return
			}
			// The logout cookie is gone: the right state no longer marks.
			if h.get("/logged-out?state=" + state); h.loggedOut() {
				t.Fatal("a wrong state did not consume the logout")
			}
		})
	}
}

func TestPostLogoutLanding(t *testing.T) {
	h := newPostLogoutHarness(t, WithPostLogoutLanding("/bye?see=you"))
	h.mustLogin("/me")
	back := h.get(mustParse(h.logout().Header.Get("Location")).String())
	if resp := h.get(back.Header.Get("Location")); resp.Header.Get("Location") != "/bye?see=you" || !h.loggedOut() {
		t.Fatalf("post-logout: %d to %q, want the landing /bye?see=you, marked", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, bad := range []string{"", "https://elsewhere.example/", "//elsewhere.example", "bye"} {
		_, err := New(context.Background(), h.op.Issuer, WithClientID("client"), WithRedirectURL(h.app.URL+"/callback"), WithPostLogoutLanding(bad))
		if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "WithPostLogoutLanding") {
			t.Errorf("WithPostLogoutLanding(%q): %v", bad, err)
		}
	}
}

// Without an end_session_endpoint the logout lands at once, marked.
func TestLogoutWithoutEndSessionIsMarked(t *testing.T) {
	op := newProvider(t, oidctest.Config{})
	op.SetTamper(oidctest.Tamper{Metadata: func(d map[string]any) { delete(d, "end_session_endpoint") }})
	h := newHarnessWith(t, op, WithPostLogoutLanding("/bye"))
	h.mustLogin("/me")
	if resp := h.logout(); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/bye" || !h.loggedOut() {
		t.Fatalf("logout: %d to %q, want /bye, marked", resp.StatusCode, resp.Header.Get("Location"))
	}
}
