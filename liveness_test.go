package oidcauth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/oidcauth/oidcauth/oidctest"
)

// TestLongRequestCannotRevive: a request of the session under way for
// longer than any grace period writes the session back after the user logged
// out; the liveness check finds the login's tokens gone and ends it.
func TestLongRequestCannotRevive(t *testing.T) {
	// An application's manager with an idle timeout: scs writes the session
	// back at the end of every request (oidcauth's own manager does not).
	sm := scs.New()
	sm.Store = memstore.New()
	sm.IdleTimeout = time.Hour
	h := newHarness(t, oidctest.Config{}, WithSessionManager(sm))
	h.auth.index.redeleteAfter = nil // no second deletes: only the liveness check is left
	h.auth.liveness = 300 * time.Millisecond
	entered, release := make(chan struct{}), make(chan struct{})
	slow := httptest.NewServer(h.auth.LoadAndSave(h.auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	}))))
	t.Cleanup(slow.Close)
	h.mustLogin("/me")
	old := h.sessionCookie()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := h.client.Get(slow.URL + "/slow"); err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	if resp := h.do("POST", "/logout", http.Header{"Origin": {h.app.URL}}); resp.StatusCode != http.StatusFound {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	close(release)
	<-done
	if _, found, _ := h.auth.SessionManager().Store.Find(h.auth.sessionStoreKey(old.Value)); !found {
		t.Fatal("the long request did not write the session back: the race this test covers did not happen")
	}
	time.Sleep(350 * time.Millisecond)
	h.client.Jar.SetCookies(mustParse(h.app.URL), []*http.Cookie{old})
	if s := h.apiStatus(); s != http.StatusUnauthorized {
		t.Fatalf("the revived session still authenticates: %d", s)
	}
	if !strings.Contains(h.logs.String(), "login ended elsewhere") {
		t.Error("the ended login was not logged")
	}
	// The session itself survives, without the login.
	if _, found, _ := h.auth.SessionManager().Store.Find(h.auth.sessionStoreKey(old.Value)); !found {
		t.Error("the session was dropped instead of losing its login")
	}
}

// TestLivenessChecksAreSpaced: between checks no store read is made.
func TestLivenessChecksAreSpaced(t *testing.T) {
	store := &countingStore{MemStore: memstore.New()}
	h := newHarness(t, oidctest.Config{}, appManager(store))
	h.mustLogin("/me")
	before := store.tokenReads.Load()
	for range 5 {
		if s := h.apiStatus(); s != http.StatusOK {
			t.Fatalf("status %d", s)
		}
	}
	if got := store.tokenReads.Load() - before; got != 0 {
		t.Fatalf("%d token-record reads within the liveness interval, want 0", got)
	}
	h.auth.liveness = 0
	h.apiStatus()
	if got := store.tokenReads.Load() - before; got != 1 {
		t.Fatalf("%d token-record reads once the interval passed, want 1", got)
	}
}

// TestLivenessStoreErrorFailsClosed: a store that fails the check answers
// 503, never the login.
func TestLivenessStoreErrorFailsClosed(t *testing.T) {
	store := &countingStore{MemStore: memstore.New()}
	sm := scs.New()
	sm.Store = store
	var last error
	h := newHarness(t, oidctest.Config{}, WithSessionManager(sm), recordErrors(&last))
	h.mustLogin("/me")
	h.auth.liveness = 0
	store.failTokens.Store(true)
	if s := h.apiStatus(); s != http.StatusServiceUnavailable || !errors.Is(last, ErrSession) {
		t.Fatalf("status %d error %v, want 503 ErrSession", s, last)
	}
}
