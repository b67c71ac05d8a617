package oidcauth

// Helpers for the tests of how sessions end: logout, back-channel logout,
// EndSessions and lifetimes.

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"

	"github.com/alexedwards/scs/v2"
)

// newBrowser returns h with a browser of its own (an empty cookie jar).
func (h *harness) newBrowser() *harness {
	b := *h
	jar, _ := cookiejar.New(nil)
	b.client = &http.Client{Jar: jar, CheckRedirect: h.client.CheckRedirect}
	return &b
}

// claims returns the logged-in user's claims, from /api/me.
func (h *harness) claims() map[string]any {
	h.t.Helper()
	resp := h.do(http.MethodGet, "/api/me", http.Header{"Accept": {"application/json"}})
	var c map[string]any
	if err := json.Unmarshal([]byte(body(resp)), &c); resp.StatusCode != http.StatusOK || err != nil {
		h.t.Fatalf("GET /api/me: %d %s", resp.StatusCode, body(resp))
	}
	return c
}

// sidSub returns the sid and sub of the logged-in user.
func (h *harness) sidSub() (string, string) {
	c := h.claims()
	sid, _ := c["sid"].(string)
	sub, _ := c["sub"].(string)
	if sid == "" || sub == "" {
		h.t.Fatalf("claims without sid or sub: %v", c)
	}
	return sid, sub
}

// storeKeys counts the Store's records whose key starts with prefix.
func storeKeys(t *testing.T, a *Auth, prefix string) int {
	t.Helper()
	all, err := a.sm.Store.(scs.IterableStore).All()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for k := range all {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}

// mustBeLoggedOut fails unless h's browser, cookie and all, is anonymous:
// an API request gets 401 and a page sends it to the provider.
func (h *harness) mustBeLoggedOut(what string) {
	h.t.Helper()
	if s := h.apiStatus(); s != http.StatusUnauthorized {
		h.t.Fatalf("%s: GET /api/me with the old cookie: %d, want 401", what, s)
	}
	if resp := h.get("/me"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), h.op.Issuer) {
		h.t.Fatalf("%s: GET /me: %d to %q, want a redirect to the provider", what, resp.StatusCode, resp.Header.Get("Location"))
	}
}

// sessionTokens returns the id, access and refresh tokens of h's session.
func (h *harness) sessionTokens() (idToken, access, refresh string) {
	h.t.Helper()
	resp := h.get("/tokens")
	var ts []string
	if err := json.Unmarshal([]byte(body(resp)), &ts); err != nil || len(ts) != 3 {
		h.t.Fatalf("GET /tokens: %d %s", resp.StatusCode, body(resp))
	}
	return ts[0], ts[1], ts[2]
}

// logout posts the logout form from the app's own page.
func (h *harness) logout() *http.Response {
	h.t.Helper()
	return h.do(http.MethodPost, "/logout", http.Header{"Origin": {h.app.URL}, "Sec-Fetch-Site": {"same-origin"}})
}
