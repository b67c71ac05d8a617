package oidcauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"go.opentelemetry.io/otel/trace"
)

// minRSABits is the smallest RSA key accepted from a JWKS.
const minRSABits = 2048

// keySet is the provider's JSON Web Key Set, cached. It implements go-oidc's
// KeySet. Unlike go-oidc's RemoteKeySet it refetches on an unknown key at most
// once per interval, so tokens with made-up key IDs cannot make it hammer
// the provider, and it keeps its cached keys when a fetch fails. Filling the
// cache (at New) is not a refetch: a provider that rotates its key right
// after the application starts is followed at the first unknown key.
type keySet struct {
	url      string
	client   *http.Client
	timeout  time.Duration
	interval time.Duration
	log      *slog.Logger
	tel      *telemetry

	mu        sync.RWMutex
	keys      []jose.JSONWebKey
	refetched time.Time // last refetch for an unknown key, successful or not
	gen       uint64    // count of successful fetches

	fetchMu sync.Mutex // one fetch at a time
}

var joseAlgs = func() []jose.SignatureAlgorithm {
	a := make([]jose.SignatureAlgorithm, len(asymmetricAlgs))
	for i, s := range asymmetricAlgs {
		a[i] = jose.SignatureAlgorithm(s)
	}
	return a
}()

// VerifySignature returns the payload of jwt when a key of the set verifies
// its signature. The verifier has already checked the algorithm.
func (k *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(jwt, joseAlgs)
	if err != nil {
		return nil, fmt.Errorf("malformed JWT: %v", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("the JWT must have exactly one signature")
	}
	h := jws.Signatures[0].Header
	k.mu.RLock()
	keys, gen := k.keys, k.gen
	k.mu.RUnlock()
	if payload, ok := verifyWith(jws, keys, h.KeyID, h.Algorithm); ok {
		return payload, nil
	}
	// Unknown key or no key verifies: the provider may have rotated its keys.
	if !k.refresh(ctx, gen) {
		return nil, fmt.Errorf("no key of the provider's key set verifies the signature (kid %q, alg %s)", h.KeyID, h.Algorithm)
	}
	k.mu.RLock()
	keys = k.keys
	k.mu.RUnlock()
	if payload, ok := verifyWith(jws, keys, h.KeyID, h.Algorithm); ok {
		return payload, nil
	}
	return nil, fmt.Errorf("no key of the provider's key set verifies the signature (kid %q, alg %s)", h.KeyID, h.Algorithm)
}

func verifyWith(jws *jose.JSONWebSignature, keys []jose.JSONWebKey, kid, alg string) ([]byte, bool) {
	for i := range keys {
		key := &keys[i]
		if (kid != "" && key.KeyID != kid) || (key.Algorithm != "" && key.Algorithm != alg) {
			continue
		}
		if payload, err := jws.Verify(key); err == nil {
			return payload, true
		}
	}
	return nil, false
}

// refresh fetches the key set unless one was fetched within the interval.
// seen is the generation the caller looked at; it reports whether newer keys
// may be there.
func (k *keySet) refresh(ctx context.Context, seen uint64) bool {
	k.fetchMu.Lock()
	defer k.fetchMu.Unlock()
	k.mu.Lock()
	gen, last := k.gen, k.refetched
	if gen != seen {
		k.mu.Unlock()
		return true // another request fetched while this one waited
	}
	if time.Since(last) < k.interval {
		k.mu.Unlock()
		return false
	}
	k.refetched = time.Now()
	k.mu.Unlock()
	return k.fetch(ctx, jwksUnknownKey) == nil
}

// Why the key set is fetched, the values of oidcauth.jwks.reason.
const (
	jwksInitial    = "initial"     // at New
	jwksUnknownKey = "unknown_key" // a token signed with a key not in the cache
)

// fetch loads the key set; on failure the cached keys stay. reason says
// why, for its span and metric.
func (k *keySet) fetch(ctx context.Context, reason string) (err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.timeout)
	defer cancel()
	if k.tel != nil {
		var span trace.Span
		ctx, span = k.tel.startSpan(ctx, spanJWKSFetch, attrReason.String(reason))
		defer func() {
			outcome := outcomeSuccess
			if err != nil {
				outcome = outcomeFailure
			}
			k.tel.add(ctx, k.tel.jwksFetches, attrReason.String(reason), outcome)
			endSpan(span, err)
		}()
	}
	keys, err := k.load(ctx)
	k.mu.Lock()
	defer k.mu.Unlock()
	if err != nil {
		k.log.WarnContext(ctx, "oidcauth: fetching the provider's key set failed; keeping the cached keys", "url", k.url, "err", err)
		return err
	}
	k.keys = keys
	k.gen++
	return nil
}

func (k *keySet) load(ctx context.Context) ([]jose.JSONWebKey, error) {
	body, err := getJSON(ctx, k.client, k.url)
	if err != nil {
		return nil, err
	}
	return parseKeySet(body)
}

// parseKeySet keeps the usable public signing keys of a JWKS and skips the
// others (unknown types or curves, encryption keys, symmetric or private
// keys, RSA keys under 2048 bits), so one odd key does not break the rest.
func parseKeySet(body []byte) ([]jose.JSONWebKey, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("the key set is not JSON: %v", err)
	}
	var keys []jose.JSONWebKey
	for _, r := range raw.Keys {
		var key jose.JSONWebKey
		if err := json.Unmarshal(r, &key); err != nil {
			continue
		}
		if key.Use != "" && key.Use != "sig" {
			continue
		}
		switch pub := key.Key.(type) {
		case *rsa.PublicKey:
			if pub.N.BitLen() < minRSABits {
				continue
			}
		case *ecdsa.PublicKey, ed25519.PublicKey:
		default:
			continue
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, errors.New("the key set has no usable public signing key")
	}
	return keys, nil
}
