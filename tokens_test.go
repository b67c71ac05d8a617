package oidcauth

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/oidcauth/oidcauth/oidctest"
	"golang.org/x/oauth2"
)

// offline asks for a refresh token.
var offline = WithScopes("openid", "profile", "email", "offline_access")

// tokenRoutes are the harness's routes for the token accessors.
func (h *harness) tokenRoutes(mux *http.ServeMux) {
	token := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := h.auth.Token(r)
		if err != nil {
			h.auth.HandleError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(tok)
	})
	mux.Handle("GET /api/token", h.auth.Require(token))
	mux.Handle("GET /token-page", h.auth.Require(token))
	mux.Handle("GET /api/token-open", token) // no Require: Token on an anonymous session
	mux.Handle("GET /api/userinfo", h.auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, err := h.auth.UserInfo(r)
		if err != nil {
			h.auth.HandleError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(info)
	})))
	// /api/call GETs the URL in its url parameter with Client and relays the answer.
	mux.Handle("GET /api/call", h.auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, r.URL.Query().Get("url"), nil)
		resp, err := h.auth.Client(r).Do(req)
		if err != nil {
			h.auth.HandleError(w, r, err)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})))
}

// tokenRecords returns the token records in h's store by key.
func tokenRecords(t testing.TB, h *harness) map[string]*tokenSet {
	t.Helper()
	all, err := h.auth.sm.Store.(interface {
		All() (map[string][]byte, error)
	}).All()
	if err != nil {
		t.Fatal(err)
	}
	sets := map[string]*tokenSet{}
	for k, b := range all {
		if strings.HasPrefix(k, "oidcauth.tokens.") {
			var ts tokenSet
			if err := json.Unmarshal(b, &ts); err != nil {
				t.Fatal(err)
			}
			sets[k] = &ts
		}
	}
	return sets
}

// stored returns the one token record in h's store, or nil when there is none.
func stored(t testing.TB, h *harness) *tokenSet {
	t.Helper()
	sets := tokenRecords(t, h)
	if len(sets) > 1 {
		t.Fatalf("%d token records, want at most 1", len(sets))
	}
	for _, ts := range sets {
		return ts
	}
	return nil
}

