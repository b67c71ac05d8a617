package oidcauth

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/oidcauth/oidcauth/oidctest"
	"golang.org/x/oauth2"
)

// BenchmarkAuthenticatedGET is the hot path: a logged-in GET whose handler
// reads the claims, beside the bare handler and the floor a user would
// write by hand: a fresh scs.New() (memory store) holding the claims as one
// []byte, read with one Get, without and with a 30-minute idle timeout
// (scs then writes the session back on every request). oidcauth runs with
// its defaults (its own manager, a 30-minute idle timeout).
func BenchmarkAuthenticatedGET(b *testing.B) {
	h := newHarness(b, oidctest.Config{})
	h.mustLogin("/me")
	cookie := h.sessionCookie()
	claims := []byte(`{"iss":"` + h.op.Issuer + `","sub":"alice","aud":"client","name":"Alice Example","email":"alice@example.com"}`)
	ok := func(w http.ResponseWriter, b []byte) { w.WriteHeader(http.StatusOK); w.Write(b) }
	floor := func(idle time.Duration) (http.Handler, *http.Cookie) {
		sm := scs.New()
		sm.IdleTimeout = idle
		put := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { sm.Put(r.Context(), "claims", claims) }))
		rec := httptest.NewRecorder()
		put.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		return sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, _ := sm.Get(r.Context(), "claims").([]byte)
			if c == nil {
				panic("no session")
			}
			ok(w, c)
		})), rec.Result().Cookies()[0]
	}
	floorH, floorCookie := floor(0)
	idleH, idleCookie := floor(30 * time.Minute)
	handlers := []struct {
		name   string
		h      http.Handler
		cookie *http.Cookie
	}{
		{"bare", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ok(w, claims) }), cookie},
		{"scs-floor", floorH, floorCookie},
		{"scs-floor-idle", idleH, idleCookie},
		{"oidcauth", h.auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			raw, found := RawClaimsFromContext(r.Context())
			if !found {
				panic("no claims")
			}
			ok(w, raw)
		})), cookie},
	}
	for _, hh := range handlers {
		b.Run(hh.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/me", nil)
			req.AddCookie(hh.cookie)
			b.ReportAllocs()
			for b.Loop() {
				w := &statusWriter{h: make(http.Header, 4)}
				hh.h.ServeHTTP(w, req)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}

// BenchmarkLogin is a whole login: start, the provider's authorize, and the
// callback (state check, code exchange over loopback, id_token verification,
// session renewal), beside a minimal hand-written sequence with x/oauth2 and
// go-oidc doing the same against the same provider. The provider's own work
// (signing an id_token) is in both. Each login is another user's (nextUser),
// as on a real site; oidcauth-100-sessions logs the same user in again and
// again, so that the user's session index stays at its cap of
// maxIndexEntries live sessions, the oldest ended at every login.
func BenchmarkLogin(b *testing.B) {
	for _, sameUser := range []bool{false, true} {
		name := "oidcauth"
		if sameUser {
			name = "oidcauth-100-sessions"
		}
		b.Run(name, func(b *testing.B) {
			login := oidcauthLogin(b, sameUser)
			b.ReportAllocs()
			for b.Loop() {
				login()
			}
		})
	}
	b.Run("hand-written", func(b *testing.B) {
		login := handWrittenLogin(b)
		b.ReportAllocs()
		for b.Loop() {
			login()
		}
	})
	// One login of each in turn, in one process: a CPU profile of this
	// compares the two callbacks under the same conditions of the machine
	// (bench/callback-cpu.sh).
	b.Run("side-by-side", func(b *testing.B) {
		o, h := oidcauthLogin(b, false), handWrittenLogin(b)
		b.ReportAllocs()
		for b.Loop() {
			o()
			h()
		}
	})
}

// oidcauthLogin returns a function that runs one whole login with
// oidcauth's defaults (another user each time unless sameUser).
func oidcauthLogin(b *testing.B, sameUser bool) func() {
	b.Helper()
	// The logger of an application: Info, to a handler that keeps nothing
	// (the harness's Debug log grows over the run).
	h := newHarness(b, oidctest.Config{}, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	next := nextUser(h.op)
	return func() {
		if !sameUser {
			next()
		}
		h.client.Jar = newJar()
		if resp := h.login("/me"); resp.StatusCode != http.StatusFound {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// handWrittenLogin returns a function that runs one whole login with the
// hand-written x/oauth2 + go-oidc callback (handWritten), another user each
// time.
func handWrittenLogin(b *testing.B) func() {
	b.Helper()
	h := newHarness(b, oidctest.Config{})
	sm := scs.New() // what a user writes by hand
	provider, err := oidc.NewProvider(context.Background(), h.op.Issuer)
	if err != nil {
		b.Fatal(err)
	}
	hw := &handWritten{sm: sm, verifier: provider.Verifier(&oidc.Config{ClientID: "client"}),
		conf: oauth2.Config{ClientID: "client", ClientSecret: "secret", RedirectURL: h.app.URL + "/callback",
			Endpoint: provider.Endpoint(), Scopes: []string{"openid", "profile", "email"}}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /me", hw.start)
	mux.HandleFunc("GET /callback", hw.callback)
	h.app.Config.Handler = sm.LoadAndSave(mux)
	next := nextUser(h.op)
	return func() {
		next()
		h.client.Jar = newJar()
		u := h.startLogin("/me")
		if resp := h.get(h.authorize(u)); resp.StatusCode != http.StatusFound {
			b.Fatalf("status %d %s", resp.StatusCode, body(resp))
		}
	}
}

// handWritten is the login a user writes by hand with x/oauth2 and
// go-oidc: state, nonce and PKCE verifier in the session, checked at the
// callback. Its callback is a method, so that profiles name it
// ((*handWritten).callback, bench/callback-cpu.sh).
type handWritten struct {
	sm       *scs.SessionManager
	conf     oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func (hw *handWritten) start(w http.ResponseWriter, r *http.Request) {
	state, nonce, pkce := random(32), random(32), oauth2.GenerateVerifier()
	hw.sm.Put(r.Context(), "state", state)
	hw.sm.Put(r.Context(), "nonce", nonce)
	hw.sm.Put(r.Context(), "verifier", pkce)
	http.Redirect(w, r, hw.conf.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(pkce)), http.StatusFound)
}

func (hw *handWritten) callback(w http.ResponseWriter, r *http.Request) {
	ctx, sm := r.Context(), hw.sm
	if s := sm.PopString(ctx, "state"); s == "" || s != r.URL.Query().Get("state") {
		http.Error(w, "state", http.StatusBadRequest)
		return
	}
	tok, err := hw.conf.Exchange(ctx, r.URL.Query().Get("code"), oauth2.VerifierOption(sm.PopString(ctx, "verifier")))
	if err != nil {
		http.Error(w, "exchange", http.StatusBadGateway)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := hw.verifier.Verify(ctx, raw)
	if err != nil || idt.Nonce != sm.PopString(ctx, "nonce") {
		http.Error(w, "id_token", http.StatusBadRequest)
		return
	}
	var claims map[string]any
	idt.Claims(&claims)
	sm.RenewToken(ctx)
	sm.Put(ctx, "raw", raw)
	sm.Put(ctx, "access", tok.AccessToken)
	http.Redirect(w, r, "/me", http.StatusFound)
}

// nextUser returns a function that makes the provider log in another user
// from then on (user-1, user-2, ...).
func nextUser(op *oidctest.Provider) func() {
	n := 0
	return func() {
		n++
		op.SetUser(oidctest.User{Subject: "user-" + strconv.Itoa(n), Claims: map[string]any{"name": "Alice Example", "email": "alice@example.com"}})
	}
}

// BenchmarkSessionSize logs in with an id_token of about 2 KiB and reports
// the bytes stored: the session and the token record.
func BenchmarkSessionSize(b *testing.B) {
	op := newProvider(b, oidctest.Config{User: oidctest.User{Subject: "248289761001", Claims: map[string]any{
		"name": "Jane Doe", "email": "janedoe@example.com", "email_verified": true,
		"groups": strings.Split(strings.Repeat("group-with-a-long-name,", 45), ","),
	}}})
	h := newHarnessWith(b, op, WithScopes("openid", "profile", "email", "offline_access"))
	h.mustLogin("/me")
	var idTokenLen, sessionLen, tokensLen int
	for b.Loop() {
		sessionBytes, _, _ := h.auth.SessionManager().Store.Find(h.auth.sessionStoreKey(h.sessionCookie().Value))
		sessionLen = len(sessionBytes)
		_, dec, _ := h.auth.SessionManager().Codec.Decode(sessionBytes)
		l := dec[sessionKey].(*login)
		tb, _, _ := h.auth.storeFind(context.Background(), tokensKey(l.ID))
		tokensLen = len(tb)
		ts, _ := h.auth.loadTokens(context.Background(), l)
		idTokenLen = len(ts.IDToken)
	}
	b.ReportMetric(float64(idTokenLen), "B-id_token")
	b.ReportMetric(float64(sessionLen), "B-session")
	b.ReportMetric(float64(tokensLen), "B-tokens")
	b.ReportMetric(float64(sessionLen+tokensLen), "B-stored")
}

// BenchmarkRefreshStorm: 1,000 concurrent requests of one session whose
// access token has expired, each asking for the token. One refresh grant
// reaches the provider per storm; the requests' latency percentiles are
// reported (the provider answers in well under a millisecond on loopback).
func BenchmarkRefreshStorm(b *testing.B) {
	const n = 1000
	h := newHarness(b, oidctest.Config{RotateRefreshTokens: true}, offline)
	h.mustLogin("/me")
	cookie := h.sessionCookie()
	handler := h.auth.LoadAndSave(h.auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := h.auth.Token(r); err != nil {
			h.auth.HandleError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})))
	var all []time.Duration
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		expireTokens(b, h)
		grants := len(refreshRequests(h.op))
		lat := make([]time.Duration, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				req := httptest.NewRequest("GET", "/api/token", nil)
				req.Header.Set("Accept", "application/json")
				req.AddCookie(cookie)
				w := &statusWriter{h: make(http.Header)}
				<-start
				t0 := time.Now()
				handler.ServeHTTP(w, req)
				lat[i] = time.Since(t0)
				if w.status != http.StatusNoContent {
					b.Errorf("request %d: status %d", i, w.status)
				}
			})
		}
		b.StartTimer()
		close(start)
		wg.Wait()
		b.StopTimer()
		if got := len(refreshRequests(h.op)) - grants; got != 1 {
			b.Fatalf("%d refresh grants for one storm, want 1", got)
		}
		all = append(all, lat...)
		b.StartTimer()
	}
	slices.Sort(all)
	b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(1, "grants/storm")
}

// statusWriter is a ResponseWriter that keeps the status.
type statusWriter struct {
	h      http.Header
	status int
}

func (w *statusWriter) Header() http.Header { return w.h }

func (w *statusWriter) Write(b []byte) (int, error) { return len(b), nil }

func (w *statusWriter) WriteHeader(s int) { w.status = s }
