package oidcauth

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/oidcauth/oidcauth/oidctest"
)

// TestPKCEDowngrade: whatever discovery says about code challenge methods,
// the authorization request uses S256, never plain and never none.
func TestPKCEDowngrade(t *testing.T) {
	for name, methods := range map[string]any{"plain only": []string{"plain"}, "not advertised": nil} {
		t.Run(name, func(t *testing.T) {
			op := newProvider(t, oidctest.Config{})
			op.SetTamper(oidctest.Tamper{Metadata: func(d map[string]any) {
				if methods == nil {
					delete(d, "code_challenge_methods_supported")
				} else {
					d["code_challenge_methods_supported"] = methods
				}
			}})
			h := newHarnessWith(t, op)
			q := h.startLogin("/me").Query()
			if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 {
				t.Fatalf("code_challenge_method %q, code_challenge %q", q.Get("code_challenge_method"), q.Get("code_challenge"))
			}
		})
	}
}

// TestCodeInjection: a code stolen from the victim's flow, injected into the
// attacker's own flow (their state, their binding cookie), fails at the
// token endpoint because the attacker's PKCE verifier does not match.
func TestCodeInjection(t *testing.T) {
	var last error
	op := newProvider(t, oidctest.Config{})
	victim := newHarnessWith(t, op)
	attacker := newHarnessWith(t, op, recordErrors(&last))
	stolen := mustParse(victim.authorize(victim.startLogin("/me"))).Query().Get("code")
	own := attacker.authorize(attacker.startLogin("/me"))
	resp := attacker.get(withParam(own, "code", stolen))
	if resp.StatusCode != http.StatusBadGateway || !errors.Is(last, ErrExchange) {
		t.Fatalf("status %d error %v, want 502 ErrExchange", resp.StatusCode, last)
	}
	if attacker.apiStatus() != http.StatusUnauthorized {
		t.Fatal("the attacker is logged in with the victim's code")
	}
}

// TestTamperedSessionCookie: a forged or altered session cookie is a stranger.
func TestTamperedSessionCookie(t *testing.T) {
	h := newHarness(t, oidctest.Config{})
	h.mustLogin("/me")
	c := h.sessionCookie()
	// Another last character: a 32-byte token's ends in "A" one time in 16.
	last := "A"
	if c.Value[len(c.Value)-1:] == last {
		last = "E"
	}
	for _, v := range []string{c.Value[:len(c.Value)-1] + last, "forged", "", "../../etc/passwd", c.Value + c.Value} {
		h.client.Jar.SetCookies(mustParse(h.app.URL), []*http.Cookie{{Name: c.Name, Value: v, Path: "/"}})
		if got := h.apiStatus(); got != http.StatusUnauthorized {
			t.Errorf("session cookie %q: status %d, want 401", v, got)
		}
	}
}

// TestStoreDownFailsClosed: with the session store down nothing
// authenticates, no login starts or completes, nothing panics; when it
// comes back, the session works again.
func TestStoreDownFailsClosed(t *testing.T) {
	store := &flakyStore{MemStore: memstore.New()}
	h := newHarness(t, oidctest.Config{}, appManager(store))
	h.mustLogin("/me")
	callback := h.authorize(h.startLogin("/login?return_to=/me"))

	h.auth.SessionManager().ErrorFunc = h.auth.SessionError
	store.broken.Store(true)
	for _, tt := range []struct {
		name   string
		status int
		got    int
	}{
		{"API request", http.StatusServiceUnavailable, h.apiStatus()},
		{"browser page", http.StatusServiceUnavailable, h.get("/me").StatusCode},
		{"login start", http.StatusServiceUnavailable, h.get("/login").StatusCode},
		{"callback", http.StatusServiceUnavailable, h.get(callback).StatusCode},
	} {
		if tt.got != tt.status {
			t.Errorf("%s with the store down: status %d, want %d", tt.name, tt.got, tt.status)
		}
	}
	store.broken.Store(false)
	if h.apiStatus() != http.StatusOK {
		t.Fatal("the session does not work once the store is back")
	}
}

