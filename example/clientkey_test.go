package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/oidcauth/oidcauth/oidctest"
)

// writeKey writes key to a file in the given format and returns its path.
func writeKey(t *testing.T, key crypto.Signer, format string) string {
	t.Helper()
	var b []byte
	switch format {
	case "PKCS#8":
		der, _ := x509.MarshalPKCS8PrivateKey(key)
		b = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	case "PKCS#1":
		b = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key.(*rsa.PrivateKey))})
	case "SEC 1":
		der, _ := x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
		b = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	case "JWK":
		b, _ = json.Marshal(jose.JSONWebKey{Key: key})
	}
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPrivateKeyJWTClients logs in with private_key_jwt and a key file of
// each format at a provider that has the public key registered, with and
// without PAR, and with the development provider and a key made at start;
// GET /jwks serves the public key, and 404 without one.
func TestPrivateKeyJWTClients(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tests := []struct {
		name, format string
		key          crypto.Signer
		par          string
	}{
		{"RSA PKCS#8", "PKCS#8", rk, ""},
		{"RSA PKCS#1, PAR", "PKCS#1", rk, "1"},
		{"EC SEC 1", "SEC 1", ek, ""},
		{"EC JWK, PAR", "JWK", ek, "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := oidctest.NewProvider(oidctest.Config{Clients: []oidctest.Client{{ID: "app", AuthMethod: "private_key_jwt",
				JWKS: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: tt.key.Public(), KeyID: "k1"}}}}}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.Close)
			a := startApp(t, map[string]string{"OIDC_ISSUER": p.Issuer, "OIDC_CLIENT_ID": "app", "OIDC_CLIENT_AUTH": "private_key_jwt",
				"OIDC_CLIENT_KEY_FILE": writeKey(t, tt.key, tt.format), "OIDC_CLIENT_KEY_ID": "k1", "OIDC_PAR": tt.par})
			resp, body := a.login("/me", "carol")
			if claims := wantJSON(t, resp, body, http.StatusOK); claims["sub"] == nil {
				t.Fatalf("GET /me claims: %v", claims)
			}
			if reqs := p.TokenRequests(); len(reqs) != 1 || reqs[0].ClientAuth != "private_key_jwt" || reqs[0].Status != http.StatusOK {
				t.Errorf("token requests %+v, want one with private_key_jwt", reqs)
			}
			if pushes := len(p.PushedRequests()); (pushes == 1) != (tt.par == "1") {
				t.Errorf("%d pushes with OIDC_PAR=%q", pushes, tt.par)
			}
			resp, body = a.get("/jwks", nil)
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"kid":"k1"`) || strings.Contains(body, `"d":`) {
				t.Errorf("GET /jwks: %d %s", resp.StatusCode, body)
			}
		})
	}
	t.Run("development provider, key made at start, PAR", func(t *testing.T) {
		a := startApp(t, map[string]string{"OIDC_CLIENT_AUTH": "private_key_jwt", "OIDC_PAR": "1"})
		resp, body := a.login("/me", "carol")
		if claims := wantJSON(t, resp, body, http.StatusOK); claims["sub"] != "carol" {
			t.Fatalf("GET /me claims: %v", claims)
		}
		if resp, body := a.get("/jwks", nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"crv":"P-256"`) {
			t.Errorf("GET /jwks: %d %s", resp.StatusCode, body)
		}
		resp, _ = a.do(http.MethodPost, "/logout", url.Values{}, map[string]string{"Origin": a.url})
		a.wantRedirect(resp, a.issuer+"/end_session?")
	})
	t.Run("no key", func(t *testing.T) {
		a := startApp(t, nil)
		if resp, _ := a.get("/jwks", nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET /jwks without a key: %d, want 404", resp.StatusCode)
		}
	})
}

// TestClientKeyFileErrors: the messages name the problem, never the key.
func TestClientKeyFileErrors(t *testing.T) {
	ek, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	pub, _ := json.Marshal(jose.JSONWebKey{Key: ek.Public()})
	pubPath := filepath.Join(t.TempDir(), "pub.json")
	os.WriteFile(pubPath, pub, 0o600)
	for name, path := range map[string]string{
		"P-384":      writeKey(t, ek, "SEC 1"),
		"public JWK": pubPath,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := loadConfig(envOf(map[string]string{"OIDC_CLIENT_KEY_FILE": path}))
			if err == nil || !strings.HasPrefix(err.Error(), "OIDC_CLIENT_KEY_FILE: ") || strings.Contains(err.Error(), "BEGIN") {
				t.Fatalf("loadConfig: %v", err)
			}
		})
	}
}
