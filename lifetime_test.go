package oidcauth

import (
	"net/http"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/oidcauth/oidcauth/oidctest"
)

func TestSessionCappedByIDToken(t *testing.T) {
	own := func() Option {
		sm := scs.New()
		sm.Store = memstore.New()
		return WithSessionManager(sm)
	}
	tests := []struct {
		name   string
		opts   []Option
		capped bool
	}{
		{"capped", []Option{WithSessionCappedByIDToken()}, true},
		{"capped, application's manager", []Option{WithSessionCappedByIDToken(), own()}, true},
		{"not capped", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := append([]Option{WithClockSkew(0)}, tt.opts...)
			h := newHarness(t, oidctest.Config{IDTokenTTL: 2 * time.Second}, opts...)
			h.mustLogin("/me")
			exp, ok := h.claims()["exp"].(float64)
			if !ok {
				t.Fatal("no exp")
			}
			if s := h.apiStatus(); s != http.StatusOK {
				t.Fatalf("before the id_token expires: %d", s)
			}
			time.Sleep(time.Until(time.Unix(int64(exp), 0).Add(100 * time.Millisecond)))
			if !tt.capped {
				if s := h.apiStatus(); s != http.StatusOK {
					t.Fatalf("without the cap the session ended with the id_token: %d", s)
				}
				return
			}
			h.mustBeLoggedOut("after the id_token's exp")
			// And logging in again works.
			h.mustLogin("/me")
		})
	}
}

// TestSessionCapIsNotInThePast: an id_token accepted within the clock skew
// after its exp still gives a session, not a login loop.
func TestSessionCapIsNotInThePast(t *testing.T) {
	t.Parallel()
	op := newProvider(t, oidctest.Config{})
	op.SetTamper(oidctest.Tamper{IDTokenClaims: func(c map[string]any) { c["exp"] = time.Now().Add(-30 * time.Second).Unix() }})
	h := newHarnessWith(t, op, WithSessionCappedByIDToken(), WithClockSkew(time.Minute))
	h.mustLogin("/me")
	if s := h.apiStatus(); s != http.StatusOK {
		t.Fatalf("right after login: %d, want 200", s)
	}
}
