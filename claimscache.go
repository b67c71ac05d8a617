package oidcauth

import (
	"encoding/json"
	"sync"
	"sync/atomic"
)

// signatureTailLen is how much of the end of a JWS (its signature) tells
// one id_token from another without hashing the whole token.
const signatureTailLen = 24

// claimsCacheSize bounds the logins whose claims are kept per process.
const claimsCacheSize = 10000

// claimsEntry is what the cache keeps of a login: its claims, raw and
// parsed, the tag of their source, and when this process last found the
// login's token record (the liveness check).
type claimsEntry struct {
	tag     string
	raw     []byte
	claims  *Claims
	checked atomic.Int64 // unix nanoseconds
}

// newClaimsEntry parses the claims of a token record: its merged claims,
// else its id_token's payload (parsed already when the callback verified
// that very token).
func newClaimsEntry(ts *tokenSet) (*claimsEntry, error) {
	raw := ts.Claims
	if raw == nil {
		var err error
		if raw, err = jwtPayload(ts.IDToken); err != nil {
			return nil, err
		}
	}
	c := ts.parsed
	if c == nil || ts.Claims != nil || ts.parsedFrom != ts.IDToken {
		var err error
		if c, err = parseClaims(raw); err != nil {
			return nil, err
		}
	}
	return &claimsEntry{tag: claimsTag(ts.IDToken), raw: raw, claims: c}, nil
}

// parseClaims parses raw claims into Claims.
func parseClaims(raw []byte) (*Claims, error) {
	c := new(Claims)
	if err := json.Unmarshal(raw, c); err != nil {
		return nil, err
	}
	return c, nil
}

// claimsCache keeps the claims of recent logins, keyed by login ID, so that
// a request costs no store read for them and a handler reading them no JSON
// decoding. An entry is used only while its tag is the login's. When full,
// an eighth of the entries, chosen by map order, make room.
type claimsCache struct {
	max int
	mu  sync.RWMutex
	m   map[string]*claimsEntry
}

func newClaimsCache(max int) *claimsCache {
	return &claimsCache{max: max, m: make(map[string]*claimsEntry)}
}

// get returns the entry of the login id when its tag is tag, else nil.
func (cc *claimsCache) get(id, tag string) *claimsEntry {
	cc.mu.RLock()
	e := cc.m[id]
	cc.mu.RUnlock()
	if e == nil || e.tag != tag {
		return nil
	}
	return e
}

// put caches e as the entry of the login id.
func (cc *claimsCache) put(id string, e *claimsEntry) {
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
	cc.m[id] = e
	cc.mu.Unlock()
}

// forget drops a login's entry, when it ends.
func (cc *claimsCache) forget(id string) {
	cc.mu.Lock()
	delete(cc.m, id)
	cc.mu.Unlock()
}
