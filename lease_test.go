package oidcauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/oidcauth/oidcauth/oidctest"
)

// twoInstances returns two app instances sharing store, one browser logged
// in, and the provider: rotation with reuse detection, a slow token endpoint.
func twoInstances(t *testing.T, store scs.Store) (a, b *harness, op *oidctest.Provider) {
	t.Helper()
	op = newProvider(t, oidctest.Config{RotateRefreshTokens: true, RevokeOnReuse: true})
	manager := func() *scs.SessionManager {
		sm := scs.New()
		sm.Store = store
		return sm
	}
	a = newHarnessWith(t, op, offline, WithSessionManager(manager()))
	b = newHarnessWith(t, op, offline, WithSessionManager(manager()))
	b.client = a.client // one browser, two app instances
	a.mustLogin("/me")
	return a, b, op
}

// TestRefreshLeaseAcrossInstances: after each expiry, concurrent requests to
// two instances sharing a LeaseStore make exactly one refresh grant: no
// rotated refresh token is ever sent again, so a provider with reuse
// detection keeps the grant and every request gets a token.
func TestRefreshLeaseAcrossInstances(t *testing.T) {
	t.Parallel()
	a, b, op := twoInstances(t, newMemLeaseStore())
	op.SetTamper(oidctest.Tamper{TokenDelay: 200 * time.Millisecond})
	for round := 1; round <= 3; round++ {
		expireTokens(t, a)
		for i, tok := range tokensAtOnce(t, 20, a, b) {
			if tok == "" {
				t.Fatalf("round %d, request %d got no token", round, i)
			}
		}
		rs := refreshRequests(op)
		if len(rs) != round {
			t.Fatalf("round %d: %d refresh requests in all, want %d (one per expiry)", round, len(rs), round)
		}
		for _, r := range rs {
			if r.Reused || r.Status != http.StatusOK {
				t.Fatalf("round %d: refresh request %+v: a rotated refresh token was sent again", round, r)
			}
		}
	}
	for _, h := range []*harness{a, b} {
		if st := h.apiStatus(); st != http.StatusOK {
			t.Fatalf("GET /api/me after the rounds: %d, want the session alive", st)
		}
	}
}

