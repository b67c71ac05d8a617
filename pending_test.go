package oidcauth

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/oidcauth/oidcauth/oidctest"
)

// slowStore delays every operation and counts them.
type slowStore struct {
	scs.Store
	delay time.Duration
	ops   atomic.Int64
}

func (s *slowStore) Find(key string) ([]byte, bool, error) {
	s.ops.Add(1)
	time.Sleep(s.delay)
	return s.Store.Find(key)
}

func (s *slowStore) Commit(key string, b []byte, expiry time.Time) error {
	s.ops.Add(1)
	time.Sleep(s.delay)
	return s.Store.Commit(key, b, expiry)
}

func (s *slowStore) Delete(key string) error {
	s.ops.Add(1)
	time.Sleep(s.delay)
	return s.Store.Delete(key)
}

// TestStateRedeemedOnce: concurrent callbacks with one state and its
// cookie reach the token endpoint once, with a slow store, in one process
// (any Store) and across instances (a LeaseStore).
func TestStateRedeemedOnce(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		store scs.Store
		other bool // the callbacks go to two instances
	}{
		{"one instance", &slowStore{Store: memstore.New(), delay: time.Millisecond}, false},
		{"two instances on a LeaseStore", newMemLeaseStore(), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			op := newProvider(t, oidctest.Config{})
			manager := func() *scs.SessionManager { sm := scs.New(); sm.Store = tt.store; return sm }
			a := newHarnessWith(t, op, WithSessionManager(manager()))
			b := a
			if tt.other {
				b = newHarnessWith(t, op, WithSessionManager(manager()))
				b.client = a.client
			}
			callback := a.authorize(a.startLogin("/me"))
			cookies := a.loginCookies()
			before := op.Hits("/token")
			var wg sync.WaitGroup
			for i := range 30 {
				h := a
				if i%2 == 1 {
					h = b
				}
				wg.Go(func() {
					req, _ := http.NewRequest(http.MethodGet, strings.Replace(callback, a.app.URL, h.app.URL, 1), nil)
					for _, c := range cookies {
						req.AddCookie(c)
					}
					if resp, err := http.DefaultTransport.RoundTrip(req); err == nil {
						resp.Body.Close()
					}
				})
			}
			wg.Wait()
			if n := op.Hits("/token") - before; n != 1 {
				t.Fatalf("%d token requests for one state, want 1", n)
			}
		})
	}
}

// TestLoginCookiesBounded: tabs opening at once (a browser restoring a
// session) and long return-to paths leave the Cookie header bounded: at
// most maxPending login cookies of bounded size.
func TestLoginCookiesBounded(t *testing.T) {
	t.Parallel()
	h := newHarness(t, oidctest.Config{})
	long := "/me?q=" + strings.Repeat("v", 1900)
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() { h.get(fmt.Sprintf("%s&tab=%d", long, i)) })
	}
	for i := range 60 {
		wg.Go(func() { h.get(fmt.Sprintf("/login?return_to=/%s%d", strings.Repeat("r", 500), i)) })
	}
	wg.Wait()
	n, size := 0, 0
	for _, c := range h.client.Jar.Cookies(mustParse(h.app.URL)) {
		if strings.HasPrefix(c.Name, "oidcauth_login_") {
			n++
			size += len(c.Name) + len(c.Value) + 3
		}
	}
	if n > maxPending || size > 6<<10 {
		t.Fatalf("%d login cookies, %d bytes of Cookie header; want at most %d, under 6 KiB", n, size, maxPending)
	}
	t.Logf("120 tabs at once: %d login cookies, %d bytes", n, size)
}

// TestAnonymousNavigationsStoreNothing: a login under way lives in the
// browser's cookie, so a flood of anonymous navigations to protected pages
// writes nothing to the Store.
func TestAnonymousNavigationsStoreNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, oidctest.Config{})
	for i := range 1000 {
		resp := h.newBrowser().get(fmt.Sprintf("/me?n=%d&pad=%s", i, strings.Repeat("x", 2000)))
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("anonymous GET /me: %d", resp.StatusCode)
		}
	}
	// The sealing key is the one record.
	if n := storeKeys(t, h.auth, ""); n != 1 {
		t.Fatalf("%d Store records after 1,000 anonymous navigations, want 1 (the login key)", n)
	}
}

