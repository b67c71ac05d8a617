package oidctest

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"testing"
)

// TestLoginForm posts the interactive login form where it points, as a
// browser would, and gets a code back.
func TestLoginForm(t *testing.T) {
	p, err := NewProvider(Config{Interactive: true, Clients: []Client{{ID: "c", Secret: "s"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	q := url.Values{"client_id": {"c"}, "redirect_uri": {"http://127.0.0.1:1/cb"}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"st"}, "code_challenge": {"x"}, "code_challenge_method": {"S256"}}
	resp, err := http.Get(p.Issuer + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`action="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no form in %s", page)
	}
	action := html.UnescapeString(string(m[1]))
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = client.PostForm(p.Issuer+action, url.Values{"login": {"bob"}, "password": {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Query().Get("code") == "" || loc.Query().Get("state") != "st" {
		t.Fatalf("status %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestEndpointPaths checks the paths the package doc lists against the
// discovery document.
func TestEndpointPaths(t *testing.T) {
	p, err := NewProvider(Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	resp, err := http.Get(p.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery: %d %v", resp.StatusCode, err)
	}
	for _, tc := range []struct{ member, path string }{
		{"issuer", ""},
		{"jwks_uri", "/jwks"},
		{"authorization_endpoint", "/authorize"},
		{"token_endpoint", "/token"},
		{"userinfo_endpoint", "/userinfo"},
		{"end_session_endpoint", "/end_session"},
		{"revocation_endpoint", "/revoke"},
	} {
		if got := doc[tc.member]; got != p.Issuer+tc.path {
			t.Errorf("%s = %v, want %s", tc.member, got, p.Issuer+tc.path)
		}
	}
}
