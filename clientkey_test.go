package oidcauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/oidcauth/oidcauth/oidctest"
)

func rsaKey(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ecKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func edKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// publicSet is the JWKS a provider registers for keys.
func publicSet(keys map[string]crypto.Signer) *jose.JSONWebKeySet {
	set := &jose.JSONWebKeySet{}
	for kid, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Public(), KeyID: kid})
	}
	return set
}

func thumbprint(t testing.TB, k crypto.Signer) string {
	t.Helper()
	tp, err := (&jose.JSONWebKey{Key: k.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

// keyHarness is a harness whose client authenticates with key, registered
// at the provider under its thumbprint.
func keyHarness(t *testing.T, key crypto.Signer, cfg oidctest.Config, opts ...Option) *harness {
	t.Helper()
	cfg.Clients = []oidctest.Client{{ID: "client", AuthMethod: "private_key_jwt",
		JWKS: publicSet(map[string]crypto.Signer{thumbprint(t, key): key})}}
	return newHarness(t, cfg, append([]Option{WithClientSecret(""), WithClientKey(key, "")}, opts...)...)
}

// assertionParts decodes a client assertion's header and claims.
func assertionParts(t *testing.T, raw string) (header map[string]any, claims map[string]json.RawMessage) {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("the client assertion %q is not a JWS", raw)
	}
	for i, dst := range []any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(b, dst) != nil {
			t.Fatalf("the client assertion's part %d does not decode", i)
		}
	}
	return header, claims
}

// TestPrivateKeyJWT logs in, refreshes and logs out with each key type: every
// call that authenticates the client carries a fresh assertion that the
// provider verifies (signature, iss, sub, aud, exp, jti never seen before),
// with the claims RFC 7523 and draft-ietf-oauth-rfc7523bis want.
func TestPrivateKeyJWT(t *testing.T) {
	tests := []struct {
		name string
		key  crypto.Signer
		alg  string
	}{
		{"RSA", rsaKey(t, 2048), "PS256"},
		{"ECDSA P-256", ecKey(t, elliptic.P256()), "ES256"},
		{"Ed25519", edKey(t), "EdDSA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := keyHarness(t, tt.key, oidctest.Config{}, offline)
			h.mustLogin("/me")
			expireTokens(t, h)
			h.apiToken()
			if resp := h.logout(); resp.StatusCode != http.StatusFound {
				t.Fatalf("logout: %d", resp.StatusCode)
			}
			reqs := h.op.TokenRequests()
			if len(reqs) != 2 {
				t.Fatalf("token requests: %+v, want the code and the refresh grant", reqs)
			}
			jtis := map[string]bool{}
			for _, r := range reqs {
				if r.Status != http.StatusOK || r.ClientAuth != "private_key_jwt" {
					t.Fatalf("%s grant: status %d, auth %s (%s)", r.GrantType, r.Status, r.ClientAuth, r.ClientAuthError)
				}
				header, claims := assertionParts(t, r.ClientAssertion)
				if header["alg"] != tt.alg || header["kid"] != thumbprint(t, tt.key) {
					t.Errorf("header %v, want alg %s and the thumbprint as kid", header, tt.alg)
				}
				var c struct {
					Iss, Sub, Jti string
					Aud           any
					Iat, Exp      int64
				}
				b, _ := json.Marshal(claims)
				json.Unmarshal(b, &c)
				if c.Iss != "client" || c.Sub != "client" {
					t.Errorf("iss %q sub %q, want the client ID", c.Iss, c.Sub)
				}
				if aud, ok := c.Aud.(string); !ok || aud != h.op.Issuer {
					t.Errorf("aud %s, want the issuer as one string", claims["aud"])
				}
				if c.Iat == 0 || c.Exp <= c.Iat || c.Exp-c.Iat > 60 {
					t.Errorf("iat %d exp %d: want exp at most 60 s after iat", c.Iat, c.Exp)
				}
				if len(c.Jti) < 16 || jtis[c.Jti] {
					t.Errorf("jti %q: want a new random one per assertion", c.Jti)
				}
				jtis[c.Jti] = true
			}
			revs := h.op.RevocationRequests()
			if len(revs) == 0 {
				t.Fatal("logout revoked nothing")
			}
			for _, r := range revs {
				if r.Status != http.StatusOK || r.ClientAuth != "private_key_jwt" {
					t.Errorf("revocation: status %d, auth %s", r.Status, r.ClientAuth)
				}
			}
		})
	}
}

