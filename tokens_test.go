package oidcauth

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/oidcauth/oidcauth/oidctest"
)

func TestTokenAnonymous(t *testing.T) {
	t.Parallel()
	h := newHarness(t, oidctest.Config{})
	resp := h.do(http.MethodGet, "/api/token-open", nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /api/token-open: %d %s, want 401", resp.StatusCode, body(resp))
	}
}

func TestClient(t *testing.T) {
	t.Parallel()
	var elsewhere atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Store(r.Header.Get("Authorization"))
	}))
	defer other.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			io.WriteString(w, r.Header.Get("Authorization"))
		case "/same":
			http.Redirect(w, r, "/echo", http.StatusFound)
		case "/away":
			http.Redirect(w, r, other.URL+"/steal", http.StatusFound)
		}
	}))
	defer api.Close()
	h := newHarness(t, oidctest.Config{RotateRefreshTokens: true}, offline)
	h.mustLogin("/me")
	call := func(target string) (int, string) {
		resp := h.do(http.MethodGet, "/api/call?url="+url.QueryEscape(target), nil)
		return resp.StatusCode, body(resp)
	}
	if st, got := call(api.URL + "/echo"); st != http.StatusOK || got != "Bearer "+stored(t, h).AccessToken {
		t.Fatalf("the API got %d %q, want the session's token", st, got)
	}
	expireTokens(t, h)
	old := stored(t, h).AccessToken
	if st, got := call(api.URL + "/same"); st != http.StatusOK || got == "Bearer "+old || got != "Bearer "+stored(t, h).AccessToken {
		t.Fatalf("after expiry the API got %d %q, want the refreshed token", st, got)
	}
	if st, _ := call(api.URL + "/away"); st != http.StatusFound || elsewhere.Load() != nil {
		t.Fatalf("a redirect to another origin: %d, token sent there: %v", st, elsewhere.Load())
	}
	// A refused refresh: the handler's HandleError sees through *url.Error.
	expireTokens(t, h)
	h.op.RevokeRefreshTokens()
	if st, _ := call(api.URL + "/echo"); st != http.StatusUnauthorized {
		t.Fatalf("with a refused refresh: %d, want 401", st)
	}
}

func TestTokenOptions(t *testing.T) {
	t.Parallel()
	op := newProvider(t, oidctest.Config{})
	base := []Option{WithClientID("client"), WithRedirectURL("http://127.0.0.1:1/callback")}
	for _, o := range []Option{WithRefreshLeeway(-time.Second), WithRefreshLeeway(2 * time.Hour)} {
		if _, err := New(t.Context(), op.Issuer, append(base, o)...); !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "WithRefreshLeeway") {
			t.Errorf("New: %v, want ErrInvalidOption naming WithRefreshLeeway", err)
		}
	}
	noUserInfo := WithEndpoints(Endpoints{Authorize: op.Issuer + "/authorize", Token: op.Issuer + "/token", JWKS: op.Issuer + "/jwks"})
	if _, err := New(t.Context(), op.Issuer, append(base, noUserInfo, WithUserInfoClaims())...); !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "WithUserInfoClaims") {
		t.Errorf("New: %v, want ErrInvalidOption naming WithUserInfoClaims", err)
	}
}

func TestRefreshAhead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		ahead bool
	}{{"off", false}, {"on", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The store counts reads; oidcauth's own memory store, unlike an
			// application's, is not shared, so refused refreshes end at once.
			store := &countingStore{MemStore: memstore.New()}
			opts := []Option{offline, WithRefreshAhead()}
			if !tt.ahead {
				sm := scs.New()
				sm.Store = store
				opts = []Option{offline, WithSessionManager(sm)}
			}
			h := newHarness(t, oidctest.Config{RotateRefreshTokens: true}, opts...)
			h.mustLogin("/me")
			expireTokens(t, h)
			h.op.SetTamper(oidctest.Tamper{IDTokenClaims: func(c map[string]any) { c["name"] = "Alice Renamed" }})
			reads := store.tokenReads.Load()
			me := body(h.get("/api/me"))
			if !tt.ahead {
				if n := store.tokenReads.Load() - reads; n != 0 || h.op.CountGrants("refresh_token") != 0 {
					t.Fatalf("without WithRefreshAhead the middleware read the token record %d times and refreshed %d times",
						n, h.op.CountGrants("refresh_token"))
				}
				return
			}
			// The claims of this very request are the refreshed ones.
			if h.op.CountGrants("refresh_token") != 1 || !strings.Contains(me, "Alice Renamed") {
				t.Fatalf("refreshes %d, /api/me %s; want the middleware to refresh", h.op.CountGrants("refresh_token"), me)
			}
			body(h.get("/api/me"))
			if h.op.CountGrants("refresh_token") != 1 {
				t.Fatal("the middleware refreshed fresh tokens")
			}
			// A refused refresh ends the login: API 401, browser to login,
			// Optional pages anonymous.
			expireTokens(t, h)
			h.op.RevokeRefreshTokens()
			if st := h.apiStatus(); st != http.StatusUnauthorized {
				t.Fatalf("GET /api/me with refused refresh: %d, want 401", st)
			}
			h.mustLogin("/me")
			expireTokens(t, h)
			h.op.RevokeRefreshTokens()
			if resp := h.get("/me"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), h.auth.primary().meta.AuthorizationEndpoint) {
				t.Fatalf("GET /me with refused refresh: %d to %q, want a redirect to log in", resp.StatusCode, resp.Header.Get("Location"))
			}
			h.mustLogin("/me")
			expireTokens(t, h)
			h.op.RevokeRefreshTokens()
			if got := body(h.get("/")); got != "hello stranger" {
				t.Fatalf("GET / with refused refresh: %q, want anonymous", got)
			}
		})
	}
}

func TestRefreshAheadProviderDown(t *testing.T) {
	t.Parallel()
	var last error
	h := newHarness(t, oidctest.Config{}, offline, WithRefreshAhead(), WithTimeout(time.Second), recordErrors(&last))
	h.mustLogin("/me")
	expireTokens(t, h)
	h.op.SetTamper(oidctest.Tamper{TokenStatus: 500})
	if st := h.apiStatus(); st != http.StatusBadGateway || !errors.Is(last, ErrRefresh) {
		t.Fatalf("GET /api/me: %d %v, want 502 ErrRefresh", st, last)
	}
	if got := body(h.get("/")); got != "hello stranger" {
		t.Fatalf("GET /: %q, want anonymous while the provider fails", got)
	}
	h.op.SetTamper(oidctest.Tamper{})
	if st := h.apiStatus(); st != http.StatusOK {
		t.Fatalf("GET /api/me once the provider works: %d", st)
	}
}
