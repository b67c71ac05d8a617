package oidctest

import (
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
