package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/oidcauth/oidcauth"
)

// loadClientKeyConfig reads OIDC_CLIENT_KEY_FILE, OIDC_CLIENT_KEY_ID and
// OIDC_PAR. A key file implies private_key_jwt; private_key_jwt with a real
// provider needs one (the development provider gets a key made at start).
func loadClientKeyConfig(get func(string) string, cfg *config) error {
	switch v := get("OIDC_PAR"); v {
	case "", "0", "1":
		cfg.PAR = v
	default:
		return badVar("OIDC_PAR", "%q is not 1 or 0", v)
	}
	path, kid := get("OIDC_CLIENT_KEY_FILE"), get("OIDC_CLIENT_KEY_ID")
	if path != "" {
		key, err := readClientKey(path)
		if err != nil {
			return badVar("OIDC_CLIENT_KEY_FILE", "%v", err)
		}
		cfg.ClientKey = key
		if cfg.ClientAuth == "" {
			cfg.ClientAuth = oidcauth.AuthMethodPrivateKeyJWT
		}
	}
	if cfg.ClientAuth != oidcauth.AuthMethodPrivateKeyJWT {
		if path != "" {
			return badVar("OIDC_CLIENT_KEY_FILE", "a client key is for OIDC_CLIENT_AUTH=private_key_jwt, not %s", cfg.ClientAuth)
		}
		if kid != "" {
			return badVar("OIDC_CLIENT_KEY_ID", "is for OIDC_CLIENT_AUTH=private_key_jwt")
		}
		return nil
	}
	if cfg.ClientKey == nil && cfg.Issuer != "" {
		return badVar("OIDC_CLIENT_KEY_FILE", "is required with OIDC_CLIENT_AUTH=private_key_jwt")
	}
	if cfg.SecretSet && cfg.ClientSecret != "" {
		return badVar("OIDC_CLIENT_AUTH", "private_key_jwt uses a key, but OIDC_CLIENT_SECRET is set")
	}
	cfg.ClientKeyID = kid
	return nil
}

// readClientKey reads a private key from a PEM file (PKCS#8, PKCS#1 or
// SEC 1) or a JSON Web Key with its private part. Its errors never quote
// the file.
func readClientKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if strings.HasPrefix(strings.TrimSpace(string(b)), "{") {
		var jwk jose.JSONWebKey
		if err := json.Unmarshal(b, &jwk); err != nil {
			return nil, fmt.Errorf("%s is not a JSON Web Key", path)
		}
		if jwk.IsPublic() {
			return nil, fmt.Errorf("%s is a public key; the private part is needed", path)
		}
		return checkClientKey(path, jwk.Key)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s is neither PEM nor a JSON Web Key", path)
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("%s holds a PEM %q, not PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: the %s does not parse", path, block.Type)
	}
	return checkClientKey(path, key)
}

// checkClientKey accepts the keys of the example's contract: RSA, and ECDSA
// on P-256.
func checkClientKey(path string, key any) (crypto.Signer, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		if k.Curve == elliptic.P256() {
			return k, nil
		}
		return nil, fmt.Errorf("%s: the EC key is on %s, not P-256", path, k.Curve.Params().Name)
	}
	return nil, fmt.Errorf("%s: a %T is not an RSA or EC P-256 key", path, key)
}

// devClientKey is the key of the development provider's client when
// OIDC_CLIENT_AUTH=private_key_jwt comes without a key file: made at
// start, lost at exit.
func devClientKey() (crypto.Signer, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// publicKeySet is the key set the development provider registers for the
// client: the key's public half under the kid the assertions carry.
func publicKeySet(key crypto.Signer, kid string) (*jose.JSONWebKeySet, error) {
	if kid == "" {
		tp, err := (&jose.JSONWebKey{Key: key.Public()}).Thumbprint(crypto.SHA256)
		if err != nil {
			return nil, err
		}
		kid = base64.RawURLEncoding.EncodeToString(tp)
	}
	return &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: kid, Use: "sig"}}}, nil
}
