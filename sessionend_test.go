package oidcauth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/oidcauth/oidcauth/oidctest"
)

// TestEndedSessionIsDeletedAgain covers a request of the session that is
// under way when the session ends, by back-channel or RP-initiated logout:
// it writes the session back when it answers (scs saves the session of every
// request when there is an idle timeout), and the second delete ends it for
// good.
func TestEndedSessionIsDeletedAgain(t *testing.T) {
	tests := []struct {
		name string
		end  func(t *testing.T, h *harness, uri string)
	}{
		{"back-channel logout", func(t *testing.T, h *harness, uri string) {
			sid, sub := h.sidSub()
			if resp := postLogout(t, uri, logoutForm(h.op.SignTyped(h.op.LogoutClaims("client", sub, sid), "logout+jwt")), nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("back-channel logout: %d", resp.StatusCode)
			}
		}},
		{"RP-initiated logout", func(t *testing.T, h *harness, uri string) {
			if resp := h.do("POST", "/logout", http.Header{"Origin": {h.app.URL}}); resp.StatusCode != http.StatusFound {
				t.Fatalf("logout: %d", resp.StatusCode)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Instance h ends the session; instance b, sharing the store and
			// with the login's claims cached (checked recently), is where the
			// revived session would still authenticate.
			store := memstore.New()
			manager := func() *scs.SessionManager { sm := scs.New(); sm.Store = store; sm.IdleTimeout = time.Hour; return sm }
			op := newProvider(t, oidctest.Config{})
			h := newHarnessWith(t, op, WithSessionManager(manager()))
			b := newHarnessWith(t, op, WithSessionManager(manager()))
			b.client = h.client
			h.auth.index.redeleteAfter = []time.Duration{500 * time.Millisecond}
			uri := h.serveBackchannel()
			entered, release := make(chan struct{}), make(chan struct{})
			slow := httptest.NewServer(h.auth.LoadAndSave(h.auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				close(entered)
				<-release
				w.Write([]byte("done"))
			}))))
			t.Cleanup(slow.Close)
			h.mustLogin("/me")
			old := h.sessionCookie()
			if s := b.apiStatus(); s != http.StatusOK {
				t.Fatalf("the other instance before the logout: %d", s)
			}

			done := make(chan int)
			go func() {
				resp, err := h.client.Get(slow.URL + "/slow")
				if err != nil {
					done <- 0
					return
				}
				resp.Body.Close()
				done <- resp.StatusCode
			}()
			<-entered
			start := time.Now()
			tt.end(t, h, uri)
			h.client.Jar.SetCookies(mustParse(h.app.URL), []*http.Cookie{old}) // the old cookie, replayed
			if s := b.apiStatus(); s != http.StatusUnauthorized {
				t.Fatalf("right after the logout: %d, want 401", s)
			}
			close(release)
			if s := <-done; s != http.StatusOK {
				t.Fatalf("the slow request: %d", s)
			}
			h.client.Jar.SetCookies(mustParse(h.app.URL), []*http.Cookie{old})
			if s := b.apiStatus(); s != http.StatusOK {
				t.Fatalf("the slow request did not write the session back (%d): the race this test covers did not happen", s)
			}
			time.Sleep(time.Until(start.Add(700 * time.Millisecond)))
			h.client.Jar.SetCookies(mustParse(h.app.URL), []*http.Cookie{old})
			b.mustBeLoggedOut("after the second delete")
		})
	}
}

func TestEndSessions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, oidctest.Config{}, WithScopes("openid", "offline_access"))
	h.mustLogin("/me")
	second := h.newBrowser()
	second.mustLogin("/me")
	_, access1, refresh1 := h.sessionTokens()
	_, access2, refresh2 := second.sessionTokens()
	h.op.SetUser(oidctest.User{Subject: "bob"})
	bob := h.newBrowser()
	bob.mustLogin("/me")

	ctx := context.Background()
	if err := h.auth.EndSessions(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	h.mustBeLoggedOut("alice's first browser")
	second.mustBeLoggedOut("alice's second browser")
	if s := bob.apiStatus(); s != http.StatusOK {
		t.Fatalf("another user's session ended: %d", s)
	}
	revoked := h.op.Revoked()
	for _, tok := range []string{access1, refresh1, access2, refresh2} {
		if !slices.Contains(revoked, tok) {
			t.Errorf("a token of alice was not revoked (%d revoked)", len(revoked))
		}
	}
	if err := h.auth.EndSessions(ctx, "nobody"); err != nil {
		t.Errorf("EndSessions of a user without sessions: %v", err)
	}
	if err := h.auth.EndSessions(ctx, ""); !errors.Is(err, ErrBadRequest) {
		t.Errorf("EndSessions(\"\"): %v, want ErrBadRequest", err)
	}
}

// TestEndSessionsPastTheIndexLimit: a user who logs in many more times than
// the session index keeps (with stolen credentials, say) cannot keep an old
// session out of reach of EndSessions: the sessions the index drops end.
func TestEndSessionsPastTheIndexLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, oidctest.Config{})
	browsers := make([]*harness, 0, 2*maxIndexEntries+50)
	for range cap(browsers) {
		b := h.newBrowser()
		b.mustLogin("/me")
		browsers = append(browsers, b)
	}
	if s := browsers[0].apiStatus(); s != http.StatusUnauthorized {
		t.Fatalf("the first of %d sessions, dropped from the index: %d, want 401 (ended)", len(browsers), s)
	}
	if err := h.auth.EndSessions(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	alive := 0
	for _, b := range browsers {
		if b.apiStatus() != http.StatusUnauthorized {
			alive++
		}
	}
	if alive > 0 {
		t.Fatalf("%d of %d sessions survived EndSessions", alive, len(browsers))
	}
}
