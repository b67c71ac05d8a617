package oidcauth

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidctest"
)

func TestTokenRefreshesWhenExpiring(t *testing.T) {
	t.Parallel()
	in := func(d time.Duration) func(*tokenSet) {
		return func(ts *tokenSet) {
			ts.Obtained, ts.Expiry = time.Now().Add(-time.Hour), time.Now().Add(d)
		}
	}
	tests := []struct {
		name    string
		ttl     time.Duration // of access tokens at the provider
		opts    []Option
		edit    func(*tokenSet) // the passing of time; nil: none
		refresh bool
	}{
		{"fresh", time.Hour, nil, nil, false},
		{"expired", time.Hour, nil, in(-time.Second), true},
		{"within the default leeway", time.Hour, nil, in(20 * time.Second), true},
		{"beyond the default leeway", time.Hour, nil, in(40 * time.Second), false},
		{"beyond a shorter leeway", time.Hour, []Option{WithRefreshLeeway(10 * time.Second)}, in(20 * time.Second), false},
		{"within a longer leeway", time.Hour, []Option{WithRefreshLeeway(5 * time.Minute)}, in(4 * time.Minute), true},
		// A token living less than twice the leeway is not refreshed at once.
		{"short-lived, just issued", 20 * time.Second, nil, nil, false},
		{"short-lived, past half its life", 20 * time.Second, nil, func(ts *tokenSet) {
			ts.Obtained, ts.Expiry = ts.Obtained.Add(-11*time.Second), ts.Expiry.Add(-11*time.Second)
		}, true},
		{"unknown expiry", time.Hour, nil, func(ts *tokenSet) { ts.Expiry = time.Time{} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, oidctest.Config{AccessTokenTTL: tt.ttl, RotateRefreshTokens: true}, append([]Option{offline}, tt.opts...)...)
			h.mustLogin("/me")
			before := stored(t, h)
			if tt.edit != nil {
				editTokens(t, h, tt.edit)
			}
			got := h.apiToken()
			after := stored(t, h)
			refreshed := h.op.CountGrants("refresh_token")
			if tt.refresh {
				if refreshed != 1 || got == before.AccessToken || got != after.AccessToken || after.Version != before.Version+1 {
					t.Fatalf("refreshes %d, token changed %v, stored %v, version %d→%d; want one refresh, its token served and stored",
						refreshed, got != before.AccessToken, got == after.AccessToken, before.Version, after.Version)
				}
				// The refreshed token is used from then on.
				if again := h.apiToken(); again != got || h.op.CountGrants("refresh_token") != 1 {
					t.Fatalf("second call: refreshes %d, same token %v", h.op.CountGrants("refresh_token"), again == got)
				}
				return
			}
			if refreshed != 0 || got != before.AccessToken {
				t.Fatalf("refreshes %d, token changed %v; want the stored token, no refresh", refreshed, got != before.AccessToken)
			}
		})
	}
}

func TestRefreshUsesTheLoginsClientAuth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		client oidctest.Client
		opts   []Option
	}{
		{"client_secret_basic", oidctest.Client{ID: "c", Secret: "s&=", AuthMethod: "client_secret_basic"}, []Option{WithClientID("c"), WithClientSecret("s&=")}},
		{"client_secret_post", oidctest.Client{ID: "c", Secret: "s", AuthMethod: "client_secret_post"}, []Option{WithClientID("c"), WithClientSecret("s"), WithClientAuth(AuthMethodPost)}},
		{"none", oidctest.Client{ID: "pub", AuthMethod: "none"}, []Option{WithClientID("pub"), WithClientSecret("")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, oidctest.Config{Clients: []oidctest.Client{tt.client}, RotateRefreshTokens: true}, append(tt.opts, offline)...)
			h.mustLogin("/me")
			expireTokens(t, h)
			h.apiToken()
			rs := refreshRequests(h.op)
			if len(rs) != 1 || rs[0].ClientAuth != tt.name || rs[0].Status != http.StatusOK {
				t.Fatalf("refresh requests %+v, want one with %s", rs, tt.name)
			}
		})
	}
}

func TestRefreshTokenRotation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, oidctest.Config{RotateRefreshTokens: true}, offline)
	h.mustLogin("/me")
	first := stored(t, h)
	seen := map[string]bool{first.RefreshToken: true}
	for i := range 3 {
		expireTokens(t, h)
		got := h.apiToken()
		ts := stored(t, h)
		if seen[ts.RefreshToken] || ts.AccessToken != got {
			t.Fatalf("refresh %d: the stored refresh token was not replaced by the rotated one", i+1)
		}
		seen[ts.RefreshToken] = true
	}
	rs := refreshRequests(h.op)
	if len(rs) != 3 {
		t.Fatalf("%d refresh requests, want 3", len(rs))
	}
	for _, r := range rs {
		if r.Status != http.StatusOK || r.Reused {
			t.Fatalf("refresh request %+v: a rotated-away refresh token was sent", r)
		}
	}
	// The provider refuses the first, rotated-away refresh token.
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}}
	req, _ := http.NewRequest(http.MethodPost, h.op.Issuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("client", "secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "invalid_grant") {
		t.Fatalf("reusing a rotated refresh token: %d %s", resp.StatusCode, b)
	}
	// The login is unaffected.
	if st := h.apiStatus(); st != http.StatusOK {
		t.Fatalf("GET /api/me: %d", st)
	}
}

