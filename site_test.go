package oidcauth

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oidcauth/oidcauth/oidctest"
)

// The origin as a browser writes it in Origin: lower case, no default port.
func TestCanonicalOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://App.Example.com/callback":     "https://app.example.com",
		"https://app.example.com:443/callback": "https://app.example.com",
		"http://app.example.com:80/cb":         "http://app.example.com",
		"http://127.0.0.1:8080/callback":       "http://127.0.0.1:8080",
		"https://app.example.com:8443/":        "https://app.example.com:8443",
		"http://[::1]:8080/callback":           "http://[::1]:8080",
		"http://[::1]/callback":                "http://[::1]",
	} {
		if got := canonicalOrigin(mustParse(in)); got != want {
			t.Errorf("canonicalOrigin(%s) = %s, want %s", in, got, want)
		}
	}
}

// A login started on another host than the redirect URL's is logged, at
// most once a minute; the callback that then finds no login cookie says
// why, in the log and, in development, on the page.
func TestLoginOnAnotherHost(t *testing.T) {
	h := newHarness(t, oidctest.Config{})
	appHost := mustParse(h.app.URL).Host
	otherHost := strings.Replace(appHost, "127.0.0.1", "localhost", 1)

	start := func(host string, header http.Header) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, h.app.URL+"/login?return_to=/me", nil)
		req.Host = host // the jar keeps the cookies for this host, as a browser does
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := h.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	warning := "a login started on another host than the redirect URL's"
	start(appHost, nil)
	start(appHost, http.Header{"X-Forwarded-Host": {appHost}})
	if strings.Contains(h.logs.String(), warning) {
		t.Fatalf("warned about a login on the redirect URL's host:\n%s", h.logs)
	}

	resp := start(otherHost, nil)
	for range 3 {
		start(otherHost, nil)
	}
	logs := h.logs.String()
	if n := strings.Count(logs, warning); n != 1 {
		t.Fatalf("%d warnings for four logins on %s within a minute, want 1:\n%s", n, otherHost, logs)
	}
	if !strings.Contains(logs, "request_host="+otherHost) || !strings.Contains(logs, "redirect_host="+appHost) {
		t.Fatalf("the warning does not name both hosts:\n%s", logs)
	}
	// A minute later it warns again.
	h.auth.site.lastHostWarning.Add(-int64(hostWarningEvery))
	start(otherHost, nil)
	if n := strings.Count(h.logs.String(), warning); n != 2 {
		t.Fatalf("%d warnings after a minute, want 2", n)
	}

	// The provider sends the browser to the redirect URL's host, where it
	// has no login cookie.
	loc := resp.Header.Get("Location")
	page := h.get(h.authorize(mustParse(loc)))
	if page.StatusCode != http.StatusBadRequest || !strings.Contains(body(page), "Logins must start at "+h.app.URL) {
		t.Fatalf("callback: %d, want 400 with the hint:\n%s", page.StatusCode, body(page))
	}
	if !strings.Contains(h.logs.String(), "a likely cause is a login started on another host than "+appHost) {
		t.Fatalf("the callback's log line has no hint:\n%s", h.logs)
	}
}

// In production (the redirect URL off loopback) the page keeps the plain
// sentence; the log still has the hint.
func TestNoLoginCookieInProduction(t *testing.T) {
	op := newProvider(t, oidctest.Config{})
	logs := &syncBuffer{}
	auth, err := New(context.Background(), op.Issuer, WithClientID("client"), WithClientSecret("secret"),
		WithRedirectURL("https://app.example.com/callback"),
		WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "https://app.example.com/callback?state=abc&code=x", nil)
	req.Header.Set("Accept", "application/json")
	auth.CallbackHandler().ServeHTTP(rec, req)
	want := `{"error":"state_mismatch","error_description":"This login link is invalid, expired or already used. Please start again."}`
	if got := strings.TrimSpace(rec.Body.String()); rec.Code != http.StatusBadRequest || got != want {
		t.Fatalf("callback: %d %s, want 400 %s", rec.Code, got, want)
	}
	if !strings.Contains(logs.String(), "a likely cause is a login started on another host than app.example.com") {
		t.Fatalf("no hint in the log:\n%s", logs)
	}
}
