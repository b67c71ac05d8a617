//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// burstResult is the answer to one request of a burst.
type burstResult struct {
	origin     string
	status     int // 0: no answer (err)
	body       string
	err        error
	sent, done time.Time
}

// burst sends n requests for path to each origin at once, with the session
// cookie (name=value) copied from the browser, and returns every answer.
// Cookies ignore ports, so one cookie is the session on every instance.
func burst(t testing.TB, origins []string, n int, path string, cookie string) []burstResult {
	t.Helper()
	client := &http.Client{
		Timeout:   60 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: n, DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	defer client.CloseIdleConnections()
	start := make(chan struct{})
	results := make([]burstResult, len(origins)*n)
	var wg sync.WaitGroup
	for i := range results {
		origin := origins[i%len(origins)]
		req, err := http.NewRequest("GET", origin+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Cookie", cookie)
		req.Header.Set("Accept", "application/json")
		wg.Go(func() {
			<-start
			r := burstResult{origin: origin, sent: time.Now()}
			resp, err := client.Do(req)
			if err != nil {
				r.err = err
			} else {
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
				resp.Body.Close()
				r.status, r.body = resp.StatusCode, string(b)
			}
			r.done = time.Now()
			results[i] = r
		})
	}
	close(start)
	wg.Wait()
	return results
}

// overlap is how many requests of a burst were sent before its first
// answer came back, that is, how many were in flight together.
func overlap(rs []burstResult) int {
	first := rs[0].done
	for _, r := range rs {
		if r.done.Before(first) {
			first = r.done
		}
	}
	n := 0
	for _, r := range rs {
		if r.sent.Before(first) {
			n++
		}
	}
	return n
}

// statusCounts is "origin: status×count ..." of a burst, for logs.
func statusCounts(rs []burstResult, names map[string]string) string {
	counts := map[string]int{}
	for _, r := range rs {
		key := fmt.Sprintf("%s %d", names[r.origin], r.status)
		if r.err != nil {
			key = fmt.Sprintf("%s no answer", names[r.origin])
		}
		counts[key]++
	}
	var keys []string
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, counts[k]))
	}
	return strings.Join(parts, ", ")
}