// TestForgedLoginCookies: thousands of forged login cookies cost a login
// start no Store operation and a callback only a bounded look: only the
// slot names are read.
func TestForgedLoginCookies(t *testing.T) {
	t.Parallel()
	store := &slowStore{Store: memstore.New()}
	h := newHarness(t, oidctest.Config{}, appManager(store))
	h.mustLogin("/me") // the login key exists now
	var hdr strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&hdr, "oidcauth_login_%d=1.%s; ", i, strings.Repeat("A", 40))
	}
	req, _ := http.NewRequest(http.MethodGet, h.app.URL+"/login?return_to=/me", nil)
	req.Header.Set("Cookie", hdr.String())
	before := store.ops.Load()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := len(resp.Header.Values("Set-Cookie")); resp.StatusCode != http.StatusFound || n != 1 {
		t.Fatalf("a login start with 3,000 forged cookies: %d, %d Set-Cookie, want 302 and 1", resp.StatusCode, n)
	}
	if n := store.ops.Load() - before; n > 3 {
		t.Fatalf("%d Store operations for a login start with forged cookies, want at most 3 (the session)", n)
	}
}

// TestKnownStateCancelsNothing: an attacker who learns a victim's state
// (from a log or a referrer) but not the victim's cookie can neither use it
// nor cancel the victim's login.
func TestKnownStateCancelsNothing(t *testing.T) {
	t.Parallel()
	victim := newHarness(t, oidctest.Config{})
	callback := victim.authorize(victim.startLogin("/me"))
	attacker := victim.newBrowser()
	for _, c := range victim.loginCookies() {
		attacker.client.Jar.SetCookies(mustParse(victim.app.URL), []*http.Cookie{{Name: c.Name, Value: "1.forged", Path: "/"}})
	}
	if resp := attacker.get(withParam(callback, "code", "junk")); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("the attacker's callback with the victim's state: %d, want 400", resp.StatusCode)
	}
	if resp := victim.get(callback); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/me" {
		t.Fatalf("the victim's own callback after the attacker's: %d to %q, want the login to complete", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestLoginKeyFollowsTheStore: when the sealing key in the Store changes
// (it expired, or the Store lost it, and another instance made a new one),
// every instance seals with the new key within loginKeyRefresh, so that a
// login started on one instance opens on another; a login sealed just
// before the change still completes.
func TestLoginKeyFollowsTheStore(t *testing.T) {
	t.Parallel()
	store := memstore.New()
	op := newProvider(t, oidctest.Config{})
	a := newHarnessWith(t, op, appManager(store))
	b := newHarnessWith(t, op, appManager(store))
	b.client = a.client                               // one browser, two instances
	before := a.authorize(a.startLogin("/me?before")) // sealed with the first key
	if err := store.Delete(loginKeyKey); err != nil {
		t.Fatal(err)
	}
	b.newBrowser().startLogin("/me") // b makes a new key
	a.auth.pending.mu.Lock()
	a.auth.pending.loaded = time.Now().Add(-loginKeyRefresh) // a's key is due for a reread
	a.auth.pending.mu.Unlock()
	a.startLogin("/me?after")
	// b opens the cookie a sealed after the change with its own key.
	cur, _, err := b.auth.loginAEAD(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	opened := 0
	for _, c := range a.loginCookies() {
		if p, err := b.auth.open(cur, c.Value); err == nil && strings.HasSuffix(p.ReturnTo, "?after") {
			opened++
		}
	}
	if opened != 1 {
		t.Fatalf("b opened %d of the logins a started after the key changed, want 1: a still seals with the old key", opened)
	}
	if resp := a.get(before); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/me?before" {
		t.Fatalf("a login sealed with the key before the change: %d to %q, want it to complete", resp.StatusCode, resp.Header.Get("Location"))
	}
}
