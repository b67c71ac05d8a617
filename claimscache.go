package oidcauth

import (
	"hash/maphash"
	"sync"
)

// signatureTailLen is how much of the end of a JWS (its signature) tells
// one id_token from another without hashing the whole token on every
// request.
const signatureTailLen = 24

// claimsCacheSize bounds the parsed claims kept per process.
const claimsCacheSize = 10000

// claimsCache keeps the parsed standard claims of recent logins, keyed by
// login ID, so that a handler reading the claims costs no JSON decoding and
// no allocation per request. An entry is used only while the login's claims
// source is the same: the same id_token (told by the end of its signature)
// and the same merged claims (told by a hash, which only logins with
// userinfo claims pay), so a refreshed id_token is parsed again. When full,
// an eighth of the entries, chosen by map order, make room.
type claimsCache struct {
	seed maphash.Seed
	max  int
	mu   sync.RWMutex
	m    map[string]cachedClaims
}

type cachedClaims struct {
	tag    string
	sum    uint64
	claims *Claims
}

func newClaimsCache(max int) *claimsCache {
	return &claimsCache{seed: maphash.MakeSeed(), max: max, m: make(map[string]cachedClaims)}
}

// source identifies the login's claims source.
func (cc *claimsCache) source(l *login) (tag string, sum uint64) {
	tag = l.IDToken[max(0, len(l.IDToken)-signatureTailLen):]
	if l.Claims != nil {
		sum = maphash.Bytes(cc.seed, l.Claims)
	}
	return tag, sum
}

func (cc *claimsCache) get(l *login) (*Claims, error) {
	tag, sum := cc.source(l)
	cc.mu.RLock()
	e, ok := cc.m[l.ID]
	cc.mu.RUnlock()
	if ok && e.tag == tag && e.sum == sum {
		return e.claims, nil
	}
	c, err := parseClaims(l)
	if err != nil {
		return nil, err
	}
	cc.put(l, c)
	return c, nil
}

// put caches c as the claims of l.
func (cc *claimsCache) put(l *login, c *Claims) {
	tag, sum := cc.source(l)
	cc.mu.Lock()
	if len(cc.m) >= cc.max {
		n := cc.max / 8
		for k := range cc.m {
			if n--; n < 0 {
				break
			}
			delete(cc.m, k)
		}
	}
	cc.m[l.ID] = cachedClaims{tag: tag, sum: sum, claims: c}
	cc.mu.Unlock()
}

// forget drops a login's entry, at logout.
func (cc *claimsCache) forget(id string) {
	cc.mu.Lock()
	delete(cc.m, id)
	cc.mu.Unlock()
}
