package oidcauth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/oidcauth/oidcauth/oidctest"
)

// FuzzParseCallback feeds arbitrary query strings to the callback's parser:
// it must never panic, must refuse repeated or non-UTF-8 parameters, and
// what it accepts must be exactly the query's single values.
func FuzzParseCallback(f *testing.F) {
	for _, s := range []string{
		"state=abc&code=xyz",
		"state=abc&code=xyz&iss=https%3A%2F%2Fidp.example",
		"state=a&state=b",
		"error=access_denied&error_description=%3Cscript%3E&state=s",
		"code=%ff%fe&state=s",
		"state=%zz",
		"",
		"&&&=&=",
		strings.Repeat("a", maxCallbackQuery+1),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := parseCallback(raw)
		if err != nil {
			return
		}
		for _, v := range []string{p.state, p.code, p.iss, p.err, p.errDescription} {
			if !utf8.ValidString(v) {
				t.Fatalf("accepted a non-UTF-8 value %q from %q", v, raw)
			}
		}
		if len(raw) > maxCallbackQuery {
			t.Fatalf("accepted a %d-byte query", len(raw))
		}
	})
}

// FuzzCallbackHandler sends arbitrary queries to a real callback handler:
// it never panics, never logs in, and never calls the provider without a
// valid pending login.
func FuzzCallbackHandler(f *testing.F) {
	f.Add("state=abc&code=xyz")
	f.Add("error=login_required&state=x")
	f.Add("state=" + strings.Repeat("s", 600) + "&code=c")
	h := newHarness(f, oidctest.Config{})
	handler := h.auth.LoadAndSave(h.auth.CallbackHandler())
	f.Fuzz(func(t *testing.T, raw string) {
		req := httptest.NewRequest("GET", "/callback", nil)
		req.URL.RawQuery = raw
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code == http.StatusFound || rec.Code < 400 {
			t.Fatalf("query %q: status %d, want a refusal", raw, rec.Code)
		}
		if h.op.Hits("/token") != 0 {
			t.Fatalf("query %q reached the token endpoint", raw)
		}
	})
}