// TestOwnManagerStoreErrors: when oidcauth builds the session manager, a
// store failure while loading goes through oidcauth's error handler (503,
// JSON or the error page), not scs's plain 500.
func TestOwnManagerStoreErrors(t *testing.T) {
	var last error
	h := newHarness(t, oidctest.Config{}, recordErrors(&last))
	h.mustLogin("/me")
	store := &flakyStore{MemStore: memstore.New()}
	store.broken.Store(true)
	h.auth.SessionManager().Store = store
	resp := h.do("GET", "/api/me", http.Header{"Accept": {"application/json"}})
	if resp.StatusCode != http.StatusServiceUnavailable || !errors.Is(last, ErrSession) || !errors.Is(last, errStoreDown) {
		t.Fatalf("status %d error %v body %s", resp.StatusCode, last, body(resp))
	}
}

// TestPendingStoreFailure: the store fails only for oidcauth's own records;
// the login neither starts nor completes, with 503.
func TestPendingStoreFailure(t *testing.T) {
	var last error
	store := &flakyStore{MemStore: memstore.New()}
	h := newHarness(t, oidctest.Config{}, appManager(store), recordErrors(&last))
	h.app.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// No session is loaded for these routes, so only oidcauth's own
		// records touch the store.
		store.broken.Store(true)
		defer store.broken.Store(false)
		h.auth.LoginHandler().ServeHTTP(w, r)
	})
	resp := h.get("/login")
	if resp.StatusCode != http.StatusServiceUnavailable || !errors.Is(last, ErrSession) || resp.Header.Get("Location") != "" {
		t.Fatalf("status %d error %v Location %q", resp.StatusCode, last, resp.Header.Get("Location"))
	}
}

// TestSessionCookieCannotNameRecords: scs looks a session up by its cookie's
// value, and oidcauth's records share the Store. A cookie naming one of
// them must be as anonymous as any unknown cookie (302), never a 503 that
// tells who logged in recently: with oidcauth's own manager (which hashes
// tokens) and with an application's manager that does not.
func TestSessionCookieCannotNameRecords(t *testing.T) {
	t.Parallel()
	for _, own := range []bool{true, false} {
		name := map[bool]string{true: "own manager", false: "app manager without hashing"}[own]
		t.Run(name, func(t *testing.T) {
			var opts []Option
			if !own {
				sm := scs.New()
				sm.Store = memstore.New()
				opts = append(opts, WithSessionManager(sm))
			}
			h := newHarness(t, oidctest.Config{}, opts...)
			h.mustLogin("/me")
			_, sub := h.sidSub()
			cookieName := h.auth.SessionManager().Cookie.Name
			if own {
				// Sessions are stored under the token's hash, never the token.
				token := h.sessionCookie().Value
				_, plain, _ := h.auth.sm.Store.Find(token)
				_, hashed, _ := h.auth.sm.Store.Find(hashString(token))
				if plain || !hashed {
					t.Fatalf("session stored under its token: %v, under its hash: %v; want only the hash", plain, hashed)
				}
			}
			for _, key := range []string{
				subIndexKey(h.auth.primary().issuer, sub),
				strings.ReplaceAll(subIndexKey(h.auth.primary().issuer, sub), keyPrefix, "oidcauth."),
				tokensPrefix,
			} {
				req, _ := http.NewRequest(http.MethodGet, h.app.URL+"/me", nil)
				req.Header.Set("Cookie", cookieName+"="+key)
				resp, err := http.DefaultTransport.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusFound {
					t.Errorf("GET /me with the cookie %q: %d, want 302 as for any unknown session", key, resp.StatusCode)
				}
			}
		})
	}
}