func TestRefreshKeepsTheRefreshTokenWhenNoNewOne(t *testing.T) {
	t.Parallel()
	h := newHarness(t, oidctest.Config{}, offline)
	h.mustLogin("/me")
	first := stored(t, h)
	for i := range 2 {
		expireTokens(t, h)
		h.apiToken()
		if ts := stored(t, h); ts.RefreshToken != first.RefreshToken {
			t.Fatalf("refresh %d: the refresh token changed without rotation", i+1)
		}
	}
	if n := h.op.CountGrants("refresh_token"); n != 2 || len(refreshRequests(h.op)) != 2 {
		t.Fatalf("%d refreshes granted of %d, want 2 of 2", n, len(refreshRequests(h.op)))
	}
}

func TestRefreshRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		opts   []Option
		refuse func(op *oidctest.Provider)
	}{
		{"revoked refresh token", []Option{offline}, (*oidctest.Provider).RevokeRefreshTokens},
		{"invalid_grant", []Option{offline}, func(op *oidctest.Provider) {
			op.SetTamper(oidctest.Tamper{TokenStatus: 400, TokenBody: `{"error":"invalid_grant","error_description":"refresh token expired"}`})
		}},
		{"invalid_request, as Dex refuses a dead refresh token", []Option{offline}, func(op *oidctest.Provider) {
			op.SetTamper(oidctest.Tamper{TokenStatus: 400, TokenBody: `{"error":"invalid_request","error_description":"Refresh token is invalid or has already been claimed by another client."}`})
		}},
		{"no refresh token", nil, func(*oidctest.Provider) {}},
	}
	for _, tt := range tests {
		for _, browser := range []bool{false, true} {
			name := tt.name + "/api"
			if browser {
				name = tt.name + "/browser"
			}
			t.Run(name, func(t *testing.T) {
				var last error
				h := newHarness(t, oidctest.Config{}, append(tt.opts, recordErrors(&last))...)
				h.mustLogin("/me")
				var secrets []string
				json.Unmarshal([]byte(body(h.get("/tokens"))), &secrets)
				expireTokens(t, h)
				tt.refuse(h.op)
				if browser {
					resp := h.get("/token-page")
					loc := resp.Header.Get("Location")
					if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, h.auth.primary().meta.AuthorizationEndpoint+"?") {
						t.Fatalf("GET /token-page: %d to %q, want a redirect to log in again", resp.StatusCode, loc)
					}
				} else {
					resp := h.do(http.MethodGet, "/api/token", nil)
					if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" || !strings.Contains(body(resp), "login_required") {
						t.Fatalf("GET /api/token: %d %s, want 401", resp.StatusCode, body(resp))
					}
				}
				// The login has ended: its tokens are gone, and the session
				// forgot it at once (not only at the next liveness check).
				if stored(t, h) != nil {
					t.Error("the token record of the ended login is still there")
				}
				if rec, found, _ := h.auth.sm.Store.Find(h.auth.sessionStoreKey(h.sessionCookie().Value)); found {
					if _, values, _ := h.auth.sm.Codec.Decode(rec); values[sessionKey] != nil {
						t.Error("the session still holds the ended login")
					}
				}
				if st := h.apiStatus(); st != http.StatusUnauthorized {
					t.Errorf("GET /api/me after the login ended: %d, want 401", st)
				}
				// Logging in again works.
				h.op.SetTamper(oidctest.Tamper{})
				h.mustLogin("/me")
				if st := h.apiStatus(); st != http.StatusOK {
					t.Errorf("GET /api/me after logging in again: %d", st)
				}
				noSecretsLogged(t, h, secrets...)
			})
		}
	}
}

func TestRefreshProviderFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tamper oidctest.Tamper
		down   bool
	}{
		{"slow", oidctest.Tamper{TokenDelay: 5 * time.Second}, false},
		{"server error", oidctest.Tamper{TokenStatus: 503, TokenBody: `<html>down for maintenance</html>`}, false},
		{"other error", oidctest.Tamper{TokenStatus: 401, TokenBody: `{"error":"invalid_client"}`}, false},
		{"not JSON", oidctest.Tamper{TokenStatus: 200, TokenBody: `not json`}, false},
		{"down", oidctest.Tamper{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var last error
			h := newHarness(t, oidctest.Config{}, offline, WithTimeout(time.Second), recordErrors(&last))
			h.mustLogin("/me")
			var secrets []string
			json.Unmarshal([]byte(body(h.get("/tokens"))), &secrets)
			expireTokens(t, h)
			before := stored(t, h)
			h.op.SetTamper(tt.tamper)
			if tt.down {
				h.op.Close()
			}
			resp := h.do(http.MethodGet, "/api/token", nil)
			if resp.StatusCode != http.StatusBadGateway || !errors.Is(last, ErrRefresh) || errors.Is(last, ErrNotLoggedIn) {
				t.Fatalf("GET /api/token: %d %s, error %v; want 502 ErrRefresh", resp.StatusCode, body(resp), last)
			}
			if strings.Contains(body(resp), before.AccessToken) {
				t.Fatal("the expired token was served")
			}
			// The login stays, tokens untouched, and works once the provider does.
			if after := stored(t, h); after == nil || after.Version != before.Version || after.RefreshToken != before.RefreshToken {
				t.Fatal("the token record changed after a failed refresh")
			}
			noSecretsLogged(t, h, secrets...)
			if tt.down {
				return
			}
			h.op.SetTamper(oidctest.Tamper{})
			if got := h.apiToken(); got == before.AccessToken {
				t.Fatal("no refresh after the provider recovered")
			}
		})
	}
}

func TestRefreshedIDToken(t *testing.T) {
	t.Parallel()
	set := func(k string, v any) func(map[string]any) { return func(c map[string]any) { c[k] = v } }
	tests := []struct {
		name   string
		tamper func(issuer string) oidctest.Tamper
		ok     bool
	}{
		{"new claims", func(string) oidctest.Tamper { return oidctest.Tamper{IDTokenClaims: set("name", "Alice Renamed")} }, true},
		{"another sub", func(string) oidctest.Tamper { return oidctest.Tamper{IDTokenClaims: set("sub", "mallory")} }, false},
		{"another issuer", func(iss string) oidctest.Tamper { return oidctest.Tamper{IDTokenClaims: set("iss", iss+"/other")} }, false},
		{"another audience", func(string) oidctest.Tamper { return oidctest.Tamper{IDTokenClaims: set("aud", "other-client")} }, false},
		{"expired", func(string) oidctest.Tamper {
			return oidctest.Tamper{IDTokenClaims: set("exp", time.Now().Add(-time.Hour).Unix())}
		}, false},
		{"bad signature", func(string) oidctest.Tamper { return oidctest.Tamper{BadSignature: true} }, false},
		{"claims that do not parse", func(string) oidctest.Tamper { return oidctest.Tamper{IDTokenClaims: set("name", 42)} }, false},
		{"wrong at_hash", func(string) oidctest.Tamper {
			return oidctest.Tamper{IDTokenClaims: set("at_hash", "AAAAAAAAAAAAAAAAAAAAAA")}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var last error
			h := newHarness(t, oidctest.Config{RotateRefreshTokens: true}, offline, recordErrors(&last))
			h.mustLogin("/me")
			before := stored(t, h)
			expireTokens(t, h)
			h.op.SetTamper(tt.tamper(h.op.Issuer))
			resp := h.do(http.MethodGet, "/api/token", nil)
			if tt.ok {
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("GET /api/token: %d %s", resp.StatusCode, body(resp))
				}
				if ts := stored(t, h); ts.IDToken == before.IDToken {
					t.Fatal("the refreshed id_token was not stored")
				}
				if me := body(h.get("/api/me")); !strings.Contains(me, "Alice Renamed") {
					t.Fatalf("the claims did not follow the refreshed id_token: %s", me)
				}
				return
			}
			if resp.StatusCode != http.StatusBadGateway || !errors.Is(last, ErrIDToken) {
				t.Fatalf("GET /api/token: %d %s, error %v; want 502 ErrIDToken", resp.StatusCode, body(resp), last)
			}
			if stored(t, h) != nil || h.apiStatus() != http.StatusUnauthorized {
				t.Fatal("the login survived a refresh with an invalid id_token")
			}
		})
	}
}

func TestNoIDTokenOnRefreshKeepsClaims(t *testing.T) {
	t.Parallel()
	h := newHarness(t, oidctest.Config{NoIDTokenOnRefresh: true}, offline)
	h.mustLogin("/me")
	before := stored(t, h)
	me := body(h.get("/api/me"))
	expireTokens(t, h)
	h.apiToken()
	if ts := stored(t, h); ts.IDToken != before.IDToken || ts.AccessToken == before.AccessToken {
		t.Fatal("want a new access token and the login's id_token")
	}
	if again := body(h.get("/api/me")); again != me {
		t.Fatalf("the claims changed: %s → %s", me, again)
	}
}
