package oidcauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha256" // the PS hashes
	_ "crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
	"github.com/go-jose/go-jose/v4/jwt"
)

// The client's own keys, for private_key_jwt client authentication (RFC
// 7523, OpenID Connect Core 9): a signed assertion instead of a shared
// secret, and the public keys served for a provider that registers the
// client's jwks_uri (SECURITY.md, "Client authentication").

// clientAssertionType is the client_assertion_type of RFC 7523 2.2.
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionLife is how long a client assertion is valid: short, since it is
// made for one request.
const assertionLife = 60 * time.Second

// clientKey is one of the client's keys, as given to WithClientKey.
type clientKey struct {
	signer crypto.Signer
	kid    string
}

// clientKeys are the client's keys: the first signs, all are published.
type clientKeys struct {
	keys     []clientKey
	alg      jose.SignatureAlgorithm
	signer   jose.Signer
	clientID string
	aud      string
	jwks     []byte // the public key set, served by ClientJWKSHandler
}

// WithClientKey adds a private key of the client, for private_key_jwt
// client authentication ([AuthMethodPrivateKeyJWT]): every call that
// authenticates the client (code exchange, refresh, pushed authorization
// request, revocation) carries a fresh assertion signed with the first key
// given. keyID is the kid of its header and of the published key; empty is
// the key's RFC 7638 JWK thumbprint. Give it again for more keys: the later
// ones are only published by [Auth.ClientJWKSHandler], so that a new key can
// be registered before it signs.
//
// The key is an *rsa.PrivateKey of at least 2048 bits, an *ecdsa.PrivateKey
// on P-256, P-384 or P-521, an ed25519.PrivateKey, or any crypto.Signer of
// such a key (a KMS or HSM). The algorithm is chosen from the provider's
// token_endpoint_auth_signing_alg_values_supported: PS256 before RS256 for
// RSA (RS256 when the provider lists none), ES256 (ES384, ES512) for ECDSA,
// EdDSA for Ed25519; never none or an HMAC.
func WithClientKey(key crypto.Signer, keyID string) Option {
	return func(c *config) error {
		if key == nil {
			return optionError("WithClientKey", "the key is nil")
		}
		if _, err := keyAlgs(key.Public()); err != nil {
			return optionError("WithClientKey", "%v", err)
		}
		if keyID == "" {
			tp, err := (&jose.JSONWebKey{Key: key.Public()}).Thumbprint(crypto.SHA256)
			if err != nil {
				return optionError("WithClientKey", "%v", err)
			}
			keyID = base64.RawURLEncoding.EncodeToString(tp)
		}
		for _, k := range c.clientKeys {
			if k.kid == keyID {
				return optionError("WithClientKey", "the key ID %q is given twice", keyID)
			}
		}
		c.clientKeys = append(c.clientKeys, clientKey{signer: key, kid: keyID})
		return nil
	}
}

// WithTokenEndpointAudience makes the aud of client assertions the token
// endpoint's URL instead of the issuer identifier, for providers that insist
// on it. The issuer is the default and the safer choice
// (draft-ietf-oauth-rfc7523bis: an assertion meant for one provider cannot
// be replayed at another that calls its token endpoint the same).
func WithTokenEndpointAudience() Option {
	return func(c *config) error {
		c.tokenEndpointAudience = true
		return nil
	}
}

// keyAlgs returns the JWS algorithms a public key can sign with, preferred
// first.
func keyAlgs(pub crypto.PublicKey) ([]jose.SignatureAlgorithm, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("the RSA key has %d bits, fewer than %d", k.N.BitLen(), minRSABits)
		}
		return []jose.SignatureAlgorithm{jose.PS256, jose.RS256, jose.PS384, jose.PS512, jose.RS384, jose.RS512}, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return []jose.SignatureAlgorithm{jose.ES256}, nil
		case elliptic.P384():
			return []jose.SignatureAlgorithm{jose.ES384}, nil
		case elliptic.P521():
			return []jose.SignatureAlgorithm{jose.ES512}, nil
		}
		return nil, fmt.Errorf("the ECDSA curve %s is not P-256, P-384 or P-521", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return []jose.SignatureAlgorithm{jose.EdDSA}, nil
	}
	return nil, fmt.Errorf("a %T is not an RSA, ECDSA or Ed25519 key", pub)
}

// chooseAssertionAlg picks the algorithm for the signing key from what the
// provider supports; without a list, the one every provider takes for the
// key type (RS256 for RSA).
func chooseAssertionAlg(pub crypto.PublicKey, supported []string) (jose.SignatureAlgorithm, error) {
	algs, err := keyAlgs(pub)
	if err != nil {
		return "", err
	}
	if len(supported) == 0 {
		if _, ok := pub.(*rsa.PublicKey); ok {
			return jose.RS256, nil
		}
		return algs[0], nil
	}
	for _, alg := range algs {
		if slices.Contains(supported, string(alg)) {
			return alg, nil
		}
	}
	return "", fmt.Errorf("the provider verifies client assertions only with %q, none of which the key can make (%v)", supported, algs)
}

