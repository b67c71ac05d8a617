package oidcauth

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/oidcauth/oidcauth/oidctest"
)

func TestBackchannelLogoutEndsSessions(t *testing.T) {
	hashed := func() Option {
		sm := scs.New()
		sm.Store = memstore.New()
		sm.HashTokenInStore = true
		return WithSessionManager(sm)
	}
	tests := []struct {
		name string
		opts []Option
		// token makes the logout token for the first browser's sid and sub.
		token func(op *oidctest.Provider, sid, sub string) string
		// bothEnd says whether the user's second browser (another provider
		// session) ends too.
		bothEnd bool
		header  http.Header
	}{
		{name: "by sid and sub", token: func(op *oidctest.Provider, sid, sub string) string {
			return op.SignTyped(op.LogoutClaims("client", sub, sid), "logout+jwt")
		}},
		{name: "by sid only", token: func(op *oidctest.Provider, sid, sub string) string {
			return op.SignTyped(op.LogoutClaims("client", "", sid), "logout+jwt")
		}},
		{name: "by sub: every session of the user", bothEnd: true, token: func(op *oidctest.Provider, sid, sub string) string {
			return op.SignTyped(op.LogoutClaims("client", sub, ""), "logout+jwt")
		}},
		{name: "HashTokenInStore, by sid", opts: []Option{hashed()}, token: func(op *oidctest.Provider, sid, sub string) string {
			return op.SignTyped(op.LogoutClaims("client", sub, sid), "logout+jwt")
		}},
		{name: "HashTokenInStore, by sub", opts: []Option{hashed()}, bothEnd: true, token: func(op *oidctest.Provider, sid, sub string) string {
			return op.SignTyped(op.LogoutClaims("client", sub, ""), "logout+jwt")
		}},
		{name: "session required, token with sid", opts: []Option{WithBackchannelLogoutSessionRequired()}, token: func(op *oidctest.Provider, sid, sub string) string {
			return op.SignTyped(op.LogoutClaims("client", sub, sid), "logout+jwt")
		}},
		{name: "no typ header", token: func(op *oidctest.Provider, sid, sub string) string {
			return op.SignTyped(op.LogoutClaims("client", sub, sid), "")
		}},
		{name: "typ application/logout+jwt", token: func(op *oidctest.Provider, sid, sub string) string {
			return op.SignTyped(op.LogoutClaims("client", sub, sid), "application/Logout+JWT")
		}},
		{name: "typ JWT", token: func(op *oidctest.Provider, sid, sub string) string {
			return op.SignTyped(op.LogoutClaims("client", sub, sid), "JWT")
		}},
		{name: "typ application/jwt", token: func(op *oidctest.Provider, sid, sub string) string {
			return op.SignTyped(op.LogoutClaims("client", sub, sid), "application/jwt")
		}},
		{name: "typ JWT and no exp, as some certified providers send", token: func(op *oidctest.Provider, sid, sub string) string {
			c := op.LogoutClaims("client", sub, sid)
			delete(c, "exp")
			return op.SignTyped(c, "JWT")
		}},
		{name: "no exp, recent iat", token: func(op *oidctest.Provider, sid, sub string) string {
			c := op.LogoutClaims("client", sub, sid)
			delete(c, "exp")
			return op.SignTyped(c, "logout+jwt")
		}},
		{name: "several audiences with azp", token: func(op *oidctest.Provider, sid, sub string) string {
			c := op.LogoutClaims("client", sub, sid)
			c["aud"], c["azp"] = []string{"client", "other"}, "client"
			return op.SignTyped(c, "logout+jwt")
		}},
		{name: "cross-site headers: no CSRF check", header: http.Header{"Origin": {"null"}, "Sec-Fetch-Site": {"cross-site"}},
			token: func(op *oidctest.Provider, sid, sub string) string {
				return op.SignTyped(op.LogoutClaims("client", sub, sid), "logout+jwt")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, oidctest.Config{}, tt.opts...)
			uri := h.serveBackchannel()
			h.mustLogin("/me")
			other := h.newBrowser()
			other.mustLogin("/me")
			sid, sub := h.sidSub()
			if osid, _ := other.sidSub(); osid == sid {
				t.Fatal("the two browsers share a provider session")
			}
			tokensBefore := storeKeys(t, h.auth, tokensPrefix)
			token := tt.token(h.op, sid, sub)

			resp := postLogout(t, uri, logoutForm(token), tt.header)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("back-channel logout: %d %s", resp.StatusCode, body(resp))
			}
			h.mustBeLoggedOut("the logged-out browser")
			ended := 1
			if tt.bothEnd {
				other.mustBeLoggedOut("the user's other browser")
				ended = 2
			} else if s := other.apiStatus(); s != http.StatusOK {
				t.Fatalf("the user's other browser (another provider session): %d, want 200", s)
			}
			if n := storeKeys(t, h.auth, tokensPrefix); n != tokensBefore-ended {
				t.Errorf("token records: %d, want %d", n, tokensBefore-ended)
			}
			if strings.Contains(h.logs.String(), token) {
				t.Error("the logs hold the logout token")
			}
		})
	}
}