// slowest is "origin: duration ..." of the slowest answer per origin.
func slowest(rs []burstResult, names map[string]string) string {
	worst := map[string]time.Duration{}
	for _, r := range rs {
		worst[names[r.origin]] = max(worst[names[r.origin]], r.done.Sub(r.sent))
	}
	var parts []string
	for name, d := range worst {
		parts = append(parts, fmt.Sprintf("%s %s", name, d.Round(100*time.Millisecond)))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// subOf is the sub of a JSON answer, or "".
func subOf(body string) string {
	var m map[string]any
	if json.Unmarshal([]byte(body), &m) != nil {
		return ""
	}
	s, _ := m["sub"].(string)
	return s
}

// clientEvents is what the provider saw of one client since a test began.
// The provider and its clients outlive a test: go test -count=N runs it
// again with the same client.
type clientEvents struct {
	p        *oidcProvider
	clientID string
	since    int64 // ms since the epoch
}

func watchClient(p *oidcProvider, s *slot) clientEvents {
	return clientEvents{p: p, clientID: s.clientID(), since: time.Now().UnixMilli()}
}

func (c clientEvents) filter(pred func(event) bool) []event {
	return c.p.events.filter(func(e event) bool { return e.ClientID == c.clientID && e.Time >= c.since && pred(e) })
}

// grants returns the successful grants of one grant type.
func (c clientEvents) grants(grantType string) []event {
	return c.filter(func(e event) bool { return e.Event == "grant.success" && e.GrantType == grantType })
}

// lastTokens returns when the provider last issued tokens (the code grant
// or the latest refresh).
func (c clientEvents) lastTokens(t *testing.T) time.Time {
	t.Helper()
	g := c.filter(func(e event) bool {
		return e.Event == "grant.success" && (e.GrantType == "authorization_code" || e.GrantType == "refresh_token")
	})
	if len(g) == 0 {
		t.Fatalf("the provider issued no tokens to %s", c.clientID)
	}
	return g[len(g)-1].at()
}

// refreshRequests returns the refresh_token requests that reached the
// provider's token endpoint, whatever their answer.
func (c clientEvents) refreshRequests() []event {
	return c.filter(func(e event) bool {
		return e.Event == "request" && e.Path == "/token" && e.GrantType == "refresh_token"
	})
}

// trouble returns the provider's refusals and revocations of the client's
// tokens: what reuse of a rotated refresh token brings.
func (c clientEvents) trouble() []event {
	return c.filter(func(e event) bool { return e.Event == "grant.error" || e.Event == "grant.revoked" })
}

// settleEvents gives the provider's last events time to come through its
// stdout.
func settleEvents() { time.Sleep(400 * time.Millisecond) }

const raceRounds, racePerInstance = 3, 10

// TestConcurrentRefresh runs two instances of the example on one session
// store (Redis, PostgreSQL), logs in with offline_access, and after each
// expiry of the access token sends 10 requests to each instance at once,
// all needing a refresh. oidc-provider rotates refresh tokens and revokes
// the grant when a used one comes back, so every instance but one must wait
// for the refresh one of them makes: one refresh_token request per expiry,
// and every answer 200, for 3 rounds.
func TestConcurrentRefresh(t *testing.T) {
	t.Parallel()
	p := needApp(t)
	for _, store := range []string{"redis", "postgres"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			s := p.slot(t, "race-"+store)
			var env string
			if store == "redis" {
				env = "SESSION_REDIS_URL=" + startRedis(t).url()
			} else {
				env = "SESSION_POSTGRES_URL=" + startPostgres(t).url()
			}
			appA := startApp(t, p, appConfig{slot: s, instance: 0, env: []string{env}})
			appB := startApp(t, p, appConfig{slot: s, instance: 1, env: []string{env}})
			names := map[string]string{appA.origin: "A", appB.origin: "B"}
			origins := []string{appA.origin, appB.origin}
			b := newTab(t)
			ev := watchClient(p, s)
			defer func() {
				if t.Failed() {
					p.logClientEvents(t, s.clientID())
				}
			}()

			user := "race-" + store
			if st := login(t, p, b, appA.origin+"/me", user, ""); st.URL != appA.origin+"/me" {
				t.Fatalf("after login the browser is on %s:\n%s", st.URL, st.Text)
			}
			if n := len(ev.grants("authorization_code")); n != 1 {
				t.Fatalf("code grants: %d, want 1", n)
			}
			c := b.cookie(appA.origin+"/", sessionCookie)
			if c == nil {
				t.Fatalf("the browser has no %s cookie after login", sessionCookie)
			}
			cookie := c.Name + "=" + c.Value
			probe := b.open(appA.origin + "/api/userinfo")
			skipIfNotImplemented(t, probe.Status, probe.Body, userinfoFeature)

			for round := 1; round <= raceRounds; round++ {
				sleepPastExpiry(ev.lastTokens(t))
				before := len(ev.refreshRequests())
				grantsBefore := len(ev.grants("refresh_token"))
				began := time.Now()
				rs := burst(t, origins, racePerInstance, "/api/userinfo", cookie)
				took := time.Since(began)
				settleEvents()
				reqs := ev.refreshRequests()[before:]
				grants := len(ev.grants("refresh_token")) - grantsBefore
				var statuses []string
				for _, r := range reqs {
					statuses = append(statuses, fmt.Sprint(r.Status))
				}
				t.Logf("round %d: %s; %d of %d in flight together; %s; refresh_token requests at the provider: %d (%s), refresh grants: %d",
					round, statusCounts(rs, names), overlap(rs), len(rs), took.Round(time.Millisecond), len(reqs), strings.Join(statuses, ", "), grants)

				var bad []burstResult
				for _, r := range rs {
					if r.err != nil || r.status != 200 || subOf(r.body) != user {
						bad = append(bad, r)
					}
				}
				if len(bad) > 0 {
					r := bad[0]
					t.Errorf("round %d: %d of %d answers are not 200 for %s (%s); the first: GET %s/api/userinfo: %d %.200q %v",
						round, len(bad), len(rs), user, statusCounts(bad, names), names[r.origin], r.status, r.body, r.err)
				}
				if o := overlap(rs); o < 2 {
					t.Errorf("round %d: only %d request(s) in flight at once: the burst was not concurrent", round, o)
				}
				if len(reqs) != 1 || reqs[0].Status != 200 || grants != 1 {
					t.Errorf("round %d: the provider saw %d refresh_token requests (statuses %v) and %d refresh grants, want exactly 1 request, answered 200",
						round, len(reqs), statuses, grants)
				}
				if trouble := ev.trouble(); len(trouble) > 0 {
					t.Fatalf("round %d: the provider refused or revoked the grant: %v", round, trouble)
				}
			}

			// The login lives on, on both instances, with no further refresh.
			before := len(ev.refreshRequests())
			for _, origin := range origins {
				for _, path := range []string{"/api/me", "/api/userinfo"} {
					r := plainDo(t, "GET", origin+path, "", "", map[string]string{"Cookie": cookie})
					if r.status != 200 || subOf(r.body) != user {
						t.Errorf("GET %s%s after %d rounds: %d %.200q, want 200 for %s", names[origin], path, raceRounds, r.status, r.body, user)
					}
				}
			}
			settleEvents()
			if n := len(ev.refreshRequests()) - before; n != 0 {
				t.Errorf("%d refresh(es) after the last round, with fresh tokens stored", n)
			}
			t.Logf("%s: %d rounds, %d refresh_token requests in all, %d refresh grants, provider errors or revocations: %d",
				store, raceRounds, len(ev.refreshRequests()), len(ev.grants("refresh_token")), len(ev.trouble()))
		})
	}
}
