package oidcauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// ErrDPoP means a DPoP rule (RFC 9449) was broken: the token endpoint
// answered a token that is not DPoP-bound when one was asked for, or a
// login's DPoP key is missing or unreadable. It comes wrapped with
// [ErrExchange] (at login) or [ErrRefresh] (at a refresh).
var ErrDPoP = errors.New("oidcauth: DPoP")

// dpopAlgs are the proof algorithms oidcauth can sign with, in its order of
// preference. RSA is left out: a new key per login would cost a 2048-bit
// key generation on every callback.
var dpopAlgs = []string{"ES256", "ES384", "EdDSA"}

// WithDPoP makes the tokens sender-constrained with DPoP (RFC 9449): every
// login gets a new key pair, kept in the login's token record (so every
// instance sharing the store uses it, sealed by WithTokenEncryption when
// that is on, and kept across refreshes, to which the refresh token is
// bound); the code exchange and each refresh carry a proof made with it,
// and so does every call with the access token ([Auth.Client],
// [Auth.UserInfo], [Auth.AuthHeaders]), which is sent as
// "Authorization: DPoP <token>". A server's DPoP-Nonce is remembered per
// origin, and a request refused with use_dpop_nonce is repeated once with
// it.
//
// A token response whose token_type is not DPoP is refused (RFC 9449 5):
// the login fails, a refresh fails and the login keeps its earlier tokens.
//
// algs, when given, are the proof algorithms allowed, in order of
// preference, among ES256, ES384 and EdDSA (default: all three, ES256
// first). The first of them that the provider lists in
// dpop_signing_alg_values_supported signs; New fails when it lists others
// only.
func WithDPoP(algs ...string) Option {
	return func(c *config) error {
		for _, alg := range algs {
			if !slices.Contains(dpopAlgs, alg) {
				return optionError("WithDPoP", "unsupported proof algorithm %q (want ES256, ES384 or EdDSA)", alg)
			}
		}
		c.dpop = true
		c.dpopAlgs = slices.Clone(algs)
		return nil
	}
}

// dpopState is what Auth keeps with WithDPoP; nil without.
type dpopState struct {
	alg    string
	nonces nonceCache
}

// newDPoP picks the proof algorithm: the first of allowed (default
// dpopAlgs) that the provider supports, or the first at all when the
// provider lists none.
func newDPoP(allowed, supported []string) (*dpopState, error) {
	if len(allowed) == 0 {
		allowed = dpopAlgs
	}
	for _, alg := range allowed {
		if len(supported) == 0 || slices.Contains(supported, alg) {
			return &dpopState{alg: alg}, nil
		}
	}
	return nil, optionError("WithDPoP", "the provider's dpop_signing_alg_values_supported %q has none of %q", supported, allowed)
}

// dpopKey is a login's DPoP key pair.
type dpopKey struct {
	alg  string
	priv crypto.Signer
}

// newKey makes the key pair of a new login.
func (d *dpopState) newKey() (*dpopKey, error) {
	var priv crypto.Signer
	var err error
	switch d.alg {
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		err = fmt.Errorf("unsupported algorithm %q", d.alg)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: generating the login's key: %v", ErrDPoP, err)
	}
	return &dpopKey{alg: d.alg, priv: priv}, nil
}

// marshal is the key as a private JWK, for the token record.
func (k *dpopKey) marshal() (json.RawMessage, error) {
	return jose.JSONWebKey{Key: k.priv, Algorithm: k.alg}.MarshalJSON()
}

// parseDPoPKey reads a key from a token record.
func parseDPoPKey(raw json.RawMessage) (*dpopKey, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return nil, fmt.Errorf("%w: the login's key does not parse: %v", ErrDPoP, err)
	}
	priv, ok := jwk.Key.(crypto.Signer)
	if !ok || jwk.IsPublic() || !slices.Contains(dpopAlgs, jwk.Algorithm) {
		return nil, fmt.Errorf("%w: the login's key is not a private %v key", ErrDPoP, dpopAlgs)
	}
	return &dpopKey{alg: jwk.Algorithm, priv: priv}, nil
}

// dpopClaims are the claims of a proof (RFC 9449 4.2).
type dpopClaims struct {
	JTI   string `json:"jti"`
	HTM   string `json:"htm"`
	HTU   string `json:"htu"`
	IAT   int64  `json:"iat"`
	Nonce string `json:"nonce,omitempty"`
	ATH   string `json:"ath,omitempty"`
}

