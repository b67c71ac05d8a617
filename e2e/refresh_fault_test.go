//go:build linux

package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// faultApps starts the instances of slot s for a fault test, with the
// token, JWKS and userinfo endpoints on fp and env added, logs user in
// through the browser on the first one, and returns the apps and the
// session cookie's name=value.
func faultApps(t *testing.T, p *oidcProvider, fp *frontProxy, s *slot, user string, env ...string) ([]*app, string) {
	t.Helper()
	var apps []*app
	for i := range s.ports {
		apps = append(apps, startApp(t, p, appConfig{slot: s, instance: i, env: append(fp.env(), env...)}))
	}
	b := newTab(t)
	if st := login(t, p, b, apps[0].origin+"/me", user, ""); st.URL != apps[0].origin+"/me" {
		t.Fatalf("after login the browser is on %s:\n%s", st.URL, st.Text)
	}
	checkClaims(t, p, s, b.pageJSON(), user)
	c := b.cookie(apps[0].origin+"/", sessionCookie)
	if c == nil {
		t.Fatalf("the browser has no %s cookie after login", sessionCookie)
	}
	probe := plainDo(t, "GET", apps[0].origin+"/api/userinfo", "", "", map[string]string{"Cookie": c.Name + "=" + c.Value})
	skipIfNotImplemented(t, probe.status, probe.body, userinfoFeature)
	if probe.status != 200 || subOf(probe.body) != user {
		t.Fatalf("GET /api/userinfo right after login: %d %q", probe.status, probe.body)
	}
	return apps, c.Name + "=" + c.Value
}

// getWith requests path on origin with the session cookie.
func getWith(t testing.TB, origin, path, cookie string) plainResponse {
	t.Helper()
	return plainDo(t, "GET", origin+path, "", "", map[string]string{"Cookie": cookie})
}

// checkAlive checks that the login answers on every instance: its claims
// and the provider's userinfo.
func checkAlive(t *testing.T, apps []*app, cookie, user, when string) {
	t.Helper()
	for i, a := range apps {
		for _, path := range []string{"/api/me", "/api/userinfo"} {
			if r := getWith(t, a.origin, path, cookie); r.status != 200 || subOf(r.body) != user {
				t.Errorf("GET %s on instance %d %s: %d %.200q, want 200 for %s", path, i, when, r.status, r.body, user)
			}
		}
	}
}

// checkNoReuse checks, at the proxy and at the provider, that no refresh
// token was sent twice and the provider refused or revoked nothing.
func checkNoReuse(t *testing.T, ev clientEvents, fp *frontProxy) {
	t.Helper()
	if reused := fp.reusedRefreshTokens(); len(reused) > 0 {
		t.Errorf("refresh tokens that reached the provider twice: %v", reused)
	}
	if trouble := ev.trouble(); len(trouble) > 0 {
		t.Errorf("the provider refused or revoked the grant: %v", trouble)
	}
}