// TestClaimsSizeIsCapped: a provider cannot make the application store
// megabytes per login, nor put them in the logout URL.
func TestClaimsSizeIsCapped(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 100<<10)
	bigIDToken := oidctest.Tamper{IDTokenClaims: func(c map[string]any) { c["blob"] = big }}
	t.Run("id_token over the cap", func(t *testing.T) {
		t.Parallel()
		var last error
		h := newHarness(t, oidctest.Config{}, recordErrors(&last))
		h.op.SetTamper(bigIDToken)
		if resp := h.login("/me"); resp.StatusCode != http.StatusBadRequest || !errors.Is(last, ErrIDToken) {
			t.Fatalf("a 100 KiB id_token: %d (%v), want 400 ErrIDToken", resp.StatusCode, last)
		}
		if n := storeKeys(t, h.auth, tokensPrefix); n != 0 {
			t.Fatalf("%d token records stored for a refused login", n)
		}
	})
	t.Run("id_token under a raised cap", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, oidctest.Config{}, WithMaxClaimsSize(1<<20))
		h.op.SetTamper(bigIDToken)
		h.mustLogin("/me")
	})
	t.Run("merged userinfo over the cap", func(t *testing.T) {
		t.Parallel()
		var last error
		h := newHarness(t, oidctest.Config{}, WithUserInfoClaims(), recordErrors(&last))
		h.op.SetTamper(oidctest.Tamper{UserInfoClaims: func(c map[string]any) { c["blob"] = big }})
		if resp := h.login("/me"); resp.StatusCode != http.StatusBadGateway || !errors.Is(last, ErrUserInfo) {
			t.Fatalf("100 KiB of userinfo: %d (%v), want 502 ErrUserInfo", resp.StatusCode, last)
		}
	})
	t.Run("no id_token_hint too long for a URL", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, oidctest.Config{})
		h.op.SetTamper(oidctest.Tamper{IDTokenClaims: func(c map[string]any) { c["blob"] = strings.Repeat("x", 8<<10) }})
		h.mustLogin("/me")
		loc, err := url.Parse(h.logout().Header.Get("Location"))
		if err != nil || !strings.HasPrefix(loc.String(), h.auth.primary().meta.EndSessionEndpoint) {
			t.Fatalf("logout to %v (%v), want the end_session_endpoint", loc, err)
		}
		if q := loc.Query(); q.Has("id_token_hint") || q.Get("client_id") != "client" {
			t.Fatalf("logout URL of %d bytes with id_token_hint %v, client_id %q; want client_id only", len(loc.String()), q.Has("id_token_hint"), q.Get("client_id"))
		}
	})
}

// inflight counts the requests under way through it, and their peak.
type inflight struct {
	now, peak atomic.Int64
}

func (c *inflight) RoundTrip(r *http.Request) (*http.Response, error) {
	n := c.now.Add(1)
	defer c.now.Add(-1)
	for p := c.peak.Load(); n > p && !c.peak.CompareAndSwap(p, n); p = c.peak.Load() {
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestCodeExchangesAreBounded: callbacks of logins anyone can start become
// client-authenticated token requests; at most maxExchanges run at once,
// the others wait their turn, and oidcauth's own client keeps that many
// connections to the provider open instead of opening new ones.
func TestCodeExchangesAreBounded(t *testing.T) {
	t.Parallel()
	counter := &inflight{}
	h := newHarness(t, oidctest.Config{}, WithHTTPClient(&http.Client{Transport: counter}))
	n := 3 * maxExchanges
	callbacks := make([]string, n)
	browsers := make([]*harness, n)
	for i := range n {
		browsers[i] = h.newBrowser()
		callbacks[i] = browsers[i].authorize(browsers[i].startLogin("/me"))
	}
	h.op.SetTamper(oidctest.Tamper{TokenDelay: 100 * time.Millisecond})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if resp := browsers[i].get(callbacks[i]); resp.StatusCode != http.StatusFound {
				t.Errorf("callback %d: %d", i, resp.StatusCode)
			}
		})
	}
	wg.Wait()
	if p := counter.peak.Load(); p > maxExchanges {
		t.Fatalf("%d token requests at once, more than %d", p, maxExchanges)
	}
	def := newHarness(t, oidctest.Config{})
	if tr := def.auth.primary().client.Transport.(*providerTransport).next.(*http.Transport); tr.MaxIdleConnsPerHost < maxExchanges {
		t.Fatalf("the default client keeps %d idle connections per host, fewer than %d", tr.MaxIdleConnsPerHost, maxExchanges)
	}
}

