package oidcauth

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/oidcauth/oidcauth/oidctest"
)

// callStore counts the Store calls on session records (not oidcauth's own).
type callStore struct {
	*memstore.MemStore
	finds, commits atomic.Int64
}

func (s *callStore) Find(key string) ([]byte, bool, error) {
	if !strings.HasPrefix(key, keyPrefix) {
		s.finds.Add(1)
	}
	return s.MemStore.Find(key)
}

func (s *callStore) Commit(key string, b []byte, expiry time.Time) error {
	if !strings.HasPrefix(key, keyPrefix) {
		s.commits.Add(1)
	}
	return s.MemStore.Commit(key, b, expiry)
}

// TestHotPathStoreCalls: between touches, an authenticated request of
// oidcauth's own manager makes exactly one store read and no write; once a
// touch interval has passed, one request writes the session once.
func TestHotPathStoreCalls(t *testing.T) {
	t.Parallel()
	store := &callStore{MemStore: memstore.New()}
	h := newHarness(t, oidctest.Config{}, WithSessionStore(store), WithSessionLifetime(10*time.Second, time.Hour))
	h.mustLogin("/me")
	finds, commits := store.finds.Load(), store.commits.Load()
	const n = 20
	for range n {
		if s := h.apiStatus(); s != http.StatusOK {
			t.Fatalf("GET /api/me: %d", s)
		}
	}
	if f, c := store.finds.Load()-finds, store.commits.Load()-commits; f != n || c != 0 {
		t.Fatalf("%d requests: %d session reads and %d writes, want %d and 0", n, f, c, n)
	}
	time.Sleep(h.auth.touchEvery + 50*time.Millisecond)
	commits = store.commits.Load()
	for range 3 {
		h.apiStatus()
	}
	if c := store.commits.Load() - commits; c != 1 {
		t.Fatalf("after a touch interval, 3 requests wrote the session %d times, want 1", c)
	}
}

// TestIdleTimeout: with oidcauth's own manager, a session unused for
// longer than the idle timeout no longer authenticates and its record is
// gone soon after; one used more often than that lives on.
func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	store := &callStore{MemStore: memstore.New()}
	const idle = time.Second
	h := newHarness(t, oidctest.Config{}, WithSessionStore(store), WithSessionLifetime(idle, time.Hour))
	active := h.newBrowser()
	active.mustLogin("/me")
	h.mustLogin("/me")
	key := h.auth.sessionStoreKey(h.sessionCookie().Value)
	for end := time.Now().Add(idle + 500*time.Millisecond); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if s := active.apiStatus(); s != http.StatusOK {
			t.Fatalf("a session used every 100 ms, idle timeout %v: %d", idle, s)
		}
	}
	// The idle session's record expired with idle + touch.
	if _, found, _ := store.MemStore.Find(key); found {
		t.Fatalf("the record of a session idle for %v is still in the store", idle+500*time.Millisecond)
	}
	if s := h.apiStatus(); s != http.StatusUnauthorized {
		t.Fatalf("a session idle for longer than the idle timeout: %d, want 401", s)
	}
}

// TestIdleSessionNoLongerAuthenticates: the idle check itself, with a
// record that is still in the store (an application's Store that expires
// late): the session is destroyed, not served.
func TestIdleSessionNoLongerAuthenticates(t *testing.T) {
	t.Parallel()
	h := newHarness(t, oidctest.Config{}, WithSessionLifetime(time.Second, time.Hour))
	h.mustLogin("/me")
	h.auth.sm.Store = &idleStore{Store: h.auth.sm.Store.(*idleStore).Store, life: time.Hour}
	// Write the session again with the long-lived store, as a late touch.
	time.Sleep(h.auth.touchEvery + 10*time.Millisecond)
	h.apiStatus()
	time.Sleep(time.Second + 100*time.Millisecond)
	if s := h.apiStatus(); s != http.StatusUnauthorized {
		t.Fatalf("a session idle for longer than the idle timeout, its record still there: %d, want 401", s)
	}
}

// TestOldSessionFormat: a session record oidcauth's codec cannot read (one
// written by an earlier version) is a new, anonymous session: a login, never
// an error page.
func TestOldSessionFormat(t *testing.T) {
	t.Parallel()
	h := newHarness(t, oidctest.Config{})
	old, err := scs.GobCodec{}.Encode(time.Now().Add(time.Hour), map[string]any{"oidcauth.login": "v1"})
	if err != nil {
		t.Fatal(err)
	}
	token := strings.Repeat("A", 43)
	if err := h.auth.sm.Store.Commit(h.auth.sessionStoreKey(token), old, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	h.client.Jar.SetCookies(mustParse(h.app.URL), []*http.Cookie{{Name: h.auth.sm.Cookie.Name, Value: token, Path: "/"}})
	if resp := h.get("/me"); resp.StatusCode != http.StatusFound {
		t.Fatalf("GET /me with a session of an earlier format: %d, want 302 to log in", resp.StatusCode)
	}
	h.mustLogin("/me")
}

// TestSessionRecordIsSmall: what a request decodes is a few dozen bytes,
// whatever the id_token's size.
func TestSessionRecordIsSmall(t *testing.T) {
	t.Parallel()
	h := newHarness(t, oidctest.Config{})
	h.op.SetTamper(oidctest.Tamper{IDTokenClaims: func(c map[string]any) { c["groups"] = strings.Repeat("g", 8<<10) }})
	h.mustLogin("/me")
	b, found, err := h.auth.sm.Store.Find(h.auth.sessionStoreKey(h.sessionCookie().Value))
	if err != nil || !found {
		t.Fatalf("the session record: %v %v", found, err)
	}
	if len(b) > 200 {
		t.Fatalf("the session record is %d bytes with an 8 KiB id_token, want at most 200", len(b))
	}
	t.Logf("session record: %d bytes", len(b))
}
