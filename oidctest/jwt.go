package oidctest

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
)

// Sign signs claims as a JWT with the provider's current key, applying the
// signing knobs of the current Tamper (Alg, BadSignature, NoKeyID,
// UnknownKey). Tests use it to make logout tokens and other JWTs.
func (p *Provider) Sign(claims map[string]any) string {
	p.mu.Lock()
	key, kid, t := p.keys[0], p.kids[0], p.tamper
	p.mu.Unlock()
	return sign(claims, key, kid, p.signingAlg(), t, "JWT")
}

// SignTyped is Sign with a typ header, such as "logout+jwt"; an empty typ
// leaves the header out.
func (p *Provider) SignTyped(claims map[string]any, typ string) string {
	p.mu.Lock()
	key, kid, t := p.keys[0], p.kids[0], p.tamper
	p.mu.Unlock()
	return sign(claims, key, kid, p.signingAlg(), t, typ)
}

// signingAlg is Config.SigningAlg, RS256 by default.
func (p *Provider) signingAlg() string {
	if p.cfg.SigningAlg != "" {
		return p.cfg.SigningAlg
	}
	return "RS256"
}

func sign(claims map[string]any, key *rsa.PrivateKey, kid, alg string, t Tamper, typ string) string {
	if t.Alg != "" {
		alg = t.Alg
	}
	if t.UnknownKey {
		other, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		key, kid = other, "unknown-"+randomString(4)
	}
	header := map[string]any{"alg": alg}
	if typ != "" {
		header["typ"] = typ
	}
	if !t.NoKeyID {
		header["kid"] = kid
	}
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := b64(h) + "." + b64(c)
	var sig []byte
	switch alg {
	case "none":
		sig = nil
	case "HS256":
		// Algorithm confusion: an HMAC keyed with the public key's bytes.
		pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
		m := hmac.New(sha256.New, pub)
		m.Write([]byte(input))
		sig = m.Sum(nil)
	case "PS256":
		d := sha256.Sum256([]byte(input))
		var err error
		sig, err = rsa.SignPSS(rand.Reader, key, crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		if err != nil {
			panic(err)
		}
	default:
		d := sha256.Sum256([]byte(input))
		var err error
		sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
		if err != nil {
			panic(err)
		}
	}
	if t.BadSignature && len(sig) > 0 {
		sig[len(sig)/2] ^= 0xff
	}
	return input + "." + b64(sig)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// atHash is the at_hash of an access token for RS256 and PS256 (SHA-256).
func atHash(accessToken string) string {
	d := sha256.Sum256([]byte(accessToken))
	return b64(d[:len(d)/2])
}

func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	t := p.tamper
	var keys []map[string]any
	for i, k := range p.keys {
		keys = append(keys, map[string]any{
			"kty": "RSA", "use": "sig", "alg": p.signingAlg(), "kid": p.kids[i],
			"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes()),
		})
	}
	p.mu.Unlock()
	if t.JWKSStatus != 0 {
		w.WriteHeader(t.JWKSStatus)
		w.Write([]byte(t.JWKSBody))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}
