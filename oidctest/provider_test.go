package oidctest

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
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

// TestTenantProvider: with Config.Tenant the discovery document publishes
// the issuer template, the endpoints live under Issuer (.../common) and
// tokens carry the tenant's issuer and tid.
func TestTenantProvider(t *testing.T) {
	const tenant = "0b5d4f3e-1c2a-4b6d-8e9f-a1b2c3d4e5f6"
	p, err := NewProvider(Config{Tenant: tenant})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	base := strings.TrimSuffix(p.Issuer, "/common")
	if base == p.Issuer {
		t.Fatalf("Issuer %q does not end in /common", p.Issuer)
	}
	resp, err := http.Get(p.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery: %d %v", resp.StatusCode, err)
	}
	if doc["issuer"] != base+"/{tenantid}" || doc["jwks_uri"] != p.Issuer+"/jwks" {
		t.Fatalf("issuer %v jwks_uri %v", doc["issuer"], doc["jwks_uri"])
	}
	if p.TokenIssuer() != base+"/"+tenant {
		t.Fatalf("TokenIssuer %q", p.TokenIssuer())
	}
	c := p.LogoutClaims("client", "alice", "")
	if c["iss"] != base+"/"+tenant || c["tid"] != tenant {
		t.Fatalf("logout claims %v", c)
	}
	if p.Hits("/.well-known/openid-configuration") != 1 {
		t.Fatalf("hits are not counted by endpoint: %d", p.Hits("/.well-known/openid-configuration"))
	}
}