func TestBackchannelLogoutRefusals(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name   string
		opts   []Option
		tamper oidctest.Tamper
		typ    string // default logout+jwt
		edit   func(c map[string]any)
		// before runs before the token is posted, with its claims.
		before func(t *testing.T, h *harness, uri string, c map[string]any)
	}{
		{name: "bad signature", tamper: oidctest.Tamper{BadSignature: true}},
		{name: "key not in the key set", tamper: oidctest.Tamper{UnknownKey: true}},
		{name: "alg none", tamper: oidctest.Tamper{Alg: "none"}},
		{name: "alg HS256 keyed with the public key", tamper: oidctest.Tamper{Alg: "HS256"}},
		{name: "wrong iss", edit: func(c map[string]any) { c["iss"] = c["iss"].(string) + "/other" }},
		{name: "wrong aud", edit: func(c map[string]any) { c["aud"] = "other-client" }},
		{name: "several audiences, no azp", edit: func(c map[string]any) { c["aud"] = []string{"client", "other"} }},
		{name: "azp of another client", edit: func(c map[string]any) { c["azp"] = "other-client" }},
		{name: "missing events", edit: func(c map[string]any) { delete(c, "events") }},
		{name: "events not an object", edit: func(c map[string]any) { c["events"] = []string{oidctest.BackchannelLogoutEvent} }},
		{name: "events without the logout event", edit: func(c map[string]any) {
			c["events"] = map[string]any{"urn:test:other-event": map[string]any{}}
		}},
		{name: "logout event not an object", edit: func(c map[string]any) {
			c["events"] = map[string]any{oidctest.BackchannelLogoutEvent: true}
		}},
		{name: "with nonce", edit: func(c map[string]any) { c["nonce"] = "n" }},
		{name: "with an empty nonce", edit: func(c map[string]any) { c["nonce"] = "" }},
		{name: "neither sid nor sub", edit: func(c map[string]any) { delete(c, "sid"); delete(c, "sub") }},
		{name: "sid of another subject", edit: func(c map[string]any) { c["sub"] = "mallory" }},
		{name: "sub not a string", edit: func(c map[string]any) { c["sub"] = 42 }},
		{name: "sid not a string", edit: func(c map[string]any) { c["sid"] = 42 }},
		{name: "session required, no sid", opts: []Option{WithBackchannelLogoutSessionRequired()},
			edit: func(c map[string]any) { delete(c, "sid") }},
		{name: "replayed jti", before: func(t *testing.T, h *harness, uri string, c map[string]any) {
			// The same jti, first used for a provider session this app does not have.
			first := h.op.LogoutClaims("client", "", "unknown-sid")
			first["jti"] = c["jti"]
			if resp := postLogout(t, uri, logoutForm(h.op.SignTyped(first, "logout+jwt")), nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("first use of the jti: %d %s", resp.StatusCode, body(resp))
			}
		}},
		{name: "expired", edit: func(c map[string]any) {
			c["iat"], c["exp"] = now.Add(-5*time.Minute).Unix(), now.Add(-2*time.Minute).Unix()
		}},
		{name: "exp not a number", edit: func(c map[string]any) { c["exp"] = "tomorrow" }},
		{name: "no exp and an old iat", edit: func(c map[string]any) { delete(c, "exp"); c["iat"] = now.Add(-10 * time.Minute).Unix() }},
		{name: "exp years ahead and an iat over an hour old", edit: func(c map[string]any) {
			c["iat"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.AddDate(100, 0, 0).Unix()
		}},
		{name: "missing iat", edit: func(c map[string]any) { delete(c, "iat") }},
		{name: "iat not a number", edit: func(c map[string]any) { c["iat"] = "now" }},
		{name: "iat in the future", edit: func(c map[string]any) { c["iat"] = now.Add(5 * time.Minute).Unix() }},
		{name: "nbf in the future", edit: func(c map[string]any) { c["nbf"] = now.Add(5 * time.Minute).Unix() }},
		{name: "missing jti", edit: func(c map[string]any) { delete(c, "jti") }},
		{name: "empty jti", edit: func(c map[string]any) { c["jti"] = "" }},
		{name: "jti not a string", edit: func(c map[string]any) { c["jti"] = 42 }},
		{name: "typ of an access token", typ: "at+jwt"},
		{name: "typ of a security event", typ: "secevent+jwt"},
		{name: "typ JOSE", typ: "JOSE"},
		{name: "typ application/", typ: "application/"},
		{name: "an id_token as logout token", edit: func(c map[string]any) {
			delete(c, "events")
			c["nonce"] = "n"
		}},
		{name: "an id_token typed JWT as logout token", typ: "JWT", edit: func(c map[string]any) {
			delete(c, "events")
			c["nonce"] = "n"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, oidctest.Config{}, tt.opts...)
			uri := h.serveBackchannel()
			h.mustLogin("/me")
			sid, sub := h.sidSub()
			c := h.op.LogoutClaims("client", sub, sid)
			if tt.edit != nil {
				tt.edit(c)
			}
			if tt.before != nil {
				tt.before(t, h, uri, c)
			}
			typ := tt.typ
			if typ == "" {
				typ = "logout+jwt"
			}
			h.op.SetTamper(tt.tamper)
			token := h.op.SignTyped(c, typ)
			h.op.SetTamper(oidctest.Tamper{})

			resp := postLogout(t, uri, logoutForm(token), nil)
			checkRefused(t, resp)
			if s := h.apiStatus(); s != http.StatusOK {
				t.Fatalf("a refused logout token ended the session: %d", s)
			}
			if strings.Contains(h.logs.String(), token) {
				t.Error("the logs hold the logout token")
			}
		})
	}
}