// newClientKeys builds the signer and the published key set. aud is the
// issuer, or the token endpoint with WithTokenEndpointAudience.
func newClientKeys(keys []clientKey, clientID, aud string, supported []string) (*clientKeys, error) {
	alg, err := chooseAssertionAlg(keys[0].signer.Public(), supported)
	if err != nil {
		return nil, optionError("WithClientKey", "%v", err)
	}
	opaque := cryptosigner.Opaque(keys[0].signer)
	pub := *opaque.Public() // a copy: go-jose hands out the same one to every signature
	pub.KeyID = keys[0].kid
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: keyedSigner{opaque, keys[0].signer, &pub}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, optionError("WithClientKey", "%v", err)
	}
	var set jose.JSONWebKeySet
	for i, k := range keys {
		// Only the public half: Public() of the signer, never the signer.
		jwk := jose.JSONWebKey{Key: k.signer.Public(), KeyID: k.kid, Use: "sig"}
		if i == 0 {
			jwk.Algorithm = string(alg)
		}
		set.Keys = append(set.Keys, jwk)
	}
	jwks, err := json.Marshal(set)
	if err != nil {
		return nil, optionError("WithClientKey", "%v", err)
	}
	return &clientKeys{keys: keys, alg: alg, signer: signer, clientID: clientID, aud: aud, jwks: jwks}, nil
}

// keyedSigner is an opaque signer whose public key carries the key ID, which
// go-jose then puts in the header. pub is never written after New: signing
// runs concurrently.
type keyedSigner struct {
	jose.OpaqueSigner
	key crypto.Signer
	pub *jose.JSONWebKey
}

func (s keyedSigner) Public() *jose.JSONWebKey { return s.pub }

// SignPayload signs PS256, PS384 and PS512 with a salt as long as the hash,
// as RFC 7518 3.5 requires (go-jose's cryptosigner uses the longest salt,
// which strict verifiers refuse); other algorithms are cryptosigner's.
func (s keyedSigner) SignPayload(payload []byte, alg jose.SignatureAlgorithm) ([]byte, error) {
	var h crypto.Hash
	switch alg {
	case jose.PS256:
		h = crypto.SHA256
	case jose.PS384:
		h = crypto.SHA384
	case jose.PS512:
		h = crypto.SHA512
	default:
		return s.OpaqueSigner.SignPayload(payload, alg)
	}
	d := h.New()
	d.Write(payload)
	return s.key.Sign(rand.Reader, d.Sum(nil), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h})
}

// assertionClaims are the claims of a client assertion. aud is one string
// (draft-ietf-oauth-rfc7523bis), never an array.
type assertionClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience string `json:"aud"`
	ID       string `json:"jti"`
	IssuedAt int64  `json:"iat"`
	Expiry   int64  `json:"exp"`
}

// assertion makes a new client assertion, for one request.
func (k *clientKeys) assertion(now time.Time) (string, error) {
	return jwt.Signed(k.signer).Claims(assertionClaims{
		Issuer:   k.clientID,
		Subject:  k.clientID,
		Audience: k.aud,
		ID:       random(24),
		IssuedAt: now.Unix(),
		Expiry:   now.Add(assertionLife).Unix(),
	}).Serialize()
}

// addAssertion adds the client's authentication to a form.
func (k *clientKeys) addAssertion(form map[string][]string) error {
	a, err := k.assertion(time.Now())
	if err != nil {
		return fmt.Errorf("signing the client assertion: %w", err)
	}
	form["client_id"] = []string{k.clientID}
	form["client_assertion_type"] = []string{clientAssertionType}
	form["client_assertion"] = []string{a}
	return nil
}

// ClientJWKSHandler returns a handler that serves the client's public keys
// (those of WithClientKey, the signing key first) as a JSON Web Key Set, for
// a provider that registers the client's jwks_uri. It never serves a private
// key part. Without a client key it answers 404.
func (a *Auth) ClientJWKSHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.requireMethod(w, r, "Use GET for the key set.", http.MethodGet, http.MethodHead) {
			return
		}
		jwks := a.clientJWKS
		if jwks == nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/jwk-set+json")
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("X-Content-Type-Options", "nosniff")
		w.Write(jwks)
	})
}

// ClientJWKS returns the client's public key set, as ClientJWKSHandler
// serves it, or nil without a client key. With several providers
// (WithProvider) it holds the keys of each, in the providers' order.
func (a *Auth) ClientJWKS() []byte { return slices.Clone(a.clientJWKS) }

// mergeClientJWKS is the key set of the providers' client keys; nil when
// none has one.
func mergeClientJWKS(ps []*provider) []byte {
	var sets [][]byte
	for _, p := range ps {
		if p.clientKeys != nil {
			sets = append(sets, p.clientKeys.jwks)
		}
	}
	switch len(sets) {
	case 0:
		return nil
	case 1:
		return sets[0]
	}
	var all struct {
		Keys []json.RawMessage `json:"keys"`
	}
	for _, s := range sets {
		var set struct {
			Keys []json.RawMessage `json:"keys"`
		}
		json.Unmarshal(s, &set) // made by newClientKeys
		all.Keys = append(all.Keys, set.Keys...)
	}
	b, _ := json.Marshal(all)
	return b
}
