package oidcauth

import (
	"net/http"
	"strings"
	"testing"

	"github.com/oidcauth/oidcauth/oidctest"
)

func TestLogout(t *testing.T) {
	h := newHarness(t, oidctest.Config{})
	h.mustLogin("/me")
	old := h.sessionCookie()
	resp := h.do("POST", "/logout", http.Header{"Origin": {h.app.URL}, "Sec-Fetch-Site": {"same-origin"}})
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("logout: status %d %s", resp.StatusCode, body(resp))
	}
	u := mustParse(resp.Header.Get("Location"))
	q := u.Query()
	if !strings.HasPrefix(u.String(), h.op.Issuer+"/end_session?") || q.Get("id_token_hint") == "" ||
		q.Get("post_logout_redirect_uri") != h.app.URL+"/" || q.Get("state") == "" || q.Get("client_id") != "client" {
		t.Fatalf("logout redirect %s", u)
	}
	if h.apiStatus() != http.StatusUnauthorized {
		t.Fatal("still logged in after logout")
	}
	// The login's tokens are gone too: a copy of the session elsewhere (a
	// request under way writing it back) would lose its login.
	if n := storeKeys(t, h.auth, tokensPrefix); n != 0 {
		t.Fatalf("%d token records after logout, want 0", n)
	}
	// Replaying the old cookie does not authenticate either.
	h.client.Jar.SetCookies(mustParse(h.app.URL), []*http.Cookie{old})
	if h.apiStatus() != http.StatusUnauthorized {
		t.Fatal("the pre-logout cookie still authenticates")
	}
}

func TestLogoutWithoutEndSession(t *testing.T) {
	op := newProvider(t, oidctest.Config{})
	op.SetTamper(oidctest.Tamper{Metadata: func(d map[string]any) { delete(d, "end_session_endpoint") }})
	h := newHarnessWith(t, op)
	h.mustLogin("/me")
	resp := h.do("POST", "/logout", http.Header{"Origin": {h.app.URL}})
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/" || h.apiStatus() != http.StatusUnauthorized {
		t.Fatalf("status %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestLogoutRefusals(t *testing.T) {
	tests := []struct {
		name   string
		method string
		header http.Header
		host   string // the request's Host when not the app's
		status int
	}{
		{"GET", "GET", nil, "", http.StatusMethodNotAllowed},
		{"cross-site POST", "POST", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://attacker.example"}}, "", http.StatusForbidden},
		{"same-site POST", "POST", http.Header{"Sec-Fetch-Site": {"same-site"}}, "", http.StatusForbidden},
		{"cross-site fetch metadata, own Origin", "POST", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"{app}"}}, "", http.StatusForbidden},
		{"cross-origin POST, no fetch metadata", "POST", http.Header{"Origin": {"https://attacker.example"}}, "", http.StatusForbidden},
		{"Origin null", "POST", http.Header{"Origin": {"null"}}, "", http.StatusForbidden},
		{"Origin of another scheme", "POST", http.Header{"Origin": {"https://{host}"}}, "", http.StatusForbidden},
		// The Host a proxy rewrote to is not the app's origin: an Origin
		// naming it is another site's.
		{"Origin of the Host, not the redirect URL's", "POST", http.Header{"Origin": {"http://internal.example:8080"}}, "internal.example:8080", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, oidctest.Config{})
			h.mustLogin("/me")
			resp := h.logoutRequest(tt.method, tt.host, tt.header)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if !strings.Contains(body(resp), `"error"`) && !strings.Contains(body(resp), "<code>") {
				t.Fatalf("the refusal did not go through the error handler: %q", body(resp))
			}
			if h.apiStatus() != http.StatusOK {
				t.Fatal("a refused logout ended the session")
			}
		})
	}
}

// TestAnonymousLogoutSchedulesNothing: a POST /logout without a session has
// nothing to delete again later, so it starts no timers.
func TestAnonymousLogoutSchedulesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, oidctest.Config{})
	for range 3 {
		if resp := h.logout(); resp.StatusCode != http.StatusFound {
			t.Fatalf("anonymous logout: %d", resp.StatusCode)
		}
	}
	if n := h.auth.index.redeletes.Load(); n != 0 {
		t.Fatalf("%d anonymous logouts scheduled second deletes, want none", n)
	}
	h.mustLogin("/me")
	h.logout()
	if n := h.auth.index.redeletes.Load(); n != 1 {
		t.Fatalf("a real logout scheduled %d second deletes, want 1", n)
	}
}

// Behind a reverse proxy that terminates TLS and rewrites Host, a
// same-origin logout is the one whose Origin is the redirect URL's.
func TestLogoutBehindProxy(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
	}{
		{"Origin of the redirect URL, Host rewritten", http.Header{"Origin": {"{app}"}}},
		{"Sec-Fetch-Site same-origin, Host rewritten", http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {"{app}"}}},
		{"no Origin, no fetch metadata (not a browser)", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, oidctest.Config{})
			h.mustLogin("/me")
			resp := h.logoutRequest(http.MethodPost, "app-internal:8080", tt.header)
			if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), h.op.Issuer+"/end_session?") {
				t.Fatalf("status %d Location %q body %s, want 302 to the provider", resp.StatusCode, resp.Header.Get("Location"), body(resp))
			}
			if h.apiStatus() != http.StatusUnauthorized {
				t.Fatal("still logged in after logout")
			}
		})
	}
}

// logoutRequest sends a logout request with header, in which {app} stands
// for the app's URL and {host} for its host, and with the Host host when it
// is not empty, as a reverse proxy that rewrites Host would.
func (h *harness) logoutRequest(method, host string, header http.Header) *http.Response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.app.URL+"/logout", nil)
	if err != nil {
		h.t.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			v = strings.ReplaceAll(v, "{app}", h.app.URL)
			req.Header.Add(k, strings.ReplaceAll(v, "{host}", req.URL.Host))
		}
	}
	// The browser's cookies are the app URL's whatever the Host (the
	// client would pick them by Host).
	for _, c := range h.client.Jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := (&http.Client{CheckRedirect: h.client.CheckRedirect}).Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	h.client.Jar.SetCookies(req.URL, resp.Cookies())
	body(resp)
	resp.Body.Close()
	return resp
}
