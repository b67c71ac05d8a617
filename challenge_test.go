package oidcauth

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidctest"
)

// TestParseStepUpChallenge: RFC 9110 auth-param syntax, strictly; only
// acr_values and max_age are read, and only when well-formed.
func TestParseStepUpChallenge(t *testing.T) {
	const e = `error="insufficient_user_authentication"`
	tests := []struct {
		name   string
		fields []string
		ok     bool
		acr    []string
		maxAge time.Duration
	}{
		{"acr_values", []string{`Bearer ` + e + `, acr_values="urn:mfa urn:hwk"`}, true, []string{"urn:mfa", "urn:hwk"}, -1},
		{"max_age token", []string{`Bearer ` + e + `, max_age=300`}, true, nil, 300 * time.Second},
		{"max_age quoted", []string{`Bearer ` + e + `, max_age="5"`}, true, nil, 5 * time.Second},
		{"both, realm, BWS", []string{`Bearer realm="api" , ` + e + ` ,acr_values = "urn:mfa", max_age= 0`}, true, []string{"urn:mfa"}, 0},
		{"scheme and names case-insensitive", []string{`bearer ERROR="insufficient_user_authentication", ACR_VALUES="urn:mfa"`}, true, []string{"urn:mfa"}, -1},
		{"after another challenge", []string{`Basic realm="x", Bearer ` + e + `, acr_values="urn:mfa"`}, true, []string{"urn:mfa"}, -1},
		{"before a token68 challenge", []string{`Bearer ` + e + `, acr_values="urn:mfa", Negotiate abc==`}, true, []string{"urn:mfa"}, -1},
		{"in a second field", []string{`Basic realm="x"`, `Bearer ` + e + `, max_age=60`}, true, nil, time.Minute},
		{"quoted-pair", []string{`Bearer ` + e + `, acr_values="urn:\m\fa"`}, true, []string{"urn:mfa"}, -1},

		{"another error", []string{`Bearer error="invalid_token", acr_values="urn:mfa"`}, false, nil, 0},
		{"error differently cased", []string{`Bearer error="Insufficient_User_Authentication", acr_values="urn:mfa"`}, false, nil, 0},
		{"neither acr_values nor max_age", []string{`Bearer ` + e}, false, nil, 0},
		{"another scheme", []string{`DPoPx ` + e + `, acr_values="urn:mfa"`}, false, nil, 0},
		{"repeated parameter", []string{`Bearer ` + e + `, acr_values="urn:mfa", acr_values="urn:none"`}, false, nil, 0},
		{"repeated error", []string{`Bearer ` + e + `, ` + e + `, max_age=1`}, false, nil, 0},
		{"two step-up challenges", []string{`Bearer ` + e + `, max_age=1`, `Bearer ` + e + `, max_age=2`}, false, nil, 0},
		{"max_age not digits", []string{`Bearer ` + e + `, max_age="-1"`}, false, nil, 0},
		{"max_age too long", []string{`Bearer ` + e + `, max_age=1234567890`}, false, nil, 0},
		{"max_age empty", []string{`Bearer ` + e + `, max_age=""`}, false, nil, 0},
		{"acr double space", []string{`Bearer ` + e + `, acr_values="urn:mfa  urn:hwk"`}, false, nil, 0},
		{"acr empty", []string{`Bearer ` + e + `, acr_values=""`}, false, nil, 0},
		{"acr with a quote", []string{`Bearer ` + e + `, acr_values="urn:\"mfa"`}, false, nil, 0},
		{"acr with an ampersand and equals is one value", []string{`Bearer ` + e + `, acr_values="a&redirect_uri=x"`}, true, []string{"a&redirect_uri=x"}, -1},
		{"too many acr values", []string{`Bearer ` + e + `, acr_values="` + strings.Repeat("a ", 16) + `a"`}, false, nil, 0},
		{"acr value too long", []string{`Bearer ` + e + `, acr_values="` + strings.Repeat("a", 257) + `"`}, false, nil, 0},
		{"unterminated quote", []string{`Bearer ` + e + `, acr_values="urn:mfa`}, false, nil, 0},
		{"control character", []string{"Bearer " + e + ", acr_values=\"urn:\x01mfa\""}, false, nil, 0},
		{"obs-text", []string{"Bearer " + e + ", acr_values=\"urn:\xe9\""}, false, nil, 0},
		{"no space after the scheme", []string{`Bearer,` + e}, false, nil, 0},
		{"junk between parameters", []string{`Bearer ` + e + ` ; max_age=1`}, false, nil, 0},
		{"field too long", []string{`Bearer ` + e + `, max_age=1, x="` + strings.Repeat("a", maxChallengeLen) + `"`}, false, nil, 0},
		{"too many parameters", []string{`Bearer ` + e + `, max_age=1` + manyParams(maxChallengeParams)}, false, nil, 0},
		{"too many fields", append(slices.Repeat([]string{`Basic realm="x"`}, maxChallengeFields), `Bearer `+e+`, max_age=1`), false, nil, 0},
		{"obs-text in another parameter", []string{"Bearer realm=\"\xe9\", " + e + ", max_age=1"}, false, nil, 0},
		{"control character in another parameter", []string{"Bearer realm=\"a\x7fb\", " + e + ", max_age=1"}, false, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseStepUp(tt.fields)
			if ok != tt.ok {
				t.Fatalf("ok %v, want %v (%+v)", ok, tt.ok, got)
			}
			if ok && (!slices.Equal(got.ACRValues, tt.acr) || got.MaxAge != tt.maxAge) {
				t.Fatalf("got %q %v, want %q %v", got.ACRValues, got.MaxAge, tt.acr, tt.maxAge)
			}
		})
	}
}

