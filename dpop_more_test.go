package oidcauth

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/oidcauth/oidcauth/oidctest"
)

// TestDPoPOptions: the proof algorithm follows the provider's
// dpop_signing_alg_values_supported; an algorithm oidcauth cannot sign
// with, or no common one, fails New naming WithDPoP.
func TestDPoPOptions(t *testing.T) {
	t.Parallel()
	lists := func(algs ...string) oidctest.Tamper {
		return oidctest.Tamper{Metadata: func(doc map[string]any) { doc["dpop_signing_alg_values_supported"] = algs }}
	}
	tests := []struct {
		name   string
		tamper oidctest.Tamper
		opt    Option
		alg    string // "" : New fails
	}{
		{"default", oidctest.Tamper{}, WithDPoP(), "ES256"},
		{"provider lists ES384 only", lists("ES384"), WithDPoP(), "ES384"},
		{"app prefers EdDSA", oidctest.Tamper{}, WithDPoP("EdDSA", "ES256"), "EdDSA"},
		{"provider lists none", lists(), WithDPoP(), "ES256"},
		{"no common algorithm", lists("RS256", "PS256"), WithDPoP(), ""},
		{"app's choice not listed", lists("ES256"), WithDPoP("ES384"), ""},
		{"RSA", oidctest.Tamper{}, WithDPoP("RS256"), ""},
		{"none", oidctest.Tamper{}, WithDPoP("none"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			op := dpopProvider(t)
			op.SetTamper(tt.tamper)
			if tt.alg == "" {
				_, err := New(context.Background(), op.Issuer, WithClientID("client"), WithClientSecret("secret"),
					WithRedirectURL("http://127.0.0.1:1/callback"), tt.opt)
				if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "WithDPoP") {
					t.Fatalf("New: %v, want an error naming WithDPoP", err)
				}
				return
			}
			h := newHarnessWith(t, op, tt.opt)
			if h.auth.primary().dpop.alg != tt.alg {
				t.Fatalf("proof algorithm %s, want %s", h.auth.primary().dpop.alg, tt.alg)
			}
			op.SetTamper(oidctest.Tamper{})
			h.mustLogin("/me")
			if st, _ := h.userinfo(); st != http.StatusOK {
				t.Fatalf("userinfo with %s proofs: %d", tt.alg, st)
			}
		})
	}
}

// TestDPoPSharedStore: the login's key lives in its token record, sealed
// with WithTokenEncryption: another instance sharing the store refreshes
// and calls userinfo with it, and the store holds no key in clear.
func TestDPoPSharedStore(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{7}, 32)
	store := memstore.New()
	sm := func() *scs.SessionManager { m := scs.New(); m.Store = store; return m }
	op := dpopProvider(t)
	h := newHarnessWith(t, op, offline, WithDPoP(), WithSessionManager(sm()), WithTokenEncryption(key))
	h.mustLogin("/me")
	other := newHarnessWith(t, op, offline, WithDPoP(), WithSessionManager(sm()), WithTokenEncryption(key))
	other.client = h.client
	all, _ := store.All()
	for k, b := range all {
		if bytes.Contains(b, []byte(`"crv"`)) || bytes.Contains(b, []byte(`"d":`)) {
			t.Fatalf("the record %q holds the DPoP key in clear", k)
		}
	}
	other.editSealed(func(ts *tokenSet) { ts.Expiry = ts.Obtained })
	if st, _ := other.userinfo(); st != http.StatusOK {
		t.Fatalf("userinfo on the other instance: %d", st)
	}
	// That instance had no nonce yet: one use_dpop_nonce, then the refresh
	// with the login's key.
	var jkt string
	other.editSealed(func(ts *tokenSet) { jkt = keyThumbprint(t, ts.DPoPKey) })
	if rs := refreshRequests(op); len(rs) != 2 || rs[1].Status != http.StatusOK || rs[1].DPoPKey != jkt {
		t.Fatalf("the other instance's refresh: %+v, want it with key %s", rs, jkt)
	}
}

// editSealed changes h's token records through its own sealing.
func (h *harness) editSealed(edit func(*tokenSet)) {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	all, _ := h.auth.sm.Store.(interface {
		All() (map[string][]byte, error)
	}).All()
	for k := range all {
		if !strings.HasPrefix(k, tokensPrefix) {
			continue
		}
		l := &login{ID: strings.TrimPrefix(k, tokensPrefix)}
		ts, err := h.auth.loadTokens(ctx, l)
		if err != nil {
			h.t.Fatal(err)
		}
		edit(ts)
		if err := h.auth.saveTokens(ctx, l, ts, ts.Obtained.Add(24*60*60*1e9)); err != nil {
			h.t.Fatal(err)
		}
	}
}

// TestDPoPAuthHeaders: AuthHeaders gives an application's own client the
// Authorization and DPoP headers for one method and URL, with the nonce
// the server gave; DPoPNonce takes a newer one from a refusal.
func TestDPoPAuthHeaders(t *testing.T) {
	t.Parallel()
	op := dpopProvider(t)
	h := newHarnessWith(t, op, WithDPoP())
	var statuses []int
	var asked bool
	app := h.serveLoggedIn(func(w http.ResponseWriter, r *http.Request) {
		call := func() *http.Response {
			hd, err := h.auth.AuthHeaders(r, http.MethodGet, op.Issuer+"/userinfo?x=1")
			if err != nil {
				t.Errorf("AuthHeaders: %v", err)
				return nil
			}
			req, _ := http.NewRequest(http.MethodGet, op.Issuer+"/userinfo?x=1", nil)
			for k, v := range hd {
				req.Header[k] = v
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("userinfo: %v", err)
				return nil
			}
			resp.Body.Close()
			statuses = append(statuses, resp.StatusCode)
			return resp
		}
		call() // the token endpoint's nonce: same server
		op.RotateDPoPNonce()
		if resp := call(); resp != nil {
			asked = h.auth.DPoPNonce(resp)
		}
		call()
	})
	h.mustLogin("/me")
	h.get(app + "/")
	if len(statuses) != 3 || statuses[0] != http.StatusOK || statuses[1] != http.StatusUnauthorized || !asked || statuses[2] != http.StatusOK {
		t.Fatalf("statuses %v (use_dpop_nonce seen: %v), want [200 401 200] and true", statuses, asked)
	}
}

// TestDPoPWithoutKey: a login stored before WithDPoP (no key) cannot be
// refreshed under it: the login ends, no token request goes out.
func TestDPoPWithoutKey(t *testing.T) {
	t.Parallel()
	op := newProvider(t, oidctest.Config{DPoP: true})
	h := newHarnessWith(t, op, offline, WithDPoP())
	h.mustLogin("/me")
	editTokens(t, h, func(ts *tokenSet) { ts.DPoPKey = nil; ts.Expiry = ts.Obtained })
	before := op.Hits("/token")
	if st, _ := h.userinfo(); st != http.StatusUnauthorized {
		t.Fatalf("userinfo: %d, want 401 (log in again)", st)
	}
	if op.Hits("/token") != before {
		t.Fatal("a refresh without the login's key reached the token endpoint")
	}
}
