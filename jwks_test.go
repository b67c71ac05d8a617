package oidcauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/oidcauth/oidcauth/oidctest"
)

func TestKeyRotation(t *testing.T) {
	for _, keepOld := range []bool{true, false} {
		name := map[bool]string{true: "graceful", false: "abrupt"}[keepOld]
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, oidctest.Config{}, WithJWKSRefreshInterval(0))
			h.mustLogin("/me")
			if err := h.op.RotateKeys(keepOld); err != nil {
				t.Fatal(err)
			}
			fetches := h.op.Hits("/jwks")
			h.mustLogin("/login?return_to=/me")
			if h.op.Hits("/jwks") != fetches+1 {
				t.Fatalf("JWKS fetched %d times for a new kid, want once", h.op.Hits("/jwks")-fetches)
			}
		})
	}
}

// TestKeyRotationRightAfterStart: a provider that rotates its key seconds
// after the application fetched its key set at start. Filling the cache is
// not a refetch, so the first token with the new kid fetches the keys at
// once, with the default interval.
func TestKeyRotationRightAfterStart(t *testing.T) {
	h := newHarness(t, oidctest.Config{})
	if err := h.op.RotateKeys(false); err != nil {
		t.Fatal(err)
	}
	fetches := h.op.Hits("/jwks")
	h.mustLogin("/me")
	if got := h.op.Hits("/jwks") - fetches; got != 1 {
		t.Fatalf("JWKS fetched %d times for the rotated key, want once", got)
	}
	// A second rotation within the interval waits for it: the limit holds.
	if err := h.op.RotateKeys(false); err != nil {
		t.Fatal(err)
	}
	if resp := h.login("/login?return_to=/me"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a second rotation within the refresh interval: status %d, want 400", resp.StatusCode)
	}
	if got := h.op.Hits("/jwks") - fetches; got != 1 {
		t.Fatalf("JWKS fetched %d times after two rotations within the interval, want once", got)
	}
}

func TestUnknownKeyIDsAreRateLimited(t *testing.T) {
	var last error
	h := newHarness(t, oidctest.Config{}, recordErrors(&last))
	fetches := h.op.Hits("/jwks")
	h.op.SetTamper(oidctest.Tamper{UnknownKey: true})
	for range 5 {
		if resp := h.login("/me"); resp.StatusCode != http.StatusBadRequest || !errors.Is(last, ErrIDToken) {
			t.Fatalf("status %d error %v", resp.StatusCode, last)
		}
	}
	// The first unknown kid after start may fetch once; the others wait for
	// the interval.
	if got := h.op.Hits("/jwks") - fetches; got > 1 {
		t.Fatalf("%d JWKS fetches for 5 unknown kids within the refresh interval, want at most 1", got)
	}
}

func TestJWKSDownKeepsCachedKeys(t *testing.T) {
	var last error
	h := newHarness(t, oidctest.Config{}, WithJWKSRefreshInterval(0), recordErrors(&last))
	h.op.SetTamper(oidctest.Tamper{JWKSStatus: http.StatusInternalServerError, JWKSBody: "down"})
	h.mustLogin("/me") // known key: no fetch needed
	// A rotated key cannot be fetched: fail closed.
	h.op.RotateKeys(false)
	if resp := h.login("/login?return_to=/me"); resp.StatusCode != http.StatusBadRequest || !errors.Is(last, ErrIDToken) {
		t.Fatalf("status %d error %v", resp.StatusCode, last)
	}
	// Garbage instead of keys: still the cached ones, still closed.
	h.op.SetTamper(oidctest.Tamper{JWKSStatus: http.StatusOK, JWKSBody: `{"keys": "nope"`})
	if resp := h.login("/login?return_to=/me"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// Back up: the new key is fetched and logins work again.
	h.op.SetTamper(oidctest.Tamper{})
	h.mustLogin("/login?return_to=/me")
}

func TestKidAbsentWithSeveralKeys(t *testing.T) {
	h := newHarness(t, oidctest.Config{}, WithJWKSRefreshInterval(0))
	h.op.RotateKeys(true)
	h.op.SetTamper(oidctest.Tamper{NoKeyID: true})
	// Without kid every key of the set is tried; only the provider's keys
	// are in it, so the signature still has to be the provider's.
	h.mustLogin("/me")
	h.op.SetTamper(oidctest.Tamper{NoKeyID: true, UnknownKey: true})
	if resp := h.login("/login?return_to=/me"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("kid absent, foreign key: status %d", resp.StatusCode)
	}
}

func TestParseKeySet(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwk := func(k any, kid, use string) json.RawMessage {
		b, err := json.Marshal(jose.JSONWebKey{Key: k, KeyID: kid, Use: use})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	secp256k1 := json.RawMessage(`{"kty":"EC","crv":"secp256k1","alg":"ES256K","kid":"k1",
		"x":"` + b64int(big.NewInt(1)) + `","y":"` + b64int(big.NewInt(2)) + `"}`)
	tests := []struct {
		name string
		keys []json.RawMessage
		want []string // kids kept
	}{
		{"RSA and EC", []json.RawMessage{jwk(&rsaKey.PublicKey, "r", "sig"), jwk(&ecKey.PublicKey, "e", "")}, []string{"r", "e"}},
		{"secp256k1 beside RSA", []json.RawMessage{secp256k1, jwk(&rsaKey.PublicKey, "r", "")}, []string{"r"}},
		{"symmetric key", []json.RawMessage{jwk([]byte("0123456789abcdef0123456789abcdef"), "h", ""), jwk(&rsaKey.PublicKey, "r", "")}, []string{"r"}},
		{"private key", []json.RawMessage{jwk(rsaKey, "p", ""), jwk(&ecKey.PublicKey, "e", "")}, []string{"e"}},
		{"encryption key", []json.RawMessage{jwk(&rsaKey.PublicKey, "enc", "enc"), jwk(&ecKey.PublicKey, "e", "")}, []string{"e"}},
		{"RSA under 2048 bits", []json.RawMessage{jwk(&small.PublicKey, "s", ""), jwk(&ecKey.PublicKey, "e", "")}, []string{"e"}},
		{"nothing usable", []json.RawMessage{jwk(&small.PublicKey, "s", "")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := json.Marshal(map[string]any{"keys": tt.keys})
			keys, err := parseKeySet(b)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("kept %d keys, want an error", len(keys))
				}
				return
			}
			var kids []string
			for _, k := range keys {
				kids = append(kids, k.KeyID)
			}
			if err != nil || len(kids) != len(tt.want) {
				t.Fatalf("kept %v (%v), want %v", kids, err, tt.want)
			}
			for i := range kids {
				if kids[i] != tt.want[i] {
					t.Fatalf("kept %v, want %v", kids, tt.want)
				}
			}
		})
	}
}

func b64int(n *big.Int) string {
	b := make([]byte, 32)
	n.FillBytes(b)
	return b64url(b)
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
