package oidcauth

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/oidcauth/oidcauth/oidctest"
)

// TestIndexPrunesEndedSessions: the list of a user drops the sessions that
// ended, when a login rewrites it.
func TestIndexPrunesEndedSessions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, oidctest.Config{})
	browsers := []*harness{h, h.newBrowser(), h.newBrowser()}
	for _, b := range browsers {
		b.mustLogin("/me")
	}
	for _, b := range browsers[:2] {
		if resp := b.logout(); resp.StatusCode != http.StatusFound {
			t.Fatalf("logout: %d", resp.StatusCode)
		}
	}
	ctx := context.Background()
	key := subIndexKey(h.auth.primary().issuer, "alice")
	list, _ := h.auth.indexRead(ctx, key)
	if len(list) != 3 {
		t.Fatalf("%d entries, want 3", len(list))
	}
	// Age the entries past the grace period.
	for i := range list {
		list[i].Created -= int64(indexGrace/time.Second) + 1
	}
	if err := h.auth.indexWrite(ctx, key, list); err != nil {
		t.Fatal(err)
	}
	h.newBrowser().mustLogin("/me")
	if list, _ = h.auth.indexRead(ctx, key); len(list) != 2 {
		t.Fatalf("%d entries after a new login, want 2 (the live session and the new one)", len(list))
	}
}

// TestIndexKeepsNewEntries: an entry whose session is not in the Store yet
// (its login is still answering) is kept.
func TestIndexKeepsNewEntries(t *testing.T) {
	t.Parallel()
	h := newHarness(t, oidctest.Config{})
	ctx := context.Background()
	now := time.Now()
	pending := indexEntry{Key: "not-committed-yet", Login: "l1", Expiry: now.Add(time.Hour).Unix(), Created: now.Unix()}
	expired := indexEntry{Key: "expired", Login: "l2", Expiry: now.Add(-time.Second).Unix(), Created: now.Add(-time.Hour).Unix()}
	if err := h.auth.indexWrite(ctx, subPrefix+"test", []indexEntry{pending, expired}); err != nil {
		t.Fatal(err)
	}
	e := indexEntry{Key: "new", Login: "l3", Expiry: now.Add(time.Hour).Unix(), Created: now.Unix()}
	if err := h.auth.indexAdd(ctx, subPrefix+"test", e); err != nil {
		t.Fatal(err)
	}
	list, _ := h.auth.indexRead(ctx, subPrefix+"test")
	var keys []string
	for _, x := range list {
		keys = append(keys, x.Key)
	}
	if !slices.Equal(keys, []string{"not-committed-yet", "new"}) {
		t.Fatalf("entries %q, want the pending one and the new one", keys)
	}
}

// TestIndexSurvivesALostUpdate: when another instance overwrites the list
// between the write and its read-back, the login writes again, keeping both.
func TestIndexSurvivesALostUpdate(t *testing.T) {
	t.Parallel()
	sm := scs.New()
	store := &racyStore{MemStore: memstore.New()}
	sm.Store = store
	h := newHarness(t, oidctest.Config{}, WithSessionManager(sm))
	uri := h.serveBackchannel()
	h.mustLogin("/me")
	list, _ := h.auth.indexRead(context.Background(), subIndexKey(h.auth.primary().issuer, "alice"))
	if len(list) != 2 || !store.raced {
		t.Fatalf("entries %+v, want the other instance's and this login's", list)
	}
	// And a logout by sub finds the session.
	resp := postLogout(t, uri, logoutForm(h.op.SignTyped(h.op.LogoutClaims("client", "alice", ""), "logout+jwt")), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("back-channel logout: %d %s", resp.StatusCode, body(resp))
	}
	h.mustBeLoggedOut("after the logout by sub")
}

func TestIndexRecordFormat(t *testing.T) {
	list := []indexEntry{
		{Key: "tok-A_1", Login: "login1", Expiry: 1700000000, Created: 1690000000},
		{Key: "tok2", Login: "login2", Subject: hashString("alice"), Expiry: 1, Created: 2},
	}
	got, ok := decodeIndex(encodeIndex(list))
	if !ok || !slices.Equal(got, list) {
		t.Fatalf("round trip: %+v %v", got, ok)
	}
	got, ok = decodeIndex([]byte("tok1 login1 10 20\ngarbage\ntok2 login2 x 20\ntok3 login3 30 40 sub extra\ntok4 login4 50 60"))
	if ok || len(got) != 2 || got[0].Key != "tok1" || got[1].Key != "tok4" || got[1].Created != 60 {
		t.Fatalf("malformed lines: %+v %v", got, ok)
	}
	if got, ok := decodeIndex(nil); !ok || got != nil {
		t.Fatalf("empty record: %+v %v", got, ok)
	}
}