func manyParams(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(", p" + strings.Repeat("x", i) + "=1")
	}
	return b.String()
}

// FuzzParseChallenges: the parser never panics, and whatever it accepts
// yields only acr values within their syntax and a bounded max_age.
func FuzzParseChallenges(f *testing.F) {
	for _, s := range []string{
		`Bearer error="insufficient_user_authentication", acr_values="urn:mfa", max_age=5`,
		`Basic realm="x", Bearer error="insufficient_user_authentication", max_age="1"`,
		`Negotiate abc==, Bearer realm="a\"b"`, `Bearer`, `,,,`, `Bearer x=`, `Bearer "`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		parseChallenges(s)
		e, ok := parseStepUp([]string{s})
		if !ok {
			return
		}
		if len(e.ACRValues) == 0 && e.MaxAge < 0 || len(e.ACRValues) > maxACRValues || e.MaxAge > 999999999*time.Second {
			t.Fatalf("accepted %q: %+v", s, e)
		}
		for _, v := range e.ACRValues {
			if !validACR(v) {
				t.Fatalf("accepted acr value %q from %q", v, s)
			}
		}
	})
}

// resourceServer answers every request 401 with the challenge.
func resourceServer(t *testing.T, challenge string) string {
	t.Helper()
	rs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", challenge)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(rs.Close)
	return rs.URL
}

// TestResourceStepUp: a resource server's RFC 9470 challenge becomes a
// step-up: a page goes to the provider with its acr_values and max_age and
// comes back; an API gets 401 JSON with a login URL that starts that login.
// Nothing else in the challenge reaches the authorization request.
func TestResourceStepUp(t *testing.T) {
	h := newHarness(t, oidctest.Config{})
	h.mustLogin("/me")
	base := h.startLogin("/login").Query()
	rs := resourceServer(t, `Bearer realm="rs", error="insufficient_user_authentication", acr_values="urn:rs:mfa", max_age=60, redirect_uri="https://evil.example/", scope="admin", client_id="evil"`)
	page := "/resource?url=" + url.QueryEscape(rs)

	check := func(u *url.URL) {
		t.Helper()
		q := u.Query()
		if q.Get("acr_values") != "urn:rs:mfa" || q.Get("max_age") != "60" {
			t.Fatalf("step-up authorize request %v", q)
		}
		for _, k := range []string{"redirect_uri", "scope", "client_id", "response_type"} {
			if q.Get(k) != base.Get(k) {
				t.Fatalf("%s = %q, want %q", k, q.Get(k), base.Get(k))
			}
		}
		for k := range q {
			if base.Get(k) == "" && !slices.Contains([]string{"acr_values", "max_age"}, k) {
				t.Fatalf("the step-up added the parameter %s", k)
			}
		}
	}
	// A page: straight to the provider, and back to the page.
	u := h.startLogin(page)
	check(u)
	if resp := h.get(h.authorize(u)); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != page {
		t.Fatalf("step-up callback: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// An API: 401 with a login URL that starts the same login.
	resp := h.do(http.MethodGet, "/api/resource?url="+url.QueryEscape(rs), apiHeader)
	got := claimsOf(t, body(resp))
	loginURL, _ := got["login_url"].(string)
	if resp.StatusCode != http.StatusUnauthorized || got["error"] != "insufficient_user_authentication" || !strings.HasPrefix(loginURL, "/login?") {
		t.Fatalf("GET /api/resource: %d %v", resp.StatusCode, got)
	}
	if wa := resp.Header.Get("WWW-Authenticate"); !strings.Contains(wa, `acr_values="urn:rs:mfa"`) || !strings.Contains(wa, "max_age=60") {
		t.Fatalf("WWW-Authenticate %q", wa)
	}
	u = h.startLogin(loginURL)
	check(u)
	if resp := h.get(h.authorize(u)); resp.Header.Get("Location") != page {
		t.Fatalf("login_url came back to %q, want %q", resp.Header.Get("Location"), page)
	}
	// A challenge that does not parse is an ordinary 401 response.
	rs2 := resourceServer(t, `Bearer error="insufficient_user_authentication", max_age=-1`)
	if resp := h.do(http.MethodGet, "/api/resource?url="+url.QueryEscape(rs2), apiHeader); resp.StatusCode != http.StatusUnauthorized || body(resp) != "" {
		t.Fatalf("malformed challenge: %d %s", resp.StatusCode, body(resp))
	}
}

// TestResourceStepUpDPoP: with DPoP-bound tokens the resource server's
// challenge uses the DPoP scheme (RFC 9449 7.1), and Client(r) still turns
// it into a step-up.
func TestResourceStepUpDPoP(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, dpopProvider(t), WithDPoP())
	h.mustLogin("/me")
	rs := resourceServer(t, `DPoP algs="ES256", error="insufficient_user_authentication", acr_values="urn:rs:mfa"`)
	resp := h.do(http.MethodGet, "/api/resource?url="+url.QueryEscape(rs), apiHeader)
	got := claimsOf(t, body(resp))
	if resp.StatusCode != http.StatusUnauthorized || got["error"] != "insufficient_user_authentication" {
		t.Fatalf("GET /api/resource with DPoP: %d %v", resp.StatusCode, got)
	}
	if wa := resp.Header.Get("WWW-Authenticate"); !strings.Contains(wa, `acr_values="urn:rs:mfa"`) {
		t.Fatalf("WWW-Authenticate %q", wa)
	}
}