// TestRefreshRedisRestart kills Redis (the session store of two instances)
// while a refresh is in flight, after the provider has rotated the refresh
// token and before the app has it, and starts it again (same port, same
// append-only file) 1.5 s later. Requests may fail while it is down, but
// only with a 5xx, never 401 (a logout) nor 200 from a stale token; the
// rotated tokens must reach the store once it is back, so that the login
// goes on without the old refresh token ever being sent again.
func TestRefreshRedisRestart(t *testing.T) {
	t.Parallel()
	p := needApp(t)
	s := p.slot(t, "refresh-redis-restart")
	r := startRedis(t)
	fp := startFrontProxy(t, p)
	ev := watchClient(p, s)
	defer func() {
		if t.Failed() {
			fp.log(t)
			p.logClientEvents(t, s.clientID())
		}
	}()
	user := "restart"
	apps, cookie := faultApps(t, p, fp, s, user, "SESSION_REDIS_URL="+r.url())
	origins := []string{apps[0].origin, apps[1].origin}
	names := map[string]string{origins[0]: "A", origins[1]: "B"}

	sleepPastExpiry(ev.lastTokens(t))
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	fp.setRule(func(c *frontCall) *fault {
		if c.GrantType != "refresh_token" {
			return nil
		}
		f := &fault{}
		once.Do(func() {
			f = &fault{holdAnswer: true, release: release, held: func() { close(held) }}
		})
		return f
	})

	type burstOut struct{ rs []burstResult }
	first := make(chan burstOut, 1)
	go func() { first <- burstOut{burst(t, origins, 5, "/api/userinfo", cookie)} }()
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("no refresh reached the token endpoint within 30s of the burst")
	}
	r.stop()
	down := time.Now()
	close(release) // the rotated tokens reach the app while Redis is down
	during := burst(t, origins, 3, "/api/userinfo", cookie)
	time.Sleep(time.Until(down.Add(1500 * time.Millisecond)))
	r.start()
	up := time.Now()
	var rs []burstResult
	select {
	case out := <-first:
		rs = out.rs
	case <-time.After(60 * time.Second):
		t.Fatal("the requests in flight got no answer within 60s")
	}
	t.Logf("Redis down for %s", up.Sub(down).Round(time.Millisecond))
	t.Logf("the burst in flight when Redis stopped: %s", statusCounts(rs, names))
	t.Logf("the burst while Redis was down: %s", statusCounts(during, names))
	for _, r := range append(rs, during...) {
		switch {
		case r.err != nil:
			t.Errorf("GET %s/api/userinfo: no answer: %v", names[r.origin], r.err)
		case r.status == 200:
			if subOf(r.body) != user {
				t.Errorf("GET %s/api/userinfo: 200 %.200q, want sub %s", names[r.origin], r.body, user)
			}
		case r.status < 500:
			t.Errorf("GET %s/api/userinfo around the Redis restart: %d %.200q, want 200 or a 5xx (fail closed, and no logout)", names[r.origin], r.status, r.body)
		}
	}
	for _, r := range during {
		if r.status == 200 && r.sent.After(down) && r.done.Before(up) {
			t.Errorf("GET %s/api/userinfo while Redis was down: 200: the app served a session it could not read", names[r.origin])
		}
	}
	if stale := fp.staleUserinfo(); len(stale) > 0 {
		t.Errorf("userinfo called with an expired or unknown access token: %v", stale)
	}
	if !strings.Contains(apps[0].proc.out.String()+apps[1].proc.out.String(), "storing refreshed tokens failed; retrying") {
		t.Errorf("neither instance logged a failed store of the refreshed tokens: the refresh did not meet the outage, and the test did not test it")
	}

	// Redis is back: the next request of each instance finds the login.
	for i, a := range apps {
		if res := getWith(t, a.origin, "/api/userinfo", cookie); res.status != 200 || subOf(res.body) != user {
			t.Errorf("the first GET /api/userinfo on instance %d after Redis came back: %d %.200q, want 200", i, res.status, res.body)
		}
	}
	checkAlive(t, apps, cookie, user, "after Redis came back")
	settleEvents()
	checkNoReuse(t, ev, fp)
	reqs := ev.refreshRequests()
	t.Logf("refresh_token requests at the provider: %d; through the proxy: %v", len(reqs), fp.refreshCalls())
	if len(reqs) == 0 {
		t.Errorf("no refresh reached the provider")
	}
	for _, e := range reqs {
		if e.Status != 200 {
			t.Errorf("a refresh_token request answered %d: %v", e.Status, e)
		}
	}
}

// TestRefreshTokenEndpointFault makes the token endpoint fail during
// refreshes of two instances on one Redis: first answering 503, then not
// answering at all (the app gives up after its timeout). The app must
// answer 502, not 200 with the expired access token nor 401, call userinfo
// with no expired token, and keep the login: once the endpoint is back the
// next request refreshes, once.
func TestRefreshTokenEndpointFault(t *testing.T) {
	t.Parallel()
	p := needApp(t)
	s := p.slot(t, "token-fault")
	r := startRedis(t)
	fp := startFrontProxy(t, p)
	ev := watchClient(p, s)
	defer func() {
		if t.Failed() {
			fp.log(t)
			p.logClientEvents(t, s.clientID())
		}
	}()
	user := "tokenfault"
	apps, cookie := faultApps(t, p, fp, s, user, "SESSION_REDIS_URL="+r.url())
	origins := []string{apps[0].origin, apps[1].origin}
	names := map[string]string{origins[0]: "A", origins[1]: "B"}
	sleepPastExpiry(ev.lastTokens(t))

	want502 := func(what string, rs []burstResult) {
		t.Helper()
		t.Logf("%s: %s", what, statusCounts(rs, names))
		for _, r := range rs {
			if r.err != nil || r.status != 502 {
				t.Errorf("%s: GET %s/api/userinfo: %d %.200q %v, want 502", what, names[r.origin], r.status, r.body, r.err)
			}
		}
	}

	t.Run("503", func(t *testing.T) {
		fp.setRule(func(c *frontCall) *fault {
			if c.GrantType == "refresh_token" {
				return &fault{status: 503}
			}
			return nil
		})
		want502("token endpoint answering 503", burst(t, origins, 5, "/api/userinfo", cookie))
		n := 0
		for _, c := range fp.refreshCalls() {
			if c.Fault == "503" {
				n++
			}
		}
		t.Logf("refresh_token requests answered 503 by the proxy: %d", n)
		if n == 0 {
			t.Errorf("no refresh reached the failing token endpoint")
		}
		// And again, one by one: the login is still there to try.
		want502("token endpoint answering 503, once more", burst(t, origins, 1, "/api/userinfo", cookie))
	})

	t.Run("no answer", func(t *testing.T) {
		fp.setRule(func(c *frontCall) *fault {
			if c.GrantType == "refresh_token" {
				return &fault{hang: true, release: make(chan struct{})}
			}
			return nil
		})
		began := time.Now()
		rs := burst(t, origins, 2, "/api/userinfo", cookie)
		took := time.Since(began)
		want502(fmt.Sprintf("token endpoint not answering (slowest answer: %s)", slowest(rs, names)), rs)
		// The instance that holds the lease gives up after the app's
		// timeout (10 s); the other waits for it, finds the tokens
		// unchanged and tries once itself: its answers take twice as long.
		// The example writes no answer after 30 s (WriteTimeout).
		if took > 30*time.Second {
			t.Errorf("the app took %s to give up on a token endpoint that does not answer", took)
		}
		gone := 0
		for _, c := range fp.refreshCalls() {
			if c.Fault == "hang" && c.Gone {
				gone++
			}
		}
		if gone == 0 {
			t.Errorf("no refresh waited on the token endpoint and gave up")
		}
	})
	fp.setRule(nil)

	if e := ev.refreshRequests(); len(e) > 0 {
		t.Errorf("refresh requests reached the provider while the proxy failed them all: %v", e)
	}
	if stale := fp.staleUserinfo(); len(stale) > 0 {
		t.Errorf("userinfo called with an expired or unknown access token: %v", stale)
	}
	if n := len(fp.filter(func(c frontCall) bool { return c.Path == fp.path(fp.disc.UserinfoEndpoint) })); n != 1 {
		t.Errorf("userinfo calls: %d, want only the one right after login", n)
	}

	// The endpoint is back: the next request refreshes once, for both.
	for i, a := range apps {
		if res := getWith(t, a.origin, "/api/userinfo", cookie); res.status != 200 || subOf(res.body) != user {
			t.Errorf("GET /api/userinfo on instance %d once the token endpoint answers again: %d %.200q, want 200", i, res.status, res.body)
		}
	}
	checkAlive(t, apps, cookie, user, "after the token endpoint came back")
	settleEvents()
	checkNoReuse(t, ev, fp)
	if e := ev.refreshRequests(); len(e) != 1 || e[0].Status != 200 {
		t.Errorf("refresh_token requests at the provider once it answered again: %v, want exactly one, 200", e)
	} else {
		t.Logf("refresh_token requests at the provider once it answered again: 1, %d", e[0].Status)
	}
}