// editTokens changes every token record in h's store, as the passing of
// time would.
func editTokens(t testing.TB, h *harness, edit func(*tokenSet)) {
	t.Helper()
	for k, ts := range tokenRecords(t, h) {
		edit(ts)
		b, _ := json.Marshal(ts)
		if err := h.auth.sm.Store.Commit(k, b, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
}

// expireTokens makes the stored access tokens expired.
func expireTokens(t testing.TB, h *harness) {
	t.Helper()
	editTokens(t, h, func(ts *tokenSet) { ts.Expiry = time.Now().Add(-time.Second) })
}

// fetch GETs path as an API client; safe in any goroutine.
func (h *harness) fetch(path string) (int, string, error) {
	req, _ := http.NewRequest(http.MethodGet, h.app.URL+path, nil)
	req.Header.Set("Accept", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// apiToken returns the access token GET /api/token answers, failing unless 200.
func (h *harness) apiToken() string {
	h.t.Helper()
	resp := h.do(http.MethodGet, "/api/token", nil)
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal([]byte(body(resp)), &tok); resp.StatusCode != http.StatusOK || err != nil || tok.AccessToken == "" {
		h.t.Fatalf("GET /api/token: status %d body %s", resp.StatusCode, body(resp))
	}
	if tok.RefreshToken != "" {
		h.t.Fatal("GET /api/token: Token handed out the refresh token")
	}
	return tok.AccessToken
}

// refreshRequests returns the provider's refresh_token grant requests.
func refreshRequests(op *oidctest.Provider) []oidctest.TokenRequest {
	var rs []oidctest.TokenRequest
	for _, r := range op.TokenRequests() {
		if r.GrantType == "refresh_token" {
			rs = append(rs, r)
		}
	}
	return rs
}

// noSecretsLogged fails when the logs hold any of secrets.
func noSecretsLogged(t *testing.T, h *harness, secrets ...string) {
	t.Helper()
	logs := h.logs.String()
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("the logs contain a token %.12q…:\n%s", s, logs)
		}
	}
}

func TestTokenRefreshesWhenExpiring(t *testing.T) {
	t.Parallel()
	in := func(d time.Duration) func(*tokenSet) {
		return func(ts *tokenSet) {
			ts.Obtained, ts.Expiry = time.Now().Add(-time.Hour), time.Now().Add(d)
		}
	}
	tests := []struct {
		name    string
		ttl     time.Duration // of access tokens at the provider
		opts    []Option
		edit    func(*tokenSet) // the passing of time; nil: none
		refresh bool
	}{
		{"fresh", time.Hour, nil, nil, false},
		{"expired", time.Hour, nil, in(-time.Second), true},
		{"within the default leeway", time.Hour, nil, in(20 * time.Second), true},
		{"beyond the default leeway", time.Hour, nil, in(40 * time.Second), false},
		{"beyond a shorter leeway", time.Hour, []Option{WithRefreshLeeway(10 * time.Second)}, in(20 * time.Second), false},
		{"within a longer leeway", time.Hour, []Option{WithRefreshLeeway(5 * time.Minute)}, in(4 * time.Minute), true},
		// A token living less than twice the leeway is not refreshed at once.
		{"short-lived, just issued", 20 * time.Second, nil, nil, false},
		{"short-lived, past half its life", 20 * time.Second, nil, func(ts *tokenSet) {
			ts.Obtained, ts.Expiry = ts.Obtained.Add(-11*time.Second), ts.Expiry.Add(-11*time.Second)
		}, true},
		{"unknown expiry", time.Hour, nil, func(ts *tokenSet) { ts.Expiry = time.Time{} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, oidctest.Config{AccessTokenTTL: tt.ttl, RotateRefreshTokens: true}, append([]Option{offline}, tt.opts...)...)
			h.mustLogin("/me")
			before := stored(t, h)
			if tt.edit != nil {
				editTokens(t, h, tt.edit)
			}
			got := h.apiToken()
			after := stored(t, h)
			refreshed := h.op.CountGrants("refresh_token")
			if tt.refresh {
				if refreshed != 1 || got == before.AccessToken || got != after.AccessToken || after.Version != before.Version+1 {
					t.Fatalf("refreshes %d, token changed %v, stored %v, version %d→%d; want one refresh, its token served and stored",
						refreshed, got != before.AccessToken, got == after.AccessToken, before.Version, after.Version)
				}
				// The refreshed token is used from then on.
				if again := h.apiToken(); again != got || h.op.CountGrants("refresh_token") != 1 {
					t.Fatalf("second call: refreshes %d, same token %v", h.op.CountGrants("refresh_token"), again == got)
				}
				return
			}
			if refreshed != 0 || got != before.AccessToken {
				t.Fatalf("refreshes %d, token changed %v; want the stored token, no refresh", refreshed, got != before.AccessToken)
			}
		})
	}
}

func TestRefreshUsesTheLoginsClientAuth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		client oidctest.Client
		opts   []Option
	}{
		{"client_secret_basic", oidctest.Client{ID: "c", Secret: "s&=", AuthMethod: "client_secret_basic"}, []Option{WithClientID("c"), WithClientSecret("s&=")}},
		{"client_secret_post", oidctest.Client{ID: "c", Secret: "s", AuthMethod: "client_secret_post"}, []Option{WithClientID("c"), WithClientSecret("s"), WithClientAuth(AuthMethodPost)}},
		{"none", oidctest.Client{ID: "pub", AuthMethod: "none"}, []Option{WithClientID("pub"), WithClientSecret("")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, oidctest.Config{Clients: []oidctest.Client{tt.client}, RotateRefreshTokens: true}, append(tt.opts, offline)...)
			h.mustLogin("/me")
			expireTokens(t, h)
			h.apiToken()
			rs := refreshRequests(h.op)
			if len(rs) != 1 || rs[0].ClientAuth != tt.name || rs[0].Status != http.StatusOK {
				t.Fatalf("refresh requests %+v, want one with %s", rs, tt.name)
			}
		})
	}
}