// TestRefreshLeaseHolderCrashed: a lease left by an instance that died
// mid-refresh holds the others off until it expires; then the next request
// refreshes, with the current refresh token.
func TestRefreshLeaseHolderCrashed(t *testing.T) {
	t.Parallel()
	store := newMemLeaseStore()
	a, _, op := twoInstances(t, store)
	l := a.login0()
	expireTokens(t, a)
	if err := store.Commit(leaseKey(l), []byte("dead instance"), time.Now().Add(400*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	a.apiToken()
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Fatalf("refreshed after %v, while the crashed holder's lease was live", waited)
	}
	if rs := refreshRequests(op); len(rs) != 1 || rs[0].Status != http.StatusOK || rs[0].Reused {
		t.Fatalf("refresh requests %+v, want one, granted", rs)
	}
}

// TestRefreshLeaseWaitIsBounded: a lease that is renewed forever (a holder
// stuck) fails the waiting request closed, with ErrRefresh, within the
// bound, and sends no refresh token.
func TestRefreshLeaseWaitIsBounded(t *testing.T) {
	t.Parallel()
	store := newMemLeaseStore()
	var last error
	op := newProvider(t, oidctest.Config{RotateRefreshTokens: true, RevokeOnReuse: true})
	h := newHarnessWith(t, op, offline, appManager(store), WithTimeout(200*time.Millisecond), recordErrors(&last))
	h.mustLogin("/me")
	expireTokens(t, h)
	key := leaseKey(h.login0())
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			store.Commit(key, []byte("stuck instance"), time.Now().Add(time.Second))
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	st, _, err := h.fetch("/api/token")
	if bound := 200*time.Millisecond + leaseTTL + 3*time.Second; time.Since(start) > bound {
		t.Errorf("waited %v for the stuck holder, more than the bound %v", time.Since(start), bound)
	}
	if err != nil || st != http.StatusBadGateway || !errors.Is(last, ErrRefresh) {
		t.Fatalf("GET /api/token with a stuck lease holder: %d %v (%v), want 502 ErrRefresh", st, err, last)
	}
	if rs := refreshRequests(op); len(rs) != 0 {
		t.Fatalf("%d refresh requests while another instance held the lease, want 0", len(rs))
	}
}

// TestRefreshSurvivesAStoreOutage: the store fails while a refresh is in
// flight; the rotated tokens are stored once it is back, within the retry
// bound, so the login survives and the old refresh token is never sent again.
func TestRefreshSurvivesAStoreOutage(t *testing.T) {
	t.Parallel()
	store := &flakyStore{MemStore: memstore.New()}
	op := newProvider(t, oidctest.Config{RotateRefreshTokens: true, RevokeOnReuse: true})
	h := newHarnessWith(t, op, offline, appManager(store))
	h.mustLogin("/me")
	expireTokens(t, h)
	// The store goes down while the token endpoint answers, and comes back
	// 500 ms later.
	op.SetTamper(oidctest.Tamper{TokenDelay: 200 * time.Millisecond})
	go func() {
		time.Sleep(150 * time.Millisecond)
		store.broken.Store(true)
		time.Sleep(500 * time.Millisecond)
		store.broken.Store(false)
	}()
	if st, body, err := h.fetch("/api/token"); err != nil || st != http.StatusOK {
		t.Fatalf("GET /api/token across a store outage: %d %s %v", st, body, err)
	}
	expireTokens(t, h)
	h.apiToken()
	rs := refreshRequests(op)
	if len(rs) != 2 {
		t.Fatalf("%d refresh requests, want 2", len(rs))
	}
	for _, r := range rs {
		if r.Reused || r.Status != http.StatusOK {
			t.Fatalf("refresh request %+v: the rotated refresh token was lost", r)
		}
	}
}

// TestBestEffortLease: with a Store that is not a LeaseStore, a lease is
// written and read back; a live one, or a rival's written over it, is held.
func TestBestEffortLease(t *testing.T) {
	t.Parallel()
	h := newHarness(t, oidctest.Config{})
	a := h.auth
	ctx := context.Background()
	ls, err := a.takeLease(ctx, "login-1")
	if err != nil {
		t.Fatalf("taking a free lease: %v", err)
	}
	if _, err := a.takeLease(ctx, "login-1"); !errors.Is(err, errLeaseHeld) {
		t.Fatalf("taking a held lease: %v, want errLeaseHeld", err)
	}
	ls.release(ctx)
	if held, _ := a.leaseHeld(ctx, "login-1"); held {
		t.Fatal("the released lease is still there")
	}
	// A rival writes its own lease while this one settles.
	a.sm.Store = &overwritingStore{MemStore: memstore.New(), key: leaseKey("login-2")}
	if _, err := a.takeLease(ctx, "login-2"); !errors.Is(err, errLeaseHeld) {
		t.Fatalf("a lease a rival wrote over: %v, want errLeaseHeld", err)
	}
}

// overwritingStore writes a rival's value over every commit of key.
type overwritingStore struct {
	*memstore.MemStore
	key string
}

func (s *overwritingStore) Commit(key string, b []byte, expiry time.Time) error {
	if key == s.key {
		b = []byte(fmt.Sprintf("rival of %s", b))
	}
	return s.MemStore.Commit(key, b, expiry)
}

// login0 returns the ID of the one login in h's store.
func (h *harness) login0() string {
	h.t.Helper()
	recs := tokenRecords(h.t, h)
	if len(recs) != 1 {
		h.t.Fatalf("%d token records, want 1", len(recs))
	}
	for k := range recs {
		return strings.TrimPrefix(k, tokensPrefix)
	}
	return ""
}
