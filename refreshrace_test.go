package oidcauth

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/oidcauth/oidcauth/oidctest"
)

func TestRefreshSingleFlight(t *testing.T) {
	t.Parallel()
	h := newHarness(t, oidctest.Config{RotateRefreshTokens: true}, offline)
	// The single flight alone, without the lease that would also hold
	// concurrent refreshes to one (TestRefreshLeaseAcrossInstances).
	h.auth.tokens.noLease = true
	h.mustLogin("/me")
	expireTokens(t, h)
	// A slow token endpoint keeps every request waiting on the one refresh.
	h.op.SetTamper(oidctest.Tamper{TokenDelay: 100 * time.Millisecond})
	tokens := tokensAtOnce(t, 50, h)
	if rs := refreshRequests(h.op); len(rs) != 1 || rs[0].Status != http.StatusOK {
		t.Fatalf("refresh requests %+v, want exactly one", rs)
	}
	want := stored(t, h).AccessToken
	for i, tok := range tokens {
		if tok != want {
			t.Fatalf("request %d got another token than the refreshed one", i)
		}
	}
}

func TestRefreshRaceAcrossInstances(t *testing.T) {
	t.Parallel()
	op := newProvider(t, oidctest.Config{RotateRefreshTokens: true})
	store := memstore.New()
	manager := func() *scs.SessionManager {
		sm := scs.New()
		sm.Store = store
		return sm
	}
	a := newHarnessWith(t, op, offline, WithSessionManager(manager()))
	b := newHarnessWith(t, op, offline, WithSessionManager(manager()))
	b.client = a.client // one browser, two app instances
	// Without the refresh lease: the recovery of an instance that loses the
	// rotation race (TestRefreshLeaseAcrossInstances has the lease).
	a.auth.tokens.noLease, b.auth.tokens.noLease = true, true
	a.mustLogin("/me")
	expireTokens(t, a)
	// Both instances send the same refresh token; the provider takes the
	// first and refuses the second as rotated away.
	op.SetTamper(oidctest.Tamper{TokenDelay: 300 * time.Millisecond})
	tokens := tokensAtOnce(t, 6, a, b)
	if t.Failed() {
		t.FailNow()
	}
	rs := refreshRequests(op)
	if len(rs) != 2 || op.CountGrants("refresh_token") != 1 || !(rs[0].Reused || rs[1].Reused) {
		t.Fatalf("refresh requests %+v, want one granted and one refused as rotated away", rs)
	}
	want := stored(t, a).AccessToken
	for i, tok := range tokens {
		if tok != want {
			t.Fatalf("request %d got another token than the stored one", i)
		}
	}
	op.SetTamper(oidctest.Tamper{})
	for _, h := range []*harness{a, b} {
		if st := h.apiStatus(); st != http.StatusOK {
			t.Fatalf("GET /api/me: %d", st)
		}
		expireTokens(t, h)
		h.apiToken()
	}
	for _, r := range refreshRequests(op)[2:] {
		if r.Status != http.StatusOK || r.Reused {
			t.Fatalf("after the race: refresh request %+v", r)
		}
	}
}

func TestRefreshRereadsTheRecord(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		noLease bool
		stale   int // reads of the token record that see the expired set
	}{
		{"in the flight", true, 1},
		{"under the lease", false, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := &staleStore{MemStore: memstore.New()}
			sm := scs.New()
			sm.Store = store
			// No id_token on refresh: the claims' tag stays, so no liveness
			// read comes between the reads counted below.
			h := newHarness(t, oidctest.Config{RotateRefreshTokens: true, NoIDTokenOnRefresh: true}, offline, WithSessionManager(sm))
			h.auth.tokens.noLease = tt.noLease
			h.mustLogin("/me")
			expireTokens(t, h)
			old, _ := json.Marshal(stored(t, h))
			h.apiToken()
			// The request reads the expired set; the refresh must re-read and
			// find the fresh one rather than send the rotated-away refresh token.
			store.mu.Lock()
			store.stale, store.staleReads = old, tt.stale
			store.mu.Unlock()
			if got := h.apiToken(); got != stored(t, h).AccessToken {
				t.Fatal("the request did not get the stored token")
			}
			if rs := refreshRequests(h.op); len(rs) != 1 {
				t.Fatalf("refresh requests %+v, want 1: the refresh did not re-read the record", rs)
			}
		})
	}
}

func TestRefreshDuringLogoutStoresNothing(t *testing.T) {
	t.Parallel()
	// Without a revocation endpoint: the logout would revoke the refresh
	// token, the provider would refuse the refresh, and the check this test
	// covers (the store-over-logout one) would not be reached.
	op := newProvider(t, oidctest.Config{RotateRefreshTokens: true})
	op.SetTamper(oidctest.Tamper{Metadata: func(d map[string]any) { delete(d, "revocation_endpoint") }})
	h := newHarnessWith(t, op, offline)
	h.mustLogin("/me")
	expireTokens(t, h)
	h.op.SetTamper(oidctest.Tamper{TokenDelay: 300 * time.Millisecond})
	done := make(chan int)
	go func() {
		st, _, _ := h.fetch("/api/token")
		done <- st
	}()
	for h.op.Hits("/token") < 2 { // the login's exchange, then the refresh
		time.Sleep(5 * time.Millisecond)
	}
	if resp := h.do(http.MethodPost, "/logout", nil); resp.StatusCode != http.StatusFound {
		t.Fatalf("POST /logout: %d %s", resp.StatusCode, body(resp))
	}
	if st := <-done; st != http.StatusUnauthorized {
		t.Errorf("GET /api/token across the logout: %d, want 401", st)
	}
	if n := len(tokenRecords(t, h)); n != 0 {
		t.Fatalf("%d token records after logout: the refresh stored its tokens", n)
	}
}

// TestSharedRefreshFailure: requests sharing one failed refresh each get
// their own answer (502); the shared error is not written to (run with
// -race).
func TestSharedRefreshFailure(t *testing.T) {
	t.Parallel()
	h := newHarness(t, oidctest.Config{}, offline)
	h.mustLogin("/me")
	expireTokens(t, h)
	h.op.SetTamper(oidctest.Tamper{TokenStatus: 503, TokenBody: "busy", TokenDelay: 100 * time.Millisecond})
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if st, _, err := h.fetch("/api/token"); err != nil || st != http.StatusBadGateway {
				t.Errorf("request %d: %d %v, want 502", i, st, err)
			}
		})
	}
	wg.Wait()
}