// TestStrictSessionManager: with WithStrictSessionManager, New refuses an
// application's manager weaker than oidcauth's defaults and names each
// setting; a manager as strict as oidcauth's own is accepted.
func TestStrictSessionManager(t *testing.T) {
	t.Parallel()
	op := newProvider(t, oidctest.Config{})
	weak := scs.New()
	weak.Store = memstore.New()
	weak.Cookie.SameSite = http.SameSiteNoneMode
	weak.Cookie.Domain = "example.com"
	weak.Lifetime = 365 * 24 * time.Hour
	_, err := New(context.Background(), op.Issuer, WithClientID("client"), WithClientSecret("secret"),
		WithRedirectURL("http://127.0.0.1:1/callback"), WithSessionManager(weak), WithStrictSessionManager())
	if !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("New with a weak manager: %v, want ErrInvalidOption", err)
	}
	for _, setting := range []string{"WithStrictSessionManager", "Cookie.SameSite", "Cookie.Domain", "HashTokenInStore", "IdleTimeout", "Lifetime"} {
		if !strings.Contains(err.Error(), setting) {
			t.Errorf("the error does not name %s: %v", setting, err)
		}
	}
	strict := scs.New()
	strict.Store = memstore.New()
	strict.HashTokenInStore = true
	strict.IdleTimeout, strict.Lifetime = 30*time.Minute, 8*time.Hour
	h := newHarnessWith(t, op, WithSessionManager(strict), WithStrictSessionManager())
	h.mustLogin("/me")
}

// TestTokenEncryption: with WithTokenEncryption a dump of the Store holds no
// token; tokens still work, across a key rotation; a record no key opens
// fails closed.
func TestTokenEncryption(t *testing.T) {
	t.Parallel()
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	store := memstore.New()
	sm := func() *scs.SessionManager { m := scs.New(); m.Store = store; return m }
	op := newProvider(t, oidctest.Config{})
	h := newHarnessWith(t, op, offline, WithSessionManager(sm()), WithTokenEncryption(k1))
	h.mustLogin("/me")
	_, access, refresh := h.sessionTokens()
	all, _ := store.All()
	for k, b := range all {
		if bytes.Contains(b, []byte(refresh)) || bytes.Contains(b, []byte(access)) {
			t.Fatalf("the record %q holds a token in clear", k)
		}
	}
	// Rotated: the new key first, the old one still opens.
	rotated := newHarnessWith(t, op, offline, WithSessionManager(sm()), WithTokenEncryption(k2, k1))
	rotated.client = h.client
	if got := rotated.apiToken(); got != access {
		t.Fatalf("after the rotation: access token %q, want the stored one", got)
	}
	// A key that does not open the record: 503, never a token.
	other := newHarnessWith(t, op, offline, WithSessionManager(sm()), WithTokenEncryption(k2))
	other.client = h.client
	if st, _, _ := other.fetch("/api/token"); st != http.StatusServiceUnavailable {
		t.Fatalf("a record no key opens: %d, want 503", st)
	}
	if _, err := New(context.Background(), op.Issuer, WithClientID("client"), WithRedirectURL("http://127.0.0.1:1/callback"),
		WithTokenEncryption([]byte("short"))); !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "WithTokenEncryption") {
		t.Fatalf("a 5-byte key: %v, want an error naming WithTokenEncryption", err)
	}
}
