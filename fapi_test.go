package oidcauth

import (
	"context"
	"crypto"
	"crypto/elliptic"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/oidcauth/oidcauth/oidctest"
)

// fapiConfig is an oidctest provider as a FAPI 2.0 provider is: PS256
// id_tokens, the iss parameter, DPoP with nonces, and a client that
// authenticates with key and must use DPoP.
func fapiConfig(t *testing.T, key crypto.Signer) oidctest.Config {
	return oidctest.Config{
		SigningAlg: "PS256", IssParameter: true, RequirePAR: true,
		DPoP: true, DPoPNonce: true, RotateRefreshTokens: true,
		Clients: []oidctest.Client{{ID: "client", AuthMethod: "private_key_jwt", RequireDPoP: true,
			JWKS: publicSet(map[string]crypto.Signer{thumbprint(t, key): key})}},
	}
}

// TestFAPI2Login: one option turns on PAR, private_key_jwt, DPoP and the
// iss check, and a login, a refresh and userinfo work with all of them.
func TestFAPI2Login(t *testing.T) {
	t.Parallel()
	key := ecKey(t, elliptic.P256())
	h := newHarness(t, fapiConfig(t, key), WithClientSecret(""), WithClientKey(key, ""), WithFAPI2(), offline)
	u := h.startLogin("/me")
	if q := u.Query(); len(q) != 2 || q.Get("request_uri") == "" || q.Get("client_id") != "client" {
		t.Fatalf("authorize URL %s: want only client_id and request_uri", u)
	}
	if pushes := h.op.PushedRequests(); len(pushes) != 1 || pushes[0].ClientAuth != "private_key_jwt" {
		t.Fatalf("pushes: %+v", pushes)
	}
	if resp := h.get(h.authorize(u)); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/me" {
		t.Fatalf("callback: %d %s", resp.StatusCode, body(resp))
	}
	ts := stored(t, h)
	if ts == nil || ts.TokenType != "DPoP" || h.op.TokenBinding(ts.AccessToken) != keyThumbprint(t, ts.DPoPKey) {
		t.Fatalf("the tokens are not DPoP-bound: %+v", ts)
	}
	for _, req := range h.op.TokenRequests() {
		if req.ClientAuth != "private_key_jwt" {
			t.Fatalf("a token request authenticated with %q", req.ClientAuth)
		}
	}
	expireTokens(t, h)
	if st, claims := h.userinfo(); st != http.StatusOK || claims["sub"] != "alice" {
		t.Fatalf("userinfo after the refresh: %d %v", st, claims)
	}
}

// TestFAPI2RefusesIDTokenAlgs: of the id_token algorithms a provider
// lists, only PS256, ES256 and EdDSA are accepted; an RS256 id_token fails
// the login.
func TestFAPI2RefusesIDTokenAlgs(t *testing.T) {
	t.Parallel()
	key := ecKey(t, elliptic.P256())
	cfg := fapiConfig(t, key)
	cfg.SigningAlg = "RS256"
	op := newProvider(t, cfg)
	h := newHarnessWith(t, op, WithClientSecret(""), WithClientKey(key, ""), WithFAPI2(),
		WithEndpoints(Endpoints{
			Authorize: op.Issuer + "/authorize", Token: op.Issuer + "/token", JWKS: op.Issuer + "/jwks",
			UserInfo: op.Issuer + "/userinfo", SigningAlgs: []string{"RS256", "PS256"},
			IssParameter: true, PushedAuthorization: op.Issuer + "/par",
		}))
	resp := h.login("/me")
	if resp.StatusCode != http.StatusBadRequest || h.apiStatus() != http.StatusUnauthorized {
		t.Fatalf("an RS256 id_token under WithFAPI2: %d %s", resp.StatusCode, body(resp))
	}
	if !strings.Contains(h.logs.String(), "RS256") {
		t.Fatalf("the log does not say why: %s", h.logs.String())
	}
}

// TestFAPI2Refusals: what the profile forbids fails New, naming WithFAPI2
// and what to change.
func TestFAPI2Refusals(t *testing.T) {
	t.Parallel()
	ec := ecKey(t, elliptic.P256())
	rsaK := rsaKey(t, 2048)
	tests := []struct {
		name string
		cfg  func(*oidctest.Config)
		opts []Option
		want string
	}{
		{"a client secret", nil, []Option{WithClientSecret("secret"), WithClientKey(ec, "")}, "forbids client secrets"},
		{"no client key", nil, nil, "add WithClientKey"},
		{"another auth method", nil, []Option{WithClientKey(ec, ""), WithClientAuth(AuthMethodBasic)}, "not client_secret_basic"},
		{"PAR turned off", nil, []Option{WithClientKey(ec, ""), WithPAR(false)}, "remove WithPAR(false)"},
		{"RSA DPoP proofs", nil, []Option{WithClientKey(ec, ""), WithDPoP("ES384")}, "not ES384"},
		{"RS256 id_tokens", func(c *oidctest.Config) { c.SigningAlg = "RS256" }, []Option{WithClientKey(ec, "")}, "signs id_tokens with [RS256] only"},
		{"no iss parameter", func(c *oidctest.Config) { c.IssParameter = false }, []Option{WithClientKey(ec, "")}, "authorization_response_iss_parameter_supported"},
		{"RS256 assertions", func(c *oidctest.Config) { c.ClientAssertionAlgs = []string{"RS256"} }, []Option{WithClientKey(rsaK, "")}, "with RS256, which FAPI 2.0 forbids"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := fapiConfig(t, ec)
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			op := newProvider(t, cfg)
			opts := append([]Option{WithClientID("client"), WithRedirectURL("http://127.0.0.1/callback"), WithFAPI2()}, tt.opts...)
			_, err := New(context.Background(), op.Issuer, opts...)
			if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "WithFAPI2") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: %v, want ErrInvalidOption naming WithFAPI2 and %q", err, tt.want)
			}
		})
	}
}
