package oidcauth

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/oidcauth/oidcauth/oidctest"
)

func TestUserInfo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		expire   func(t testing.TB, h *harness)
		hits     int // at the userinfo endpoint
		refreshs int
	}{
		{"fresh token", func(testing.TB, *harness) {}, 1, 0},
		// Expired by the clock: refreshed before the call.
		{"expired token", expireTokens, 1, 1},
		// Expired early by the provider: refused, refreshed, called again.
		{"token refused", func(_ testing.TB, h *harness) { h.op.ExpireAccessTokens() }, 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, oidctest.Config{RotateRefreshTokens: true}, offline)
			h.mustLogin("/me")
			tt.expire(t, h)
			st, claims := h.userinfo()
			if st != http.StatusOK || claims["sub"] != "alice" || claims["email"] != "alice@example.com" {
				t.Fatalf("GET /api/userinfo: %d %v", st, claims)
			}
			if hits, n := h.op.Hits("/userinfo"), h.op.CountGrants("refresh_token"); hits != tt.hits || n != tt.refreshs {
				t.Fatalf("userinfo calls %d, refreshes %d; want %d, %d", hits, n, tt.hits, tt.refreshs)
			}
		})
	}
}

func TestUserInfoRefusals(t *testing.T) {
	t.Parallel()
	set := func(k string, v any) func(map[string]any) { return func(c map[string]any) { c[k] = v } }
	tests := []struct {
		name   string
		cfg    oidctest.Config
		tamper oidctest.Tamper
		// before runs after login, before the call.
		before func(h *harness)
		status int
		kind   error
	}{
		{"another sub", oidctest.Config{}, oidctest.Tamper{UserInfoClaims: set("sub", "mallory")}, nil, http.StatusBadGateway, ErrUserInfo},
		{"no sub", oidctest.Config{}, oidctest.Tamper{UserInfoClaims: func(c map[string]any) { delete(c, "sub") }}, nil, http.StatusBadGateway, ErrUserInfo},
		{"sub not a string", oidctest.Config{}, oidctest.Tamper{UserInfoClaims: set("sub", 42)}, nil, http.StatusBadGateway, ErrUserInfo},
		// The token is refused even after a refresh.
		{"refused twice", oidctest.Config{AccessTokenTTL: -1}, oidctest.Tamper{}, nil, http.StatusBadGateway, ErrUserInfo},
		// Refused, and the login has no refresh token: it ends.
		{"refused, no refresh token", oidctest.Config{NoRefreshTokens: true}, oidctest.Tamper{},
			func(h *harness) { h.op.ExpireAccessTokens() }, http.StatusUnauthorized, ErrNotLoggedIn},
		{"refresh fails", oidctest.Config{}, oidctest.Tamper{TokenStatus: 500},
			func(h *harness) { expireTokens(h.t, h) }, http.StatusBadGateway, ErrRefresh},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var last error
			h := newHarness(t, tt.cfg, offline, recordErrors(&last))
			h.mustLogin("/me")
			var secrets []string
			json.Unmarshal([]byte(body(h.get("/tokens"))), &secrets)
			if tt.before != nil {
				tt.before(h)
			}
			h.op.SetTamper(tt.tamper)
			st, claims := h.userinfo()
			if st != tt.status || (tt.kind != ErrNotLoggedIn && !errors.Is(last, tt.kind)) {
				t.Fatalf("GET /api/userinfo: %d %v, error %v; want %d %v", st, claims, last, tt.status, tt.kind)
			}
			if claims["email"] != nil {
				t.Fatal("the refused claims were served")
			}
			noSecretsLogged(t, h, secrets...)
		})
	}
}

func TestUserInfoWithoutEndpoint(t *testing.T) {
	t.Parallel()
	var last error
	op := newProvider(t, oidctest.Config{})
	op.SetTamper(oidctest.Tamper{Metadata: func(doc map[string]any) { delete(doc, "userinfo_endpoint") }})
	h := newHarnessWith(t, op, recordErrors(&last))
	h.mustLogin("/me")
	if st, _ := h.userinfo(); st != http.StatusBadGateway || !errors.Is(last, ErrUserInfo) {
		t.Fatalf("GET /api/userinfo: %d %v, want 502 ErrUserInfo", st, last)
	}
}

func TestUserInfoClaimsAtLogin(t *testing.T) {
	t.Parallel()
	extra := func(c map[string]any) {
		c["name"] = "Alice from UserInfo"
		c["groups"] = []string{"admins"}
		c["iss"] = "forged"
		c["aud"] = "forged"
	}
	h := newHarness(t, oidctest.Config{RotateRefreshTokens: true}, offline, WithUserInfoClaims())
	h.op.SetTamper(oidctest.Tamper{UserInfoClaims: extra})
	h.mustLogin("/me")
	var claims map[string]any
	json.Unmarshal([]byte(body(h.get("/api/me"))), &claims)
	if claims["name"] != "Alice from UserInfo" || claims["groups"] == nil || claims["iss"] != h.op.Issuer || claims["aud"] != "client" || claims["nonce"] == nil {
		t.Fatalf("merged claims %v: want userinfo's user claims over the id_token's, the id_token's iss, aud and nonce", claims)
	}
	// A refreshed id_token updates the token claims; userinfo's stay.
	expireTokens(t, h)
	h.op.SetTamper(oidctest.Tamper{UserInfoClaims: extra, IDTokenClaims: func(c map[string]any) { c["iat"] = c["iat"].(int64) + 1 }})
	h.apiToken()
	var after map[string]any
	json.Unmarshal([]byte(body(h.get("/api/me"))), &after)
	if after["iat"] == claims["iat"] || after["name"] != "Alice from UserInfo" || after["groups"] == nil {
		t.Fatalf("claims after refresh %v", after)
	}
}

func TestUserInfoClaimsAtLoginRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tamper oidctest.Tamper
	}{
		{"another sub", oidctest.Tamper{UserInfoClaims: func(c map[string]any) { c["sub"] = "mallory" }}},
		{"no claims", oidctest.Tamper{UserInfoClaims: func(c map[string]any) { clear(c) }}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var last error
			h := newHarness(t, oidctest.Config{}, WithUserInfoClaims(), recordErrors(&last))
			h.op.SetTamper(tt.tamper)
			resp := h.login("/me")
			if resp.StatusCode != http.StatusBadGateway || !errors.Is(last, ErrUserInfo) || !strings.Contains(body(resp), "userinfo_failed") {
				t.Fatalf("login: %d %s, error %v; want 502 ErrUserInfo", resp.StatusCode, body(resp), last)
			}
			if st := h.apiStatus(); st != http.StatusUnauthorized {
				t.Fatalf("GET /api/me after the refused login: %d", st)
			}
		})
	}
}

// userinfo returns GET /api/userinfo's status and JSON object.
func (h *harness) userinfo() (int, map[string]any) {
	h.t.Helper()
	resp := h.do(http.MethodGet, "/api/userinfo", nil)
	var claims map[string]any
	json.Unmarshal([]byte(body(resp)), &claims)
	return resp.StatusCode, claims
}
