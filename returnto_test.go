package oidcauth

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oidcauth/oidcauth/oidctest"
)

var returnToCases = []struct {
	in, want string
}{
	{"/", "/"},
	{"/me", "/me"},
	{"/me?x=1&y=%2F", "/me?x=1&y=%2F"},
	{"/a/b#frag", "/a/b#frag"},
	{"/caf%C3%A9", "/caf%C3%A9"},
	{"", "/"},
	{"me", "/"},
	{"//evil.example", "/"},
	{"//evil.example/path", "/"},
	{"/\\evil.example", "/"},
	{"\\\\evil.example", "/"},
	{"https://evil.example", "/"},
	{"http:evil.example", "/"},
	{"javascript:alert(1)", "/"},
	{"/%2F/evil.example", "/"},
	{"/%2f%2fevil.example", "/"},
	{"%2F%2Fevil.example", "/"},
	{"/%5Cevil.example", "/"},
	{"/%252F%252Fevil.example", "/"},
	{"/\t/evil.example", "/"},
	{"/%09/evil.example", "/"},
	{"/\n/evil.example", "/"},
	{"/ /evil.example", "/"},
	{"/./evil.example", "/"},
	{"/..//evil.example", "/"},
	{"/a//evil.example", "/"},
	{"/%zz", "/"},
	{"/" + strings.Repeat("a", maxReturnToLen), "/"},
}

func TestSafeReturnTo(t *testing.T) {
	for _, tt := range returnToCases {
		if got := SafeReturnTo(tt.in); got != tt.want {
			t.Errorf("SafeReturnTo(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLoginReturnTo(t *testing.T) {
	h := newHarness(t, oidctest.Config{})
	for _, target := range []string{"//evil.example", "https://evil.example/x", "/%2F%2Fevil.example"} {
		resp := h.login("/login?return_to=" + url.QueryEscape(target))
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/" {
			t.Errorf("return_to=%q: status %d Location %q, want /", target, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if resp := h.login("/login?return_to=" + url.QueryEscape("/me?tab=2")); resp.Header.Get("Location") != "/me?tab=2" {
		t.Errorf("same-origin return_to: Location %q", resp.Header.Get("Location"))
	}
}

// FuzzSafeReturnTo checks that whatever comes in, what comes out stays on
// the origin once a browser resolves it.
func FuzzSafeReturnTo(f *testing.F) {
	for _, tt := range returnToCases {
		f.Add(tt.in)
	}
	base, _ := url.Parse("https://app.example/some/page")
	f.Fuzz(func(t *testing.T, in string) {
		out := SafeReturnTo(in)
		if out != "/" && out != in {
			t.Fatalf("SafeReturnTo(%q) = %q: neither the input nor /", in, out)
		}
		// Browsers drop tabs and newlines and read \ as /; resolve as they would.
		browser := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(out)
		u, err := url.Parse(browser)
		if err != nil {
			t.Fatalf("SafeReturnTo(%q) = %q does not parse: %v", in, out, err)
		}
		if r := base.ResolveReference(u); r.Host != base.Host || r.Scheme != base.Scheme {
			t.Fatalf("SafeReturnTo(%q) = %q leads to %s", in, out, r)
		}
		for range 3 {
			if d, err := url.PathUnescape(browser); err == nil {
				browser = d
			}
		}
		if strings.HasPrefix(browser, "//") || strings.HasPrefix(browser, "/\\") {
			t.Fatalf("SafeReturnTo(%q) = %q decodes to %q", in, out, browser)
		}
	})
}
