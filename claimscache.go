package oidcauth

import (
	"hash/maphash"
	"sync"
)

// claimsCacheSize bounds the parsed claims kept per process.
const claimsCacheSize = 10000

// claimsCache keeps the parsed standard claims of recent logins, keyed by
// login ID, so that a handler reading the claims costs no JSON decoding and
// no allocation per request. An entry is used only while the hash of the
// login's claims source (id_token, or merged claims) is the same, so a
// refreshed id_token is parsed again. When full, an eighth of the entries,
// chosen by map order, make room.
type claimsCache struct {
	seed maphash.Seed
	max  int
	mu   sync.RWMutex
	m    map[string]cachedClaims
}

type cachedClaims struct {
	sum    uint64
	claims *Claims
}

func newClaimsCache(max int) *claimsCache {
	return &claimsCache{seed: maphash.MakeSeed(), max: max, m: make(map[string]cachedClaims)}
}

func (cc *claimsCache) get(l *login) (*Claims, error) {
	var sum uint64
	if l.Claims != nil {
		sum = maphash.Bytes(cc.seed, l.Claims)
	} else {
		sum = maphash.String(cc.seed, l.IDToken)
	}
	cc.mu.RLock()
	e, ok := cc.m[l.ID]
	cc.mu.RUnlock()
	if ok && e.sum == sum {
		return e.claims, nil
	}
	c, err := parseClaims(l)
	if err != nil {
		return nil, err
	}
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
	cc.m[l.ID] = cachedClaims{sum: sum, claims: c}
	cc.mu.Unlock()
	return c, nil
}

// forget drops a login's entry, at logout.
func (cc *claimsCache) forget(id string) {
	cc.mu.Lock()
	delete(cc.m, id)
	cc.mu.Unlock()
}