func TestBackchannelLogoutMalformedRequests(t *testing.T) {
	tests := []struct {
		name   string
		status int
		// send sends a request carrying the valid logout token.
		send func(t *testing.T, uri, token string) *http.Response
	}{
		{"GET", http.StatusMethodNotAllowed, func(t *testing.T, uri, token string) *http.Response {
			resp, err := http.Get(uri + "?" + logoutForm(token).Encode())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp
		}},
		{"no logout_token", http.StatusBadRequest, func(t *testing.T, uri, token string) *http.Response {
			return postLogout(t, uri, url.Values{"token": {token}}, nil)
		}},
		{"logout_token twice", http.StatusBadRequest, func(t *testing.T, uri, token string) *http.Response {
			return postLogout(t, uri, url.Values{"logout_token": {token, token}}, nil)
		}},
		{"logout_token in the query", http.StatusBadRequest, func(t *testing.T, uri, token string) *http.Response {
			return postLogout(t, uri+"?"+logoutForm(token).Encode(), nil, nil)
		}},
		{"body over 64 KiB", http.StatusBadRequest, func(t *testing.T, uri, token string) *http.Response {
			return postLogout(t, uri, url.Values{"logout_token": {token}, "pad": {strings.Repeat("x", 64<<10)}}, nil)
		}},
		{"JSON body", http.StatusBadRequest, func(t *testing.T, uri, token string) *http.Response {
			b, _ := json.Marshal(map[string]string{"logout_token": token})
			resp, err := http.Post(uri, "application/json", strings.NewReader(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, oidctest.Config{})
			uri := h.serveBackchannel()
			h.mustLogin("/me")
			sid, sub := h.sidSub()
			token := h.op.SignTyped(h.op.LogoutClaims("client", sub, sid), "logout+jwt")
			if resp := tt.send(t, uri, token); resp.StatusCode != tt.status || resp.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("status %d, want %d; headers %v", resp.StatusCode, tt.status, resp.Header)
			}
			if s := h.apiStatus(); s != http.StatusOK {
				t.Fatalf("a malformed request ended the session: %d", s)
			}
		})
	}
}

// TestBackchannelLogoutFromProvider uses the provider's own logout: by
// provider session, and for every session of a user.
func TestBackchannelLogoutFromProvider(t *testing.T) {
	t.Parallel()
	h := newHarness(t, oidctest.Config{})
	h.serveBackchannel()
	h.mustLogin("/me")
	second := h.newBrowser()
	second.mustLogin("/me")
	third := h.newBrowser()
	third.mustLogin("/me")

	sid, _ := h.sidSub()
	if err := h.op.Logout(sid); err != nil {
		t.Fatal(err)
	}
	h.mustBeLoggedOut("after the provider ended its session")
	if second.apiStatus() != http.StatusOK || third.apiStatus() != http.StatusOK {
		t.Fatal("the provider's logout of one session ended others")
	}
	if err := h.op.LogoutSubject("alice"); err != nil {
		t.Fatal(err)
	}
	second.mustBeLoggedOut("second browser, after the user's logout")
	third.mustBeLoggedOut("third browser, after the user's logout")
}

