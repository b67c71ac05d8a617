package oidctest

import (
	"crypto"
	"crypto/rsa"
	_ "crypto/sha512" // PS384, PS512
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Client authentication with private_key_jwt (RFC 7523, OpenID Connect Core
// 9): the client signs an assertion with a key registered in its JWKS (or
// served at its JWKSURI), and the provider checks it strictly.

// ClientAssertionType is the client_assertion_type of RFC 7523.
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// DefaultClientAssertionAlgs are the algorithms the provider verifies client
// assertions with unless Config.ClientAssertionAlgs says otherwise.
var DefaultClientAssertionAlgs = []string{"PS256", "ES256", "RS256", "EdDSA"}

// maxAssertionLife is the longest exp - now the provider accepts.
const maxAssertionLife = 5 * time.Minute

// assertionSkew is the leeway for iat and exp.
const assertionSkew = 30 * time.Second

func (p *Provider) assertionAlgs() []string {
	if len(p.cfg.ClientAssertionAlgs) > 0 {
		return p.cfg.ClientAssertionAlgs
	}
	return DefaultClientAssertionAlgs
}

// checkAssertion verifies the client assertion of r for client c: type,
// algorithm (one of the provider's), signature by one of the client's keys,
// iss = sub = client_id, aud the issuer (or the token or PAR endpoint, as
// RFC 7523 and RFC 9126 allow) as one string, exp not past and not far
// ahead, iat, and a jti never seen before.
func (p *Provider) checkAssertion(r *http.Request, c Client) error {
	if t := r.PostForm.Get("client_assertion_type"); t != ClientAssertionType {
		return fmt.Errorf("client_assertion_type %q", t)
	}
	var algs []jose.SignatureAlgorithm
	for _, a := range p.assertionAlgs() {
		algs = append(algs, jose.SignatureAlgorithm(a))
	}
	tok, err := jwt.ParseSigned(r.PostForm.Get("client_assertion"), algs)
	if err != nil {
		return fmt.Errorf("the assertion does not parse with the algorithms %v: %v", algs, err)
	}
	keys, err := p.clientKeys(c)
	if err != nil {
		return err
	}
	kid := tok.Headers[0].KeyID
	var raw map[string]json.RawMessage
	var claims jwt.Claims
	verified := false
	for _, k := range keys.Keys {
		if kid != "" && k.KeyID != kid {
			continue
		}
		if tok.Claims(k.Key, &raw, &claims) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return errors.New("no key of the client verifies the assertion")
	}
	if err := strictPSS(r.PostForm.Get("client_assertion"), tok.Headers[0].Algorithm, kid, keys); err != nil {
		return err
	}
	if claims.Issuer != c.ID || claims.Subject != c.ID {
		return fmt.Errorf("iss %q and sub %q must both be the client ID", claims.Issuer, claims.Subject)
	}
	var aud string
	if err := json.Unmarshal(raw["aud"], &aud); err != nil {
		return fmt.Errorf("aud is not one string: %s", raw["aud"])
	}
	if !slices.Contains([]string{p.Issuer, p.url("/token"), p.url("/par")}, aud) {
		return fmt.Errorf("aud %q is not this provider", aud)
	}
	now := time.Now()
	if claims.Expiry == nil || claims.Expiry.Time().Before(now.Add(-assertionSkew)) {
		return errors.New("the assertion has expired or has no exp")
	}
	if claims.Expiry.Time().After(now.Add(maxAssertionLife)) {
		return errors.New("the assertion's exp is too far ahead")
	}
	if claims.IssuedAt == nil || claims.IssuedAt.Time().After(now.Add(assertionSkew)) {
		return errors.New("the assertion has no iat or one in the future")
	}
	if claims.ID == "" {
		return errors.New("the assertion has no jti")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for j, exp := range p.jtis {
		if exp.Before(now.Add(-assertionSkew)) {
			delete(p.jtis, j)
		}
	}
	if _, seen := p.jtis[c.ID+"\x00"+claims.ID]; seen {
		return errors.New("the assertion's jti was used before")
	}
	p.jtis[c.ID+"\x00"+claims.ID] = claims.Expiry.Time()
	return nil
}

// strictPSS checks that a PS256/384/512 signature has a salt as long as the
// hash (RFC 7518 3.5), as strict providers do; go-jose accepts any salt.
func strictPSS(raw, alg, kid string, keys *jose.JSONWebKeySet) error {
	var h crypto.Hash
	switch alg {
	case "PS256":
		h = crypto.SHA256
	case "PS384":
		h = crypto.SHA384
	case "PS512":
		h = crypto.SHA512
	default:
		return nil
	}
	i := strings.LastIndexByte(raw, '.')
	sig, err := b64decode(raw[i+1:])
	if err != nil {
		return err
	}
	d := h.New()
	d.Write([]byte(raw[:i]))
	for _, k := range keys.Keys {
		if pub, ok := k.Key.(*rsa.PublicKey); ok && (kid == "" || k.KeyID == kid) &&
			rsa.VerifyPSS(pub, h, d.Sum(nil), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil {
			return nil
		}
	}
	return errors.New("the RSASSA-PSS salt is not as long as the hash (RFC 7518 3.5)")
}

// clientKeys returns the client's registered keys: its JWKS, or the set
// fetched from its JWKSURI.
func (p *Provider) clientKeys(c Client) (*jose.JSONWebKeySet, error) {
	if c.JWKS != nil {
		return c.JWKS, nil
	}
	if c.JWKSURI == "" {
		return nil, errors.New("the client has no registered keys")
	}
	resp, err := http.Get(c.JWKSURI)
	if err != nil {
		return nil, fmt.Errorf("fetching the client's jwks_uri: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the client's jwks_uri answered %s", resp.Status)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("the client's jwks_uri is not a key set: %v", err)
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			return nil, errors.New("the client's jwks_uri serves a private key")
		}
	}
	return &set, nil
}

// assertionClientID is the client an assertion claims to be: client_id, or
// else the assertion's unverified iss.
func assertionClientID(form url.Values) string {
	if id := form.Get("client_id"); id != "" {
		return id
	}
	parts := strings.Split(form.Get("client_assertion"), ".")
	if len(parts) != 3 {
		return ""
	}
	var c struct {
		Iss string `json:"iss"`
	}
	b, _ := b64decode(parts[1])
	json.Unmarshal(b, &c)
	return c.Iss
}

func b64decode(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