// TestJWKSFault makes the provider's JWKS endpoint answer 500 once the app
// has started (and cached its keys): logins and refreshes, whose ID tokens
// are signed with the known key, go on.
func TestJWKSFault(t *testing.T) {
	t.Parallel()
	p := needApp(t)
	s := p.slot(t, "jwks-fault")
	fp := startFrontProxy(t, p)
	ev := watchClient(p, s)
	defer func() {
		if t.Failed() {
			fp.log(t)
			p.logClientEvents(t, s.clientID())
		}
	}()
	jwksPath := fp.path(fp.disc.JWKSURI)
	a := startApp(t, p, appConfig{slot: s, env: fp.env()})
	if ok := fp.filter(func(c frontCall) bool { return c.Path == jwksPath && c.Status == 200 }); len(ok) == 0 {
		t.Fatalf("the app did not fetch the JWKS through the proxy at start: %v", fp.filter(nil))
	}
	fp.setRule(func(c *frontCall) *fault {
		if c.Path == jwksPath {
			return &fault{status: 500}
		}
		return nil
	})
	faultFrom := time.Now()
	if r := plainDo(t, "GET", fp.origin+jwksPath, "", "", nil); r.status != 500 {
		t.Fatalf("the proxy's JWKS answers %d, want 500", r.status)
	}

	for _, user := range []string{"jwks-1", "jwks-2"} {
		b := newTab(t)
		if st := login(t, p, b, a.origin+"/me", user, ""); st.URL != a.origin+"/me" {
			t.Fatalf("login of %s with the JWKS failing: the browser is on %s:\n%s", user, st.URL, st.Text)
		}
		checkClaims(t, p, s, b.pageJSON(), user)
	}
	// A refresh brings a new ID token, signed with the same key.
	b := newTab(t)
	user := "jwks-3"
	login(t, p, b, a.origin+"/me", user, "")
	sleepPastExpiry(ev.lastTokens(t))
	userinfo(t, b, a.origin, user, "after expiry, with the JWKS failing")
	settleEvents()
	if n := len(ev.grants("refresh_token")); n != 1 {
		t.Errorf("refresh grants: %d, want 1", n)
	}
	if r := b.open(a.origin + "/api/me"); r.Status != 200 || !strings.Contains(r.Body, user) {
		t.Errorf("GET /api/me after the refresh: %d %q", r.Status, r.Body)
	}
	failed := fp.filter(func(c frontCall) bool { return c.Path == jwksPath && !c.Start.Before(faultFrom) })
	t.Logf("JWKS requests answered 500 after the fault began: %d, the test's own probe included", len(failed))
	if trouble := ev.trouble(); len(trouble) > 0 {
		t.Errorf("the provider refused or revoked the grant: %v", trouble)
	}
}
