package oidcauth

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

// TestVerifyTokensUnit runs each id_token check of the callback against a
// static key set, without the HTTP flow, so that the check that fails is
// named by the error.
func TestVerifyTokensUnit(t *testing.T) {
	const issuer, client, nonce, access = "https://op.example", "client", "the-nonce", "the-access-token"
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keys := &oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{&key.PublicKey}}
	now := time.Now()
	atHash := func(s string) string {
		h := sha256.Sum256([]byte(s))
		return base64.RawURLEncoding.EncodeToString(h[:16])
	}
	set := func(k string, v any) func(map[string]any) { return func(c map[string]any) { c[k] = v } }
	del := func(k string) func(map[string]any) { return func(c map[string]any) { delete(c, k) } }

	tests := []struct {
		name    string
		edit    func(map[string]any)
		signer  *rsa.PrivateKey // default key
		maxAge  time.Duration   // default: not requested
		acr     []string
		wantErr string // "" means valid
	}{
		{name: "valid"},
		{name: "at_hash that matches", edit: set("at_hash", atHash(access))},
		{name: "exp within the clock skew", edit: set("exp", now.Add(-30*time.Second).Unix())},
		{name: "nbf within the clock skew", edit: set("nbf", now.Add(30*time.Second).Unix())},
		{name: "azp is the client, several aud", edit: func(c map[string]any) { c["aud"] = []string{client, "other"}; c["azp"] = client }},
		{name: "signed by another key", signer: other, wantErr: "signature"},
		{name: "wrong iss", edit: set("iss", "https://attacker.example"), wantErr: "issued by a different provider"},
		{name: "aud without the client", edit: set("aud", "other"), wantErr: "audience"},
		{name: "expired", edit: set("exp", now.Add(-2*time.Minute).Unix()), wantErr: "expired"},
		{name: "missing sub", edit: del("sub"), wantErr: "no sub"},
		{name: "missing iat", edit: del("iat"), wantErr: "no iat"},
		{name: "null iat", edit: set("iat", nil), wantErr: "unmarshal claims"},
		{name: "iat in the future", edit: set("iat", now.Add(time.Hour).Unix()), wantErr: "issued in the future"},
		{name: "nbf beyond the clock skew", edit: set("nbf", now.Add(3*time.Minute).Unix()), wantErr: "not valid before"},
		{name: "nbf not a number", edit: set("nbf", "soon"), wantErr: "invalid number"},
		{name: "a standard claim of the wrong type", edit: set("name", 42), wantErr: "unmarshal"},
		{name: "azp of another client", edit: set("azp", "other"), wantErr: "azp"},
		{name: "several aud, no azp", edit: set("aud", []string{client, "other"}), wantErr: "several audiences"},
		{name: "wrong at_hash", edit: set("at_hash", atHash("another token")), wantErr: "at_hash"},
		{name: "wrong nonce", edit: set("nonce", "replayed"), wantErr: "nonce"},
		{name: "missing nonce", edit: del("nonce"), wantErr: "nonce"},
		{name: "max_age, recent auth_time", edit: set("auth_time", now.Add(-time.Minute).Unix()), maxAge: 5 * time.Minute},
		{name: "max_age, no auth_time", maxAge: 5 * time.Minute, wantErr: "no auth_time"},
		{name: "max_age, old auth_time", edit: set("auth_time", now.Add(-time.Hour).Unix()), maxAge: 5 * time.Minute, wantErr: "more than max_age"},
		{name: "acr_values, a requested acr", edit: set("acr", "mfa"), acr: []string{"pwd", "mfa"}},
		{name: "acr_values, another acr", edit: set("acr", "pwd"), acr: []string{"mfa"}, wantErr: "acr"},
		{name: "acr_values, no acr", acr: []string{"mfa"}, wantErr: "acr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims := map[string]any{
				"iss": issuer, "sub": "alice", "aud": client, "nonce": nonce,
				"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			}
			if tt.edit != nil {
				tt.edit(claims)
			}
			signer := key
			if tt.signer != nil {
				signer = tt.signer
			}
			p := &provider{issuer: issuer, clientID: client, maxAge: -1, acrValues: tt.acr,
				verifier: newIDTokenVerifier(issuer, false, keys, client, []string{"RS256"}, time.Minute)}
			a := &Auth{providers: []*provider{p}, clockSkew: time.Minute, maxClaims: DefaultMaxClaimsSize}
			if p.tel, err = newTelemetry(issuer, nil, nil); err != nil {
				t.Fatal(err)
			}
			if tt.maxAge != 0 {
				p.maxAge = tt.maxAge
			}
			tok := (&oauth2.Token{AccessToken: access}).WithExtra(map[string]any{"id_token": signJWT(t, signer, claims)})
			l, ts, err := a.verifyTokens(httptest.NewRequest("GET", "/callback", nil), p, tok, &pendingLogin{Nonce: nonce})
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.wantErr == "" && l.Subject != "alice":
				t.Fatalf("login of %q, want alice", l.Subject)
			case tt.wantErr == "":
				// The claims read once at the verification are those the
				// token record's payload gives.
				e, err := newClaimsEntry(ts)
				if err != nil {
					t.Fatal(err)
				}
				payload, _ := jwtPayload(ts.IDToken)
				want, err := parseClaims(payload)
				if err != nil || ts.parsed == nil || e.claims != ts.parsed || !reflect.DeepEqual(e.claims, want) {
					t.Fatalf("claims %+v (kept %v), want %+v (%v)", e.claims, ts.parsed != nil, want, err)
				}
			case tt.wantErr != "" && err == nil:
				t.Fatalf("accepted, want an error about %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("error %q does not say %q", err, tt.wantErr)
			}
		})
	}
}

// signJWT signs claims with key, RS256.
func signJWT(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