// TestBackchannelLogoutAcrossInstances runs two instances of the app, each
// with its own scs manager over one Store: the logout that reaches A ends the
// session that the browser uses on B.
func TestBackchannelLogoutAcrossInstances(t *testing.T) {
	t.Parallel()
	for _, sub := range []bool{false, true} {
		name := "by sid"
		if sub {
			name = "by sub"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			store := memstore.New()
			manager := func() *scs.SessionManager {
				sm := scs.New()
				sm.Store = store
				return sm
			}
			op := newProvider(t, oidctest.Config{})
			a := newHarnessWith(t, op, WithSessionManager(manager()))
			b := newHarnessWith(t, op, WithSessionManager(manager()))
			a.serveBackchannel()

			a.mustLogin("/me")
			// Cookies ignore ports: the browser holds one session for both.
			onB := func() int {
				return a.do(http.MethodGet, b.app.URL+"/api/me", http.Header{"Accept": {"application/json"}}).StatusCode
			}
			if s := onB(); s != http.StatusOK {
				t.Fatalf("the session does not work on B: %d", s)
			}
			var err error
			if sid, user := a.sidSub(); sub {
				err = op.LogoutSubject(user)
			} else {
				err = op.Logout(sid)
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := onB(); s != http.StatusUnauthorized {
				t.Fatalf("after the logout received by A, the session still works on B: %d", s)
			}
			a.mustBeLoggedOut("on A")
		})
	}
}

// checkRefused fails unless resp is the spec's 400 with a JSON error.
func checkRefused(t *testing.T, resp *http.Response) {
	t.Helper()
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	b := body(resp)
	if err := json.Unmarshal([]byte(b), &e); resp.StatusCode != http.StatusBadRequest || err != nil ||
		e.Error != "invalid_request" || e.Description == "" {
		t.Fatalf("status %d body %s, want 400 with a JSON invalid_request", resp.StatusCode, b)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", resp.Header)
	}
}

// TestLogoutTokenJTIKeptBounded: a logout token whose exp is a century away
// does not keep its jti record that long: at most its maximum life.
func TestLogoutTokenJTIKeptBounded(t *testing.T) {
	t.Parallel()
	store := &expiryStore{MemStore: memstore.New()}
	h := newHarness(t, oidctest.Config{}, appManager(store))
	uri := h.serveBackchannel()
	h.mustLogin("/me")
	sid, sub := h.sidSub()
	c := h.op.LogoutClaims("client", sub, sid)
	c["exp"] = time.Now().AddDate(100, 0, 0).Unix()
	if resp := postLogout(t, uri, logoutForm(h.op.SignTyped(c, "logout+jwt")), nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("logout: %d %s", resp.StatusCode, body(resp))
	}
	expiry, ok := store.expiry(jtiKey(h.auth.primary().issuer, c["jti"].(string)))
	if !ok {
		t.Fatal("the jti is not remembered")
	}
	if limit := time.Now().Add(logoutTokenMaxLife + h.auth.clockSkew + time.Second); expiry.After(limit) {
		t.Fatalf("the jti is kept until %v, past its token's maximum life (%v)", expiry, limit)
	}
}

// TestBackchannelLogoutDuringACallback: a back-channel logout that arrives
// while the user is at the provider (the login started, the callback not
// yet reached) stops that login: its id_token predates the logout.
func TestBackchannelLogoutDuringACallback(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		logoutSID string // "" logs the user out
		refused   bool
	}{
		{"by sid", "sid-pending", true},
		{"by sub", "", true},
		{"another provider session", "sid-other", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var last error
			h := newHarness(t, oidctest.Config{}, recordErrors(&last))
			uri := h.serveBackchannel()
			h.op.SetTamper(oidctest.Tamper{IDTokenClaims: func(c map[string]any) {
				c["sid"] = "sid-pending"
				c["iat"] = time.Now().Add(-2 * time.Second).Unix()
			}})
			callback := h.authorize(h.startLogin("/me"))
			if resp := postLogout(t, uri, logoutForm(h.op.SignTyped(h.op.LogoutClaims("client", "alice", tt.logoutSID), "logout+jwt")), nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("logout: %d %s", resp.StatusCode, body(resp))
			}
			resp := h.get(callback)
			if !tt.refused {
				if resp.StatusCode != http.StatusFound || h.apiStatus() != http.StatusOK {
					t.Fatalf("a login of another provider session after a logout of one: %d (%v), want it to complete", resp.StatusCode, last)
				}
				return
			}
			if resp.StatusCode != http.StatusForbidden || !errors.Is(last, ErrProvider) {
				t.Fatalf("the callback after the logout: %d (%v), want 403 ErrProvider", resp.StatusCode, last)
			}
			if s := h.apiStatus(); s != http.StatusUnauthorized {
				t.Fatalf("GET /api/me: %d, want no session", s)
			}
			// A login after the logout, with a newer id_token, works.
			h.op.SetTamper(oidctest.Tamper{IDTokenClaims: func(c map[string]any) { c["iat"] = time.Now().Add(2 * time.Second).Unix() }})
			h.mustLogin("/me")
		})
	}
}
