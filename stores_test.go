package oidcauth

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/oidcauth/oidcauth/oidctest"
)

// racyStore is a memstore where, the first time a sub index is written,
// another instance writes it right after (a lost update).
type racyStore struct {
	*memstore.MemStore
	mu    sync.Mutex
	raced bool
}

func (s *racyStore) Commit(key string, b []byte, expiry time.Time) error {
	if err := s.MemStore.Commit(key, b, expiry); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.raced || !strings.HasPrefix(key, subPrefix) {
		return nil
	}
	s.raced = true
	other := encodeIndex([]indexEntry{{Key: "other-instance", Login: "x", Expiry: time.Now().Add(time.Hour).Unix(), Created: time.Now().Unix()}})
	return s.MemStore.Commit(key, other, expiry)
}

// flakyStore is a memstore whose operations fail while broken is set.
type flakyStore struct {
	*memstore.MemStore
	broken atomic.Bool
}

var errStoreDown = errors.New("store down")

func (s *flakyStore) Find(token string) ([]byte, bool, error) {
	if s.broken.Load() {
		return nil, false, errStoreDown
	}
	return s.MemStore.Find(token)
}

func (s *flakyStore) Commit(token string, b []byte, expiry time.Time) error {
	if s.broken.Load() {
		return errStoreDown
	}
	return s.MemStore.Commit(token, b, expiry)
}

func (s *flakyStore) Delete(token string) error {
	if s.broken.Load() {
		return errStoreDown
	}
	return s.MemStore.Delete(token)
}

// countingStore counts the reads of token records and can fail them.
type countingStore struct {
	*memstore.MemStore
	tokenReads atomic.Int64
	failTokens atomic.Bool
}

func (s *countingStore) Find(key string) ([]byte, bool, error) {
	if strings.HasPrefix(key, tokensPrefix) {
		s.tokenReads.Add(1)
		if s.failTokens.Load() {
			return nil, false, errStoreDown
		}
	}
	return s.MemStore.Find(key)
}

// staleStore answers the next read of a token record with stale bytes, as
// if another instance had refreshed the tokens just after this one read them.
type staleStore struct {
	*memstore.MemStore
	mu         sync.Mutex
	stale      []byte
	staleReads int // how many token-record reads return stale
}

func (s *staleStore) Find(key string) ([]byte, bool, error) {
	var stale []byte
	s.mu.Lock()
	if strings.HasPrefix(key, tokensPrefix) && s.staleReads > 0 {
		stale = s.stale
		s.staleReads--
	}
	s.mu.Unlock()
	if stale != nil {
		return stale, true, nil
	}
	return s.MemStore.Find(key)
}

// storeKeys counts the Store's records whose key starts with prefix.
func storeKeys(t *testing.T, a *Auth, prefix string) int {
	t.Helper()
	all, err := a.sm.Store.(scs.IterableStore).All()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for k := range all {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}

// sessionTokens returns the id, access and refresh tokens of h's session.
func (h *harness) sessionTokens() (idToken, access, refresh string) {
	h.t.Helper()
	resp := h.get("/tokens")
	var ts []string
	if err := json.Unmarshal([]byte(body(resp)), &ts); err != nil || len(ts) != 3 {
		h.t.Fatalf("GET /tokens: %d %s", resp.StatusCode, body(resp))
	}
	return ts[0], ts[1], ts[2]
}

// tokenRecords returns the token records in h's store by key.
func tokenRecords(t testing.TB, h *harness) map[string]*tokenSet {
	t.Helper()
	all, err := h.auth.sm.Store.(interface {
		All() (map[string][]byte, error)
	}).All()
	if err != nil {
		t.Fatal(err)
	}
	sets := map[string]*tokenSet{}
	for k, b := range all {
		if strings.HasPrefix(k, tokensPrefix) {
			var ts tokenSet
			if err := json.Unmarshal(b, &ts); err != nil {
				t.Fatal(err)
			}
			sets[k] = &ts
		}
	}
	return sets
}

// stored returns the one token record in h's store, or nil when there is none.
func stored(t testing.TB, h *harness) *tokenSet {
	t.Helper()
	sets := tokenRecords(t, h)
	if len(sets) > 1 {
		t.Fatalf("%d token records, want at most 1", len(sets))
	}
	for _, ts := range sets {
		return ts
	}
	return nil
}

// editTokens changes every token record in h's store, as the passing of
// time would.
func editTokens(t testing.TB, h *harness, edit func(*tokenSet)) {
	t.Helper()
	for k, ts := range tokenRecords(t, h) {
		edit(ts)
		b, _ := json.Marshal(ts)
		if err := h.auth.sm.Store.Commit(k, b, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
}

// expireTokens makes the stored access tokens expired.
func expireTokens(t testing.TB, h *harness) {
	t.Helper()
	editTokens(t, h, func(ts *tokenSet) { ts.Expiry = time.Now().Add(-time.Second) })
}

// refreshRequests returns the provider's refresh_token grant requests.
func refreshRequests(op *oidctest.Provider) []oidctest.TokenRequest {
	var rs []oidctest.TokenRequest
	for _, r := range op.TokenRequests() {
		if r.GrantType == "refresh_token" {
			rs = append(rs, r)
		}
	}
	return rs
}

// noSecretsLogged fails when the logs hold any of secrets.
func noSecretsLogged(t *testing.T, h *harness, secrets ...string) {
	t.Helper()
	logs := h.logs.String()
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("the logs contain a token %.12q…:\n%s", s, logs)
		}
	}
}

// expiryStore remembers the expiry of each commit.
type expiryStore struct {
	*memstore.MemStore
	mu       sync.Mutex
	expiries map[string]time.Time
}

func (s *expiryStore) Commit(key string, b []byte, expiry time.Time) error {
	s.mu.Lock()
	if s.expiries == nil {
		s.expiries = map[string]time.Time{}
	}
	s.expiries[key] = expiry
	s.mu.Unlock()
	return s.MemStore.Commit(key, b, expiry)
}

func (s *expiryStore) expiry(key string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.expiries[key]
	return t, ok
}