func TestRefreshTokenRotation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, oidctest.Config{RotateRefreshTokens: true}, offline)
	h.mustLogin("/me")
	first := stored(t, h)
	seen := map[string]bool{first.RefreshToken: true}
	for i := range 3 {
		expireTokens(t, h)
		got := h.apiToken()
		ts := stored(t, h)
		if seen[ts.RefreshToken] || ts.AccessToken != got {
			t.Fatalf("refresh %d: the stored refresh token was not replaced by the rotated one", i+1)
		}
		seen[ts.RefreshToken] = true
	}
	rs := refreshRequests(h.op)
	if len(rs) != 3 {
		t.Fatalf("%d refresh requests, want 3", len(rs))
	}
	for _, r := range rs {
		if r.Status != http.StatusOK || r.Reused {
			t.Fatalf("refresh request %+v: a rotated-away refresh token was sent", r)
		}
	}
	// The provider refuses the first, rotated-away refresh token.
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}}
	req, _ := http.NewRequest(http.MethodPost, h.op.Issuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("client", "secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "invalid_grant") {
		t.Fatalf("reusing a rotated refresh token: %d %s", resp.StatusCode, b)
	}
	// The login is unaffected.
	if st := h.apiStatus(); st != http.StatusOK {
		t.Fatalf("GET /api/me: %d", st)
	}
}

func TestRefreshKeepsTheRefreshTokenWhenNoNewOne(t *testing.T) {
	t.Parallel()
	h := newHarness(t, oidctest.Config{}, offline)
	h.mustLogin("/me")
	first := stored(t, h)
	for i := range 2 {
		expireTokens(t, h)
		h.apiToken()
		if ts := stored(t, h); ts.RefreshToken != first.RefreshToken {
			t.Fatalf("refresh %d: the refresh token changed without rotation", i+1)
		}
	}
	if n := h.op.CountGrants("refresh_token"); n != 2 || len(refreshRequests(h.op)) != 2 {
		t.Fatalf("%d refreshes granted of %d, want 2 of 2", n, len(refreshRequests(h.op)))
	}
}

func TestRefreshSingleFlight(t *testing.T) {
	t.Parallel()
	h := newHarness(t, oidctest.Config{RotateRefreshTokens: true}, offline)
	h.mustLogin("/me")
	expireTokens(t, h)
	// A slow token endpoint keeps every request waiting on the one refresh.
	h.op.SetTamper(oidctest.Tamper{TokenDelay: 100 * time.Millisecond})
	const n = 50
	tokens := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			st, b, err := h.fetch("/api/token")
			var tok oauth2.Token
			if err != nil || st != http.StatusOK || json.Unmarshal([]byte(b), &tok) != nil {
				t.Errorf("request %d: %d %s %v", i, st, b, err)
				return
			}
			tokens[i] = tok.AccessToken
		})
	}
	wg.Wait()
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

func TestRefreshRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		opts   []Option
		refuse func(op *oidctest.Provider)
	}{
		{"revoked refresh token", []Option{offline}, (*oidctest.Provider).RevokeRefreshTokens},
		{"invalid_grant", []Option{offline}, func(op *oidctest.Provider) {
			op.SetTamper(oidctest.Tamper{TokenStatus: 400, TokenBody: `{"error":"invalid_grant","error_description":"refresh token expired"}`})
		}},
		{"no refresh token", nil, func(*oidctest.Provider) {}},
	}
	for _, tt := range tests {
		for _, browser := range []bool{false, true} {
			name := tt.name + "/api"
			if browser {
				name = tt.name + "/browser"
			}
			t.Run(name, func(t *testing.T) {
				var last error
				h := newHarness(t, oidctest.Config{}, append(tt.opts, recordErrors(&last))...)
				h.mustLogin("/me")
				var secrets []string
				json.Unmarshal([]byte(body(h.get("/tokens"))), &secrets)
				expireTokens(t, h)
				tt.refuse(h.op)
				if browser {
					resp := h.get("/token-page")
					loc := resp.Header.Get("Location")
					if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, h.auth.meta.AuthorizationEndpoint+"?") {
						t.Fatalf("GET /token-page: %d to %q, want a redirect to log in again", resp.StatusCode, loc)
					}
				} else {
					resp := h.do(http.MethodGet, "/api/token", nil)
					if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" || !strings.Contains(body(resp), "login_required") {
						t.Fatalf("GET /api/token: %d %s, want 401", resp.StatusCode, body(resp))
					}
				}
				// The login has ended: its tokens are gone, the middleware
				// sends it to log in.
				if stored(t, h) != nil {
					t.Error("the token record of the ended login is still there")
				}
				if st := h.apiStatus(); st != http.StatusUnauthorized {
					t.Errorf("GET /api/me after the login ended: %d, want 401", st)
				}
				// Logging in again works.
				h.op.SetTamper(oidctest.Tamper{})
				h.mustLogin("/me")
				if st := h.apiStatus(); st != http.StatusOK {
					t.Errorf("GET /api/me after logging in again: %d", st)
				}
				noSecretsLogged(t, h, secrets...)
			})
		}
	}
}

