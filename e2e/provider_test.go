//go:build linux

package e2e

import (
	"crypto"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// accessTokenTTL is the provider's access-token lifetime. It is short so that
// a test sees the app refresh an expired token; E2E_ACCESS_TOKEN_TTL (seconds)
// changes it.
func accessTokenTTL() time.Duration {
	if v := os.Getenv("E2E_ACCESS_TOKEN_TTL"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return time.Duration(n) * time.Second
		}
	}
	return 15 * time.Second
}

const (
	authBasic = "client_secret_basic"
	authPost  = "client_secret_post"
	authNone  = "none"
)

// slot is one client registered at the provider, with the loopback ports of
// the app instances that use it. Every test that runs an app has a slot of
// its own, so tests can run in parallel, and the provider knows every
// redirect URI from the start.
type slot struct {
	name   string
	auth   string // token_endpoint_auth_method
	secret string // empty for a public client
	ports  []int
	// key is the client's private_key_jwt key, and extra more client
	// metadata for the provider (clientauth_test.go).
	key   crypto.Signer
	extra map[string]any
}

// slotPlan lists the slots: name, auth method and number of app instances.
var slotPlan = []struct {
	name      string
	auth      string
	instances int
}{
	{"harness", authBasic, 1},
	{"login-basic", authBasic, 1},
	{"login-post", authPost, 1},
	{"login-public", authNone, 1},
	{"login-explicit", authPost, 1},
	{"refresh", authBasic, 1},
	{"rp-logout", authBasic, 1},
	{"bc-logout", authPost, 1},
	{"cookies", authBasic, 1},
	{"redis", authBasic, 1},
	{"postgres", authPost, 1},
	{"multi", authBasic, 2},
	{"fault", authBasic, 1},
	{"hotpath", authBasic, 1},
	{"api", authBasic, 1},
	{"race-redis", authBasic, 2},
	{"race-postgres", authPost, 2},
	{"refresh-redis-restart", authBasic, 2},
	{"token-fault", authBasic, 2},
	{"jwks-fault", authPost, 1},
	// clientauth_test.go
	{"pkjwt", authPrivateKeyJWT, 1},
	{"par", authBasic, 1},
	{"pkjwt-par", authPrivateKeyJWT, 1},
	{"dpop", authBasic, 1},
	{"fapi2", authPrivateKeyJWT, 1}, // fapi2_test.go
	{"metrics", authBasic, 1},
	{"fc-logout", authBasic, 1},
	{"step-up", authBasic, 1},
	{"silent", authBasic, 1},
}

// dpopSlots are the slots whose client is registered with
// dpop_bound_access_tokens: the provider refuses its token requests
// without a DPoP proof.
var dpopSlots = map[string]bool{"dpop": true, "fapi2": true}

// frontchannelSlots are the slots registered with a frontchannel_logout_uri
// instead of a backchannel_logout_uri (TestFrontchannelLogout).
var frontchannelSlots = map[string]bool{"fc-logout": true}

func (s *slot) clientID() string { return "e2e-" + s.name }

// origin is the app origin of instance i.
func (s *slot) origin(i int) string { return fmt.Sprintf("http://127.0.0.1:%d", s.ports[i]) }

func (s *slot) registration() map[string]any {
	var redirects, postLogout []string
	for i := range s.ports {
		redirects = append(redirects, s.origin(i)+"/callback")
		postLogout = append(postLogout, s.origin(i)+"/")
	}
	// Back-channel logout goes to the last instance: in the two-instance
	// test that is B, the one that did not start the login.
	reg := map[string]any{
		"client_id":                  s.clientID(),
		"client_name":                "oidcauth e2e " + s.name,
		"token_endpoint_auth_method": s.auth,
		"redirect_uris":              redirects,
		"post_logout_redirect_uris":  postLogout,
		"backchannel_logout_uri":     s.origin(len(s.ports)-1) + "/backchannel-logout",
	}
	if frontchannelSlots[s.name] {
		delete(reg, "backchannel_logout_uri")
		reg["frontchannel_logout_uri"] = s.origin(0) + "/frontchannel-logout"
	}
	if s.secret != "" {
		reg["client_secret"] = s.secret
	}
	for k, v := range s.extra {
		reg[k] = v
	}
	if dpopSlots[s.name] {
		reg["dpop_bound_access_tokens"] = true
	}
	return reg
}

// oidcProvider is the running oidc-provider.
type oidcProvider struct {
	issuer string
	port   int
	proc   *proc
	events *eventLog
	slots  map[string]*slot
}

var provider struct {
	once    sync.Once
	p       *oidcProvider
	err     error
	missing string
}

// needProvider returns the provider, starting it on first use; it is
// stopped when TestMain ends.
func needProvider(t testing.TB) *oidcProvider {
	t.Helper()
	provider.once.Do(func() {
		provider.p, provider.missing, provider.err = startProvider(t)
	})
	if provider.missing != "" {
		missing(t, "%s", provider.missing)
	}
	if provider.err != nil {
		t.Fatalf("e2e: provider: %v", provider.err)
	}
	return provider.p
}