// proof makes a DPoP proof for a request of method to target: typ
// dpop+jwt, the public key alone in the jwk header, a unique jti, htu
// without query and fragment, the server's nonce when there is one, and
// ath when the request carries an access token.
func (k *dpopKey) proof(method string, target *url.URL, nonce, accessToken string) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.alg), Key: k.priv},
		(&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrDPoP, err)
	}
	c := dpopClaims{JTI: random(16), HTM: method, HTU: htu(target), IAT: time.Now().Unix(), Nonce: nonce}
	if accessToken != "" {
		c.ATH = accessTokenHash(accessToken)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("%w: signing a proof: %v", ErrDPoP, err)
	}
	return jws.CompactSerialize()
}

// htu is the proof's htu of a request URL: scheme, host and path, without
// query and fragment (RFC 9449 4.2).
func htu(u *url.URL) string {
	v := url.URL{Scheme: strings.ToLower(u.Scheme), Host: strings.ToLower(u.Host), Path: u.Path, RawPath: u.RawPath}
	return v.String()
}

// accessTokenHash is the proof's ath: the base64url SHA-256 of the token.
func accessTokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// origin is the key of the nonce cache: a server's scheme and host.
func origin(u *url.URL) string { return strings.ToLower(u.Scheme + "://" + u.Host) }

// maxNonceOrigins bounds the nonce cache.
const maxNonceOrigins = 256

// nonceCache remembers the newest DPoP-Nonce of each server. It is a cache:
// an instance without a server's nonce pays one extra round trip.
type nonceCache struct {
	mu sync.Mutex
	m  map[string]string
}

func (c *nonceCache) get(origin string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[origin]
}

func (c *nonceCache) put(origin, nonce string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]string{}
	}
	if _, ok := c.m[origin]; !ok && len(c.m) >= maxNonceOrigins {
		clear(c.m)
	}
	c.m[origin] = printable(nonce, 512)
}

// dpopKeyKey is the context key of the login's key for a token request.
type dpopKeyKey struct{}

// withDPoPKey puts k in ctx for the token-endpoint transport.
func withDPoPKey(ctx context.Context, k *dpopKey) context.Context {
	return context.WithValue(ctx, dpopKeyKey{}, k)
}

// dpopKey returns the key of a token set, or nil when it has none.
func (ts *tokenSet) dpopKey() (*dpopKey, error) {
	if len(ts.DPoPKey) == 0 {
		return nil, nil
	}
	return parseDPoPKey(ts.DPoPKey)
}

// isDPoP reports whether ts's access token is DPoP-bound.
func (ts *tokenSet) isDPoP() bool { return strings.EqualFold(ts.TokenType, "DPoP") }

// dpopLogin gives a new login its key: r with the key in its context for
// the code exchange, and the key. Without WithDPoP: r and nil.
func (p *provider) dpopLogin(r *http.Request) (*http.Request, *dpopKey, error) {
	if p.dpop == nil {
		return r, nil, nil
	}
	k, err := p.dpop.newKey()
	if err != nil {
		return nil, nil, newError(ErrExchange, "server_error", "The login could not be completed. Please try again later.", err)
	}
	return r.WithContext(withDPoPKey(r.Context(), k)), k, nil
}

// keepDPoPKey stores the login's key k (nil without WithDPoP) in its token
// set.
func (ts *tokenSet) keepDPoPKey(k *dpopKey) error {
	if k == nil {
		return nil
	}
	raw, err := k.marshal()
	if err != nil {
		return newError(ErrExchange, "server_error", "The login could not be completed. Please try again later.", fmt.Errorf("%w: %v", ErrDPoP, err))
	}
	ts.DPoPKey = raw
	return nil
}

// dpopRefresh puts the login's key in the context of its refresh. A login
// without a key (made before WithDPoP was on) cannot refresh under it: the
// error ends the login.
func (p *provider) dpopRefresh(ctx context.Context, cur *tokenSet) (context.Context, error) {
	if p.dpop == nil {
		return ctx, nil
	}
	k, err := cur.dpopKey()
	if err == nil && k == nil {
		err = fmt.Errorf("%w: the login has no DPoP key (it was made before WithDPoP)", ErrDPoP)
	}
	if err != nil {
		return nil, err
	}
	return withDPoPKey(ctx, k), nil
}