func TestTokenAnonymous(t *testing.T) {
	t.Parallel()
	h := newHarness(t, oidctest.Config{})
	resp := h.do(http.MethodGet, "/api/token-open", nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /api/token-open: %d %s, want 401", resp.StatusCode, body(resp))
	}
}

func TestRefreshProviderFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tamper oidctest.Tamper
		down   bool
	}{
		{"slow", oidctest.Tamper{TokenDelay: 5 * time.Second}, false},
		{"server error", oidctest.Tamper{TokenStatus: 503, TokenBody: `<html>down for maintenance</html>`}, false},
		{"other error", oidctest.Tamper{TokenStatus: 401, TokenBody: `{"error":"invalid_client"}`}, false},
		{"not JSON", oidctest.Tamper{TokenStatus: 200, TokenBody: `not json`}, false},
		{"down", oidctest.Tamper{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var last error
			h := newHarness(t, oidctest.Config{}, offline, WithTimeout(time.Second), recordErrors(&last))
			h.mustLogin("/me")
			var secrets []string
			json.Unmarshal([]byte(body(h.get("/tokens"))), &secrets)
			expireTokens(t, h)
			before := stored(t, h)
			h.op.SetTamper(tt.tamper)
			if tt.down {
				h.op.Close()
			}
			resp := h.do(http.MethodGet, "/api/token", nil)
			if resp.StatusCode != http.StatusBadGateway || !errors.Is(last, ErrRefresh) || errors.Is(last, ErrNotLoggedIn) {
				t.Fatalf("GET /api/token: %d %s, error %v; want 502 ErrRefresh", resp.StatusCode, body(resp), last)
			}
			if strings.Contains(body(resp), before.AccessToken) {
				t.Fatal("the expired token was served")
			}
			// The login stays, tokens untouched, and works once the provider does.
			if after := stored(t, h); after == nil || after.Version != before.Version || after.RefreshToken != before.RefreshToken {
				t.Fatal("the token record changed after a failed refresh")
			}
			noSecretsLogged(t, h, secrets...)
			if tt.down {
				return
			}
			h.op.SetTamper(oidctest.Tamper{})
			if got := h.apiToken(); got == before.AccessToken {
				t.Fatal("no refresh after the provider recovered")
			}
		})
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
	a.mustLogin("/me")
	expireTokens(t, a)
	// Both instances send the same refresh token; the provider takes the
	// first and refuses the second as rotated away.
	op.SetTamper(oidctest.Tamper{TokenDelay: 300 * time.Millisecond})
	var wg sync.WaitGroup
	tokens := make([]string, 6)
	for i := range tokens {
		h := a
		if i%2 == 1 {
			h = b
		}
		wg.Go(func() {
			st, body, err := h.fetch("/api/token")
			var tok oauth2.Token
			if err != nil || st != http.StatusOK || json.Unmarshal([]byte(body), &tok) != nil {
				t.Errorf("request %d: %d %s %v", i, st, body, err)
				return
			}
			tokens[i] = tok.AccessToken
		})
	}
	wg.Wait()
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

func TestRefreshedIDToken(t *testing.T) {
	t.Parallel()
	set := func(k string, v any) func(map[string]any) { return func(c map[string]any) { c[k] = v } }
	tests := []struct {
		name   string
		tamper func(issuer string) oidctest.Tamper
		ok     bool
	}{
		{"new claims", func(string) oidctest.Tamper { return oidctest.Tamper{IDTokenClaims: set("name", "Alice Renamed")} }, true},
		{"another sub", func(string) oidctest.Tamper { return oidctest.Tamper{IDTokenClaims: set("sub", "mallory")} }, false},
		{"another issuer", func(iss string) oidctest.Tamper { return oidctest.Tamper{IDTokenClaims: set("iss", iss+"/other")} }, false},
		{"another audience", func(string) oidctest.Tamper { return oidctest.Tamper{IDTokenClaims: set("aud", "other-client")} }, false},
		{"expired", func(string) oidctest.Tamper {
			return oidctest.Tamper{IDTokenClaims: set("exp", time.Now().Add(-time.Hour).Unix())}
		}, false},
		{"bad signature", func(string) oidctest.Tamper { return oidctest.Tamper{BadSignature: true} }, false},
		{"claims that do not parse", func(string) oidctest.Tamper { return oidctest.Tamper{IDTokenClaims: set("name", 42)} }, false},
		{"wrong at_hash", func(string) oidctest.Tamper {
			return oidctest.Tamper{IDTokenClaims: set("at_hash", "AAAAAAAAAAAAAAAAAAAAAA")}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var last error
			h := newHarness(t, oidctest.Config{RotateRefreshTokens: true}, offline, recordErrors(&last))
			h.mustLogin("/me")
			before := stored(t, h)
			expireTokens(t, h)
			h.op.SetTamper(tt.tamper(h.op.Issuer))
			resp := h.do(http.MethodGet, "/api/token", nil)
			if tt.ok {
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("GET /api/token: %d %s", resp.StatusCode, body(resp))
				}
				if ts := stored(t, h); ts.IDToken == before.IDToken {
					t.Fatal("the refreshed id_token was not stored")
				}
				if me := body(h.get("/api/me")); !strings.Contains(me, "Alice Renamed") {
					t.Fatalf("the claims did not follow the refreshed id_token: %s", me)
				}
				return
			}
			if resp.StatusCode != http.StatusBadGateway || !errors.Is(last, ErrIDToken) {
				t.Fatalf("GET /api/token: %d %s, error %v; want 502 ErrIDToken", resp.StatusCode, body(resp), last)
			}
			if stored(t, h) != nil || h.apiStatus() != http.StatusUnauthorized {
				t.Fatal("the login survived a refresh with an invalid id_token")
			}
		})
	}
}

