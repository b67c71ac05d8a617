package oidcauth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidctest"
)

// FuzzLogoutTokenClaims signs arbitrary claim sets with the provider's real
// key and checks every token the verifier accepts against the rules of
// Back-Channel Logout 1.0 section 2.4 and 2.6, written again here
// independently: an accepted token that breaks one of them is a bug.
func FuzzLogoutTokenClaims(f *testing.F) {
	h := newHarness(f, oidctest.Config{})
	op := h.op
	valid, _ := json.Marshal(op.LogoutClaims("client", "alice", "sid-1"))
	f.Add(string(valid))
	for _, edit := range []func(map[string]any){
		func(c map[string]any) { delete(c, "sub"); delete(c, "sid") },
		func(c map[string]any) { c["nonce"] = "n" },
		func(c map[string]any) { c["events"] = map[string]any{} },
		func(c map[string]any) { c["events"] = map[string]any{oidctest.BackchannelLogoutEvent: "yes"} },
		func(c map[string]any) { c["aud"] = []string{"client", "other"} },
		func(c map[string]any) { c["iss"] = "https://attacker.example" },
		func(c map[string]any) { c["iat"] = "yesterday" },
		func(c map[string]any) { delete(c, "exp"); c["iat"] = time.Now().Add(-time.Hour).Unix() },
		func(c map[string]any) { c["sub"] = 42 },
	} {
		c := op.LogoutClaims("client", "alice", "sid-1")
		edit(c)
		b, _ := json.Marshal(c)
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, payload string) {
		var claims map[string]any
		if json.Unmarshal([]byte(payload), &claims) != nil || claims == nil {
			return
		}
		lt, err := h.auth.verifyLogoutToken(context.Background(), op.SignTyped(claims, "logout+jwt"))
		if err != nil {
			return
		}
		now := time.Now()
		num := func(k string) (float64, bool) { n, ok := claims[k].(float64); return n, ok }
		str := func(k string) string { s, _ := claims[k].(string); return s }
		var aud []string
		switch a := claims["aud"].(type) {
		case string:
			aud = []string{a}
		case []any:
			for _, x := range a {
				s, _ := x.(string)
				aud = append(aud, s)
			}
		}
		events, _ := claims["events"].(map[string]any)
		_, eventIsObject := events[oidctest.BackchannelLogoutEvent].(map[string]any)
		iat, hasIat := num("iat")
		exp, hasExp := num("exp")
		for rule, broken := range map[string]bool{
			"iss is the issuer":              str("iss") != h.auth.primary().issuer,
			"aud contains the client":        !slices.Contains(aud, "client"),
			"azp with several audiences":     len(aud) > 1 && str("azp") != "client",
			"iat present, not in the future": !hasIat || time.Unix(int64(iat), 0).After(now.Add(2*time.Minute)),
			"exp, when present, not passed":  hasExp && time.Unix(int64(exp), 0).Before(now.Add(-2*time.Minute)),
			"iat within the last hour":       hasIat && time.Unix(int64(iat), 0).Before(now.Add(-time.Hour-2*time.Minute)),
			"the logout event, an object":    !eventIsObject,
			"no nonce":                       claims["nonce"] != nil,
			"a jti":                          str("jti") == "",
			"sub or sid":                     str("sub") == "" && str("sid") == "",
			"the result is the token's":      lt.sub != str("sub") || lt.sid != str("sid") || lt.jti != str("jti"),
		} {
			if broken {
				t.Fatalf("accepted a logout token that breaks %q: %s", rule, payload)
			}
		}
	})
}

// FuzzBackchannelLogoutHandler posts arbitrary logout_token values: the
// handler never panics, answers 400 with JSON, and ends no session.
func FuzzBackchannelLogoutHandler(f *testing.F) {
	f.Add("x")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.")
	f.Add(strings.Repeat("A", 70<<10))
	h := newHarness(f, oidctest.Config{})
	h.mustLogin("/me")
	handler := h.auth.BackchannelLogoutHandler()
	f.Fuzz(func(t *testing.T, tok string) {
		req := httptest.NewRequest("POST", "/backchannel-logout", strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("logout_token %.40q: status %d %q", tok, rec.Code, rec.Header().Get("Content-Type"))
		}
		req, _ = http.NewRequest("GET", h.app.URL+"/api/me", nil)
		req.Header.Set("Accept", "application/json")
		resp, err := h.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("logout_token %.40q ended the session: %d", tok, resp.StatusCode)
		}
	})
}