// TestAssertionsConcurrently signs assertions at once, as concurrent logins
// and refreshes do; the race detector finds any shared write.
func TestAssertionsConcurrently(t *testing.T) {
	ks, err := newClientKeys([]clientKey{{signer: ecKey(t, elliptic.P256()), kid: "k"}}, "client", "https://op.example", nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	seen := make(chan string, 16)
	for range 16 {
		wg.Go(func() {
			a, err := ks.assertion(time.Now())
			if err != nil {
				t.Error(err)
			}
			seen <- a
		})
	}
	wg.Wait()
	close(seen)
	for a := range seen {
		if header, _ := assertionParts(t, a); header["kid"] != "k" {
			t.Errorf("header %v, want kid k", header)
		}
	}
}

// TestTokenEndpointAudience: with the option, aud is the token endpoint.
func TestTokenEndpointAudience(t *testing.T) {
	key := ecKey(t, elliptic.P256())
	h := keyHarness(t, key, oidctest.Config{}, WithTokenEndpointAudience())
	h.mustLogin("/me")
	_, claims := assertionParts(t, h.op.TokenRequests()[0].ClientAssertion)
	if string(claims["aud"]) != `"`+h.op.Issuer+`/token"` {
		t.Fatalf("aud %s, want the token endpoint", claims["aud"])
	}
}

// TestClientJWKSHandler serves the public keys, the signing key first, and
// never a private part; a provider that registers the handler's URL as the
// client's jwks_uri verifies the assertions.
func TestClientJWKSHandler(t *testing.T) {
	signing, next := rsaKey(t, 2048), ecKey(t, elliptic.P256())
	op := newProvider(t, oidctest.Config{Clients: []oidctest.Client{{ID: "client", AuthMethod: "private_key_jwt"}}})
	h := newHarnessWith(t, op, WithClientSecret(""), WithClientKey(signing, "k1"), WithClientKey(next, ""))
	jwks := httptest.NewServer(h.auth.ClientJWKSHandler())
	t.Cleanup(jwks.Close)
	op.SetClient(oidctest.Client{ID: "client", AuthMethod: "private_key_jwt", JWKSURI: jwks.URL + "/jwks"})

	resp := h.get(jwks.URL + "/jwks")
	raw := body(resp)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/jwk-set+json" {
		t.Fatalf("GET /jwks: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	var members struct{ Keys []map[string]any }
	if err := json.Unmarshal([]byte(raw), &members); err != nil || len(members.Keys) != 2 {
		t.Fatalf("GET /jwks: %s", raw)
	}
	for _, k := range members.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k", "oth"} {
			if _, ok := k[private]; ok {
				t.Fatalf("the key set has the private member %q: %s", private, raw)
			}
		}
	}
	if members.Keys[0]["kid"] != "k1" || members.Keys[0]["alg"] != "PS256" || members.Keys[1]["kid"] != thumbprint(t, next) {
		t.Errorf("keys %v: want k1 (PS256) first, then the thumbprint of the second", members.Keys)
	}
	var set jose.JSONWebKeySet
	json.Unmarshal([]byte(raw), &set)
	for _, k := range set.Keys {
		if !k.IsPublic() {
			t.Errorf("key %s is not public", k.KeyID)
		}
	}
	h.mustLogin("/me")
	if r := op.TokenRequests()[0]; r.Status != http.StatusOK {
		t.Fatalf("code grant with the jwks_uri: %d %s", r.Status, r.ClientAuthError)
	}
	if _, claims := assertionParts(t, op.TokenRequests()[0].ClientAssertion); claims["iss"] == nil {
		t.Fatal("no assertion")
	}

	plain := newHarness(t, oidctest.Config{})
	rec := httptest.NewRecorder()
	plain.auth.ClientJWKSHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/jwks", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("without a client key: %d, want 404", rec.Code)
	}
	if plain.auth.ClientJWKS() != nil {
		t.Error("ClientJWKS without a client key is not nil")
	}
}