// slot returns the named slot.
func (p *oidcProvider) slot(t testing.TB, name string) *slot {
	t.Helper()
	s, ok := p.slots[name]
	if !ok {
		t.Fatalf("e2e: no slot %q in slotPlan", name)
	}
	return s
}

func startProvider(t testing.TB) (*oidcProvider, string, error) {
	node, dir, missing := providerRuntime()
	if missing != "" {
		return nil, missing, nil
	}

	p := &oidcProvider{events: newEventLog(), slots: map[string]*slot{}}
	p.port = freePort(t)
	p.issuer = fmt.Sprintf("http://localhost:%d", p.port)

	var clients []map[string]any
	for _, sp := range slotPlan {
		s := &slot{name: sp.name, auth: sp.auth}
		if sp.auth != authNone {
			s.secret = "secret-" + sp.name + "-" + randomHex(8)
		}
		for range sp.instances {
			s.ports = append(s.ports, freePort(t))
		}
		if err := clientAuthSlot(s); err != nil {
			return nil, "", err
		}
		p.slots[s.name] = s
		clients = append(clients, s.registration())
	}
	stop, err := p.launch(node, dir, "provider", map[string]any{
		"clients": clients,
		// clientauth_test.go
		"pushedAuthorizationRequests": true,
		"dpop":                        map[string]any{"requireNonce": true},
		"stepUpACRs":                  []string{stepUpACR},
	})
	if err != nil {
		return nil, "", err
	}
	atExit(stop)
	return p, "", nil
}

// event is one line the provider printed on stdout.
type event struct {
	Event        string `json:"event"`
	Time         int64  `json:"time"` // ms since the epoch
	ClientID     string `json:"client_id"`
	GrantType    string `json:"grant_type"`
	Path         string `json:"path"`
	Method       string `json:"method"`
	Status       int    `json:"status"`
	Auth         string `json:"auth"`
	CodeVerifier bool   `json:"code_verifier"`
	Sub          string `json:"sub"`
	Sid          string `json:"sid"`
	Kind         string `json:"kind"`
	Error        string `json:"error"`
	Description  string `json:"description"`
	Cause        string `json:"cause"`
	DPoP         bool   `json:"dpop"`
	TokenType    string `json:"token_type"`
	JKT          string `json:"jkt"`
	IDTokenAlg   string `json:"id_token_alg"` // of a token response's id_token

	raw string
}

func (e event) String() string { return e.raw }

func (e event) at() time.Time { return time.UnixMilli(e.Time) }

// eventLog collects the provider's events.
type eventLog struct {
	mu     sync.Mutex
	events []event
	notify chan struct{}
}

func newEventLog() *eventLog { return &eventLog{notify: make(chan struct{})} }

func (l *eventLog) add(line string) {
	var e event
	if err := json.Unmarshal([]byte(line), &e); err != nil || e.Event == "" {
		return
	}
	e.raw = line
	l.mu.Lock()
	l.events = append(l.events, e)
	close(l.notify)
	l.notify = make(chan struct{})
	l.mu.Unlock()
}

func (l *eventLog) all() []event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]event(nil), l.events...)
}

func (l *eventLog) has(pred func(event) bool) bool { return len(l.filter(pred)) > 0 }

func (l *eventLog) filter(pred func(event) bool) []event {
	var out []event
	for _, e := range l.all() {
		if pred(e) {
			out = append(out, e)
		}
	}
	return out
}

// wait returns the first event that matches pred, waiting up to timeout.
func (l *eventLog) wait(timeout time.Duration, pred func(event) bool) (event, bool) {
	deadline := time.After(timeout)
	for {
		l.mu.Lock()
		for _, e := range l.events {
			if pred(e) {
				l.mu.Unlock()
				return e, true
			}
		}
		ch := l.notify
		l.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			return event{}, false
		}
	}
}

// forClient returns a predicate for the events of one client (and kind,
// when not empty).
func forClient(clientID, kind string) func(event) bool {
	return func(e event) bool {
		return e.ClientID == clientID && (kind == "" || e.Event == kind)
	}
}

// grants returns the successful grants of a client of one grant type.
func (p *oidcProvider) grants(clientID, grantType string) []event {
	return p.events.filter(func(e event) bool {
		return e.Event == "grant.success" && e.ClientID == clientID && e.GrantType == grantType
	})
}

// tokenRequests returns the token endpoint requests of a client.
func (p *oidcProvider) tokenRequests(clientID string) []event {
	return p.events.filter(func(e event) bool {
		return e.Event == "request" && e.Path == "/token" && e.ClientID == clientID
	})
}

// logClientEvents logs what the provider saw of a client, for a failing
// test.
func (p *oidcProvider) logClientEvents(t testing.TB, clientID string) {
	t.Helper()
	var b strings.Builder
	for _, e := range p.events.filter(func(e event) bool { return e.ClientID == clientID || e.Event == "server_error" }) {
		b.WriteString(e.raw)
		b.WriteByte('\n')
	}
	t.Logf("provider events of %s:\n%s", clientID, b.String())
}
