package oidcauth

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidctest"
)

// serveFrontchannel serves h's front-channel logout handler on a server of
// its own, behind LoadAndSave as the usual app would, and returns its URL.
func (h *harness) serveFrontchannel() string {
	h.t.Helper()
	srv := httptest.NewServer(h.auth.LoadAndSave(h.auth.FrontchannelLogoutHandler()))
	h.t.Cleanup(srv.Close)
	return srv.URL + "/frontchannel-logout"
}

// frontchannel requests the front-channel logout URI with rawQuery as a
// provider's iframe does: no cookie of the app, cross-site.
func frontchannel(t *testing.T, method, uri, rawQuery string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, uri+"?"+rawQuery, nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Sec-Fetch-Dest", "iframe")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp
}

func fcQuery(iss, sid string) string { return url.Values{"iss": {iss}, "sid": {sid}}.Encode() }

func TestFrontchannelLogoutEndsSessions(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, extra string }{
		{"iss and sid", ""},
		{"the registered URI's own parameter", "&provider=main"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, oidctest.Config{})
			uri := h.serveFrontchannel()
			h.mustLogin("/me")
			other := h.newBrowser()
			other.mustLogin("/me")
			sid, _ := h.sidSub()
			if osid, _ := other.sidSub(); osid == sid {
				t.Fatal("the two browsers share a provider session")
			}
			tokensBefore := storeKeys(t, h.auth, tokensPrefix)

			resp := frontchannel(t, http.MethodGet, uri, fcQuery(h.op.Issuer, sid)+tt.extra)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("front-channel logout: %d %s", resp.StatusCode, body(resp))
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
			if csp, want := resp.Header.Get("Content-Security-Policy"), "frame-ancestors "+h.op.Issuer; !strings.HasSuffix(csp, want) {
				t.Errorf("Content-Security-Policy %q, want it to end with %q", csp, want)
			}
			if xfo := resp.Header.Get("X-Frame-Options"); xfo != "" {
				t.Errorf("X-Frame-Options %q: the provider could not frame it", xfo)
			}
			if b := body(resp); len(b) > 100 || !strings.Contains(b, "<title>") {
				t.Errorf("body %q, want a tiny page", b)
			}
			h.mustBeLoggedOut("the logged-out browser")
			if s := other.apiStatus(); s != http.StatusOK {
				t.Fatalf("the user's other browser (another provider session): %d, want 200", s)
			}
			if n := storeKeys(t, h.auth, tokensPrefix); n != tokensBefore-1 {
				t.Errorf("token records: %d, want %d", n, tokensBefore-1)
			}
			if n := storeKeys(t, h.auth, sidIndexKey(h.op.Issuer, sid)); n != 0 {
				t.Error("the ended sid's index record is still in the Store")
			}
		})
	}
}

// TestFrontchannelLogoutRefusals: each malformed or foreign request gets
// 400 (405 for another method) and ends nothing.
func TestFrontchannelLogoutRefusals(t *testing.T) {
	t.Parallel()
	h := newHarness(t, oidctest.Config{})
	uri := h.serveFrontchannel()
	h.mustLogin("/me")
	sid, _ := h.sidSub()
	iss := h.op.Issuer
	other := newProvider(t, oidctest.Config{})
	tests := []struct {
		name, method, query string
		status              int
	}{
		{"missing iss", "GET", url.Values{"sid": {sid}}.Encode(), 400},
		{"empty iss", "GET", fcQuery("", sid), 400},
		{"foreign iss", "GET", fcQuery(other.Issuer, sid), 400},
		{"iss with a trailing slash", "GET", fcQuery(iss+"/", sid), 400},
		{"missing sid", "GET", url.Values{"iss": {iss}}.Encode(), 400},
		{"empty sid", "GET", fcQuery(iss, ""), 400},
		{"repeated iss", "GET", fcQuery(iss, sid) + "&iss=" + url.QueryEscape(iss), 400},
		{"repeated sid", "GET", fcQuery(iss, sid) + "&sid=" + url.QueryEscape(sid), 400},
		{"malformed query", "GET", fcQuery(iss, sid) + "&x=%zz", 400},
		{"sid too long", "GET", fcQuery(iss, strings.Repeat("s", maxSID+1)), 400},
		{"sid with a control character", "GET", fcQuery(iss, sid+"\n"), 400},
		{"query too long", "GET", fcQuery(iss, sid) + "&pad=" + strings.Repeat("p", maxFrontchannelQuery), 400},
		{"POST", "POST", fcQuery(iss, sid), 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := frontchannel(t, tt.method, uri, tt.query)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body(resp), tt.status)
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", resp.Header.Get("Cache-Control"))
			}
			if s := h.apiStatus(); s != http.StatusOK {
				t.Fatalf("the session ended: %d", s)
			}
		})
	}
}

// TestFrontchannelLogoutUnknownSID: a sid without sessions is answered 200
// (no oracle) and costs no write to the Store.
func TestFrontchannelLogoutUnknownSID(t *testing.T) {
	t.Parallel()
	h := newHarness(t, oidctest.Config{})
	uri := h.serveFrontchannel()
	h.mustLogin("/me")
	before := storeKeys(t, h.auth, keyPrefix)
	resp := frontchannel(t, http.MethodGet, uri, fcQuery(h.op.Issuer, "made-up-sid"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d %s", resp.StatusCode, body(resp))
	}
	if after := storeKeys(t, h.auth, keyPrefix); after != before {
		t.Fatalf("oidcauth's records: %d before, %d after a logout of an unknown sid", before, after)
	}
	if s := h.apiStatus(); s != http.StatusOK {
		t.Fatalf("the session ended: %d", s)
	}
}

// TestFrontchannelLogoutDuringACallback: a login of the provider session
// under way when its front-channel logout arrives cannot complete with its
// older id_token.
func TestFrontchannelLogoutDuringACallback(t *testing.T) {
	t.Parallel()
	var last error
	h := newHarness(t, oidctest.Config{}, recordErrors(&last))
	uri := h.serveFrontchannel()
	h.op.SetTamper(oidctest.Tamper{IDTokenClaims: func(c map[string]any) {
		c["sid"] = "sid-shared"
		c["iat"] = time.Now().Add(-2 * time.Second).Unix()
	}})
	h.mustLogin("/me")
	second := h.newBrowser() // another tab of the same provider session
	callback := second.authorize(second.startLogin("/me"))
	if resp := frontchannel(t, http.MethodGet, uri, fcQuery(h.op.Issuer, "sid-shared")); resp.StatusCode != http.StatusOK {
		t.Fatalf("logout: %d %s", resp.StatusCode, body(resp))
	}
	h.mustBeLoggedOut("the logged-in browser")
	if resp := second.get(callback); resp.StatusCode != http.StatusForbidden || !errors.Is(last, ErrProvider) {
		t.Fatalf("the callback after the logout: %d (%v), want 403 ErrProvider", resp.StatusCode, last)
	}
}

// TestFrontchannelFrameAncestors: the end-session endpoint's origin may
// frame the page too when it is not the issuer's.
func TestFrontchannelFrameAncestors(t *testing.T) {
	t.Parallel()
	a := &provider{issuer: "https://op.example.com/tenant/v2", meta: metadata{EndSessionEndpoint: "https://logout.example.com:8443/end"}}
	got := strings.Join(a.frameAncestors(), " ")
	if want := "https://op.example.com https://logout.example.com:8443"; got != want {
		t.Fatalf("frame ancestors %q, want %q", got, want)
	}
}
