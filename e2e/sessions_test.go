//go:build linux

package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSessionStores logs in with the sessions in Redis and in PostgreSQL,
// checks that they are there, and that they outlive the app process.
func TestSessionStores(t *testing.T) {
	t.Parallel()
	p := needApp(t)

	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		r := startRedis(t)
		s := p.slot(t, "redis")
		a := startApp(t, p, appConfig{slot: s, env: []string{"SESSION_REDIS_URL=" + r.url()}})
		b := newTab(t)
		user := "grace"
		if st := login(t, p, b, a.origin+"/me?store=redis", user, ""); st.URL != a.origin+"/me?store=redis" {
			t.Fatalf("after login the browser is on %s:\n%s", st.URL, st.Text)
		}
		if keys := r.keys(); len(keys) == 0 {
			t.Errorf("no keys in Redis after login")
		} else {
			t.Logf("redis keys: %v", keys)
		}
		a.restart()
		b.navigate(a.origin + "/")
		if res := b.open(a.origin + "/api/me"); res.Status != 200 || !strings.Contains(res.Body, user) {
			t.Errorf("GET /api/me after an app restart: %d %q, want 200: the session did not live in Redis", res.Status, res.Body)
		}
	})

	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		pg := startPostgres(t)
		s := p.slot(t, "postgres")
		a := startApp(t, p, appConfig{slot: s, env: []string{"SESSION_POSTGRES_URL=" + pg.url()}})
		b := newTab(t)
		user := "heidi"
		if st := login(t, p, b, a.origin+"/me?store=postgres", user, ""); st.URL != a.origin+"/me?store=postgres" {
			t.Fatalf("after login the browser is on %s:\n%s", st.URL, st.Text)
		}
		out, err := pg.psql("oidcauth", "SELECT count(*) FROM sessions WHERE expiry > now()")
		if n, _ := strconv.Atoi(out); err != nil || n == 0 {
			t.Errorf("live sessions in PostgreSQL after login: %q, %v", out, err)
		}
		a.restart()
		b.navigate(a.origin + "/")
		if res := b.open(a.origin + "/api/me"); res.Status != 200 || !strings.Contains(res.Body, user) {
			t.Errorf("GET /api/me after an app restart: %d %q, want 200: the session did not live in PostgreSQL", res.Status, res.Body)
		}
	})
}

// TestTwoInstancesSharedRedis runs two app processes, A and B, on different
// ports with one Redis. Cookies ignore ports, so the browser holds one
// session for both. The login starts on A and its callback lands on B; a
// refresh made by A is used by B; a logout on B ends the session on A.
func TestTwoInstancesSharedRedis(t *testing.T) {
	t.Parallel()
	p := needApp(t)
	s := p.slot(t, "multi")
	r := startRedis(t)
	env := "SESSION_REDIS_URL=" + r.url()
	appB := startApp(t, p, appConfig{slot: s, instance: 1, env: []string{env}})
	appA := startApp(t, p, appConfig{slot: s, instance: 0, env: []string{env,
		"OIDC_REDIRECT_URL=" + appB.origin + "/callback",
	}})
	b := newTab(t)
	defer func() {
		if t.Failed() {
			p.logClientEvents(t, s.clientID())
		}
	}()

	// Each step needs the one before it; a step whose feature has not landed
	// in the example skips, and the next still runs.
	user := "ivan"
	ok := t.Run("login from A with the callback on B", func(t *testing.T) {
		st := login(t, p, b, appA.origin+"/me?x=1", user, "")
		if want := appB.origin + "/me?x=1"; st.URL != want {
			t.Fatalf("login started on A ended on %s, want B's %s:\n%s", st.URL, want, st.Text)
		}
		checkClaims(t, p, s, b.pageJSON(), user)
		if res := b.open(appA.origin + "/api/me"); res.Status != 200 || !strings.Contains(res.Body, user) {
			t.Fatalf("GET A/api/me after a login completed on B: %d %q", res.Status, res.Body)
		}
	})
	if !ok {
		t.FailNow()
	}

	t.Run("refresh on A is seen on B", func(t *testing.T) {
		// A refreshes the expired access token; B then uses the refreshed one.
		issued := codeGrantTime(t, p, s)
		probe := b.open(appA.origin + "/api/userinfo")
		skipIfNotImplemented(t, probe.Status, probe.Body, userinfoFeature)
		sleepPastExpiry(issued)
		userinfo(t, b, appA.origin, user, "on A after expiry")
		if n := len(p.grants(s.clientID(), "refresh_token")); n != 1 {
			t.Fatalf("refreshes after A's call: %d, want 1", n)
		}
		userinfo(t, b, appB.origin, user, "on B after A refreshed")
		if n := len(p.grants(s.clientID(), "refresh_token")); n != 1 {
			t.Errorf("refreshes after B's call: %d, want still 1: B did not see A's refreshed tokens", n)
		}
		if errs := p.events.filter(func(e event) bool {
			return e.ClientID == s.clientID() && (e.Event == "grant.error" || e.Event == "grant.revoked")
		}); len(errs) > 0 {
			t.Errorf("the provider refused or revoked tokens (a rotated refresh token used twice?): %v", errs)
		}
	})

	t.Run("logout on B ends the session on A", func(t *testing.T) {
		if st, _ := logoutFrom(t, b, appB.origin); !strings.HasPrefix(st.URL, appB.origin+"/") {
			t.Errorf("after logout on B the browser is on %s", st.URL)
		}
		if res := b.open(appA.origin + "/api/me"); res.Status != 401 {
			t.Errorf("GET A/api/me after logout on B: %d %q, want 401", res.Status, res.Body)
		}
	})
}

// TestRedisFault stops Redis under a logged-in browser: protected requests
// fail closed, and when Redis is back the app serves the same session again
// without a restart.
func TestRedisFault(t *testing.T) {
	t.Parallel()
	p := needApp(t)
	s := p.slot(t, "fault")
	r := startRedis(t)
	a := startApp(t, p, appConfig{slot: s, env: []string{"SESSION_REDIS_URL=" + r.url()}})
	b := newTab(t)

	user := "judy"
	if st := login(t, p, b, a.origin+"/me", user, ""); st.URL != a.origin+"/me" {
		t.Fatalf("after login the browser is on %s:\n%s", st.URL, st.Text)
	}
	b.navigate(a.origin + "/")

	r.stop()
	for _, path := range []string{"/api/me", "/me", "/api/userinfo"} {
		res := b.open(a.origin + path)
		t.Logf("GET %s with Redis down: %d %.120q", path, res.Status, res.Body)
		switch {
		case res.Status == 200:
			t.Errorf("GET %s with Redis down: 200 %q: the app failed open", path, res.Body)
		case res.Status < 500:
			t.Errorf("GET %s with Redis down: %d (%s) %q, want a 5xx", path, res.Status, res.URL, res.Body)
		}
	}

	r.start()
	var last pageResult
	if !waitUntil(20*time.Second, 250*time.Millisecond, func() bool {
		last = b.open(a.origin + "/api/me")
		return last.Status == 200
	}) {
		t.Fatalf("GET /api/me after Redis came back: %d %q, want 200 with the same session", last.Status, last.Body)
	}
	if !strings.Contains(last.Body, user) {
		t.Errorf("GET /api/me after Redis came back: %q, want the user %s", last.Body, user)
	}
	if a.proc.exited() {
		t.Errorf("the app exited while Redis was down (%s)", a.proc.exitDescription())
	}
}