func TestNoIDTokenOnRefreshKeepsClaims(t *testing.T) {
	t.Parallel()
	h := newHarness(t, oidctest.Config{NoIDTokenOnRefresh: true}, offline)
	h.mustLogin("/me")
	before := stored(t, h)
	me := body(h.get("/api/me"))
	expireTokens(t, h)
	h.apiToken()
	if ts := stored(t, h); ts.IDToken != before.IDToken || ts.AccessToken == before.AccessToken {
		t.Fatal("want a new access token and the login's id_token")
	}
	if again := body(h.get("/api/me")); again != me {
		t.Fatalf("the claims changed: %s → %s", me, again)
	}
}

// countingStore counts the reads of token records and can fail them.
type countingStore struct {
	*memstore.MemStore
	tokenReads atomic.Int64
	failTokens atomic.Bool
}

func (s *countingStore) Find(key string) ([]byte, bool, error) {
	if strings.HasPrefix(key, "oidcauth.tokens.") {
		s.tokenReads.Add(1)
		if s.failTokens.Load() {
			return nil, false, errStoreDown
		}
	}
	return s.MemStore.Find(key)
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
			if resp := h.get("/me"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), h.auth.meta.AuthorizationEndpoint) {
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

// staleStore answers the next read of a token record with stale bytes, as
// if another instance had refreshed the tokens just after this one read them.
type staleStore struct {
	*memstore.MemStore
	mu    sync.Mutex
	stale []byte
}

func (s *staleStore) Find(key string) ([]byte, bool, error) {
	s.mu.Lock()
	stale := s.stale
	if strings.HasPrefix(key, "oidcauth.tokens.") {
		s.stale = nil
	}
	s.mu.Unlock()
	if stale != nil && strings.HasPrefix(key, "oidcauth.tokens.") {
		return stale, true, nil
	}
	return s.MemStore.Find(key)
}

func TestRefreshRereadsTheRecord(t *testing.T) {
	t.Parallel()
	store := &staleStore{MemStore: memstore.New()}
	sm := scs.New()
	sm.Store = store
	h := newHarness(t, oidctest.Config{RotateRefreshTokens: true}, offline, WithSessionManager(sm))
	h.mustLogin("/me")
	expireTokens(t, h)
	old, _ := json.Marshal(stored(t, h))
	h.apiToken()
	// The request reads the expired set; the refresh must re-read and find
	// the fresh one rather than send the rotated-away refresh token.
	store.mu.Lock()
	store.stale = old
	store.mu.Unlock()
	if got := h.apiToken(); got != stored(t, h).AccessToken {
		t.Fatal("the request did not get the stored token")
	}
	if rs := refreshRequests(h.op); len(rs) != 1 {
		t.Fatalf("refresh requests %+v, want 1: the refresh did not re-read the record", rs)
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