// TestAssertionAlgorithm picks PS256 before RS256, the key type's only
// algorithm for ECDSA and Ed25519, RS256 when the provider lists none, and
// never none or an HMAC.
func TestAssertionAlgorithm(t *testing.T) {
	r, e, d := rsaKey(t, 2048).Public(), ecKey(t, elliptic.P256()).Public(), edKey(t).Public()
	tests := []struct {
		name      string
		key       crypto.PublicKey
		supported []string
		want      jose.SignatureAlgorithm // "" is an error
	}{
		{"RSA, PS256 and RS256", r, []string{"RS256", "PS256"}, jose.PS256},
		{"RSA, RS256 only", r, []string{"RS256", "ES256"}, jose.RS256},
		{"RSA, none listed", r, nil, jose.RS256},
		{"RSA, only HMAC and none", r, []string{"HS256", "none"}, ""},
		{"ECDSA, ES256", e, []string{"PS256", "ES256"}, jose.ES256},
		{"ECDSA, not listed", e, []string{"RS256", "PS256"}, ""},
		{"ECDSA, none listed", e, nil, jose.ES256},
		{"Ed25519, EdDSA", d, []string{"EdDSA"}, jose.EdDSA},
		{"Ed25519, HMAC only", d, []string{"HS256"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := chooseAssertionAlg(tt.key, tt.supported)
			if got != tt.want || (err != nil) != (tt.want == "") {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestClientKeyOptions: the key and the method go together, and a key the
// provider cannot verify fails New, naming the option.
func TestClientKeyOptions(t *testing.T) {
	op := newProvider(t, oidctest.Config{})
	good := ecKey(t, elliptic.P256())
	tests := []struct {
		name   string
		opts   []Option
		edit   func(map[string]any)
		option string
	}{
		{"RSA key under 2048 bits", []Option{WithClientKey(rsaKey(t, 1024), "")}, nil, "WithClientKey"},
		{"P-224 key", []Option{WithClientKey(ecKey(t, elliptic.P224()), "")}, nil, "WithClientKey"},
		{"nil key", []Option{WithClientKey(nil, "")}, nil, "WithClientKey"},
		{"the same key ID twice", []Option{WithClientKey(good, "a"), WithClientKey(ecKey(t, elliptic.P256()), "a")}, nil, "WithClientKey"},
		{"private_key_jwt without a key", []Option{WithClientAuth(AuthMethodPrivateKeyJWT)}, nil, "WithClientKey"},
		{"a key with client_secret_basic", []Option{WithClientKey(good, ""), WithClientAuth(AuthMethodBasic), WithClientSecret("s")}, nil, "WithClientKey"},
		{"a key with none", []Option{WithClientKey(good, ""), WithClientAuth(AuthMethodNone)}, nil, "WithClientKey"},
		{"a key and a secret", []Option{WithClientKey(good, ""), WithClientSecret("s")}, nil, "WithClientKey"},
		{"provider without private_key_jwt", []Option{WithClientKey(good, "")},
			func(d map[string]any) { d["token_endpoint_auth_methods_supported"] = []string{"client_secret_basic"} }, "WithClientKey"},
		{"provider verifying only HMAC", []Option{WithClientKey(good, "")},
			func(d map[string]any) {
				d["token_endpoint_auth_signing_alg_values_supported"] = []string{"HS256", "none"}
			}, "WithClientKey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op.SetTamper(oidctest.Tamper{Metadata: tt.edit})
			opts := append([]Option{WithClientID("client"), WithRedirectURL("http://127.0.0.1/callback")}, tt.opts...)
			_, err := New(context.Background(), op.Issuer, opts...)
			if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), tt.option) {
				t.Fatalf("New: %v; want ErrInvalidOption naming %s", err, tt.option)
			}
		})
	}
	op.SetTamper(oidctest.Tamper{})
	a, err := New(context.Background(), op.Issuer, WithClientID("client"), WithRedirectURL("http://127.0.0.1/callback"), WithClientKey(good, ""))
	if err != nil || a.primary().authMethod != AuthMethodPrivateKeyJWT {
		t.Fatalf("a key alone: %v, method %q; want private_key_jwt", err, a.primary().authMethod)
	}
	// No key: private_key_jwt is never picked from discovery.
	m := &metadata{TokenEndpointAuthMethods: []string{"private_key_jwt"}}
	if got, err := m.chooseAuthMethod("", "", false); got != AuthMethodNone || err != nil {
		t.Fatalf("no key, no secret: %q %v, want none", got, err)
	}
}

// TestClientAssertionNotLogged: the assertion never reaches the logs, even
// when the provider refuses it.
func TestClientAssertionNotLogged(t *testing.T) {
	key := ecKey(t, elliptic.P256())
	op := newProvider(t, oidctest.Config{Clients: []oidctest.Client{{ID: "client", AuthMethod: "private_key_jwt",
		JWKS: publicSet(map[string]crypto.Signer{"other": ecKey(t, elliptic.P256())})}}})
	h := newHarnessWith(t, op, WithClientSecret(""), WithClientKey(key, ""))
	if resp := h.login("/me"); resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("login with an unregistered key: %d, want 502", resp.StatusCode)
	}
	r := op.TokenRequests()[0]
	if r.Status != http.StatusUnauthorized || r.ClientAssertion == "" {
		t.Fatalf("token request %+v, want a refused assertion", r)
	}
	noSecretsLogged(t, h, r.ClientAssertion, strings.Split(r.ClientAssertion, ".")[2])
}

// BenchmarkClientAssertion is the cost of one client assertion, which every
// code exchange, refresh, push and revocation pays.
func BenchmarkClientAssertion(b *testing.B) {
	for _, k := range []struct {
		name string
		key  crypto.Signer
	}{
		{"ES256", ecKey(b, elliptic.P256())},
		{"PS256", rsaKey(b, 2048)},
		{"EdDSA", edKey(b)},
	} {
		b.Run(k.name, func(b *testing.B) {
			ks, err := newClientKeys([]clientKey{{signer: k.key, kid: "k"}}, "client", "https://op.example", []string{"PS256", "ES256", "EdDSA"})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := ks.assertion(time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
