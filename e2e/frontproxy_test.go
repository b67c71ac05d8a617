//go:build linux

package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// frontProxy is a reverse proxy in the test process between the example and
// oidc-provider's back-channel endpoints: token, JWKS and userinfo. The
// example is given its endpoints by hand (OIDC_AUTHORIZE_URL and friends,
// env), with those three on the proxy and the browser's (authorize, end
// session) on the provider itself; OIDC_ISSUER stays the provider's, the
// iss the tokens carry.
//
// It records every call (which refresh token was sent and which came back,
// which access token userinfo was called with), and a rule set by the test
// makes selected calls fail: answered with a status without reaching the
// provider, held without reaching it (a token endpoint that does not
// answer), or passed on with the provider's answer held back until the test
// lets it go.
type frontProxy struct {
	t      testing.TB
	p      *oidcProvider
	origin string
	disc   discovery
	revoke string // the revocation endpoint
	up     *http.Client

	mu     sync.Mutex
	rule   func(c *frontCall) *fault
	calls  []frontCall
	notify chan struct{}
}

// fault is what the proxy does with a call instead of passing it on.
type fault struct {
	// status, when not 0, answers the call with it at once, without
	// passing it on.
	status int
	// hang holds the call without passing it on until release is closed
	// (then passes it on) or the caller gives up.
	hang bool
	// holdAnswer passes the call on, then holds the provider's answer
	// until release is closed or the caller gives up.
	holdAnswer bool
	release    <-chan struct{}
	// held, when not nil, is called once the call is being held.
	held func()
}

// frontCall is one call the proxy saw. Tokens are kept as short hashes.
type frontCall struct {
	Start, End time.Time
	Path       string // /token, /jwks, /me
	Status     int    // what the caller got; 0 when it gave up first
	Fault      string // what the proxy did instead of passing it on: "503", "hang", "held", ...
	Forwarded  bool   // the provider got the request
	Gone       bool   // the caller gave up (its connection closed) before the answer

	// Token requests.
	ClientID   string
	GrantType  string
	RefreshIn  string
	RefreshOut string
	AccessOut  string
	ExpiresIn  int
	Error      string

	// Userinfo requests: the access token presented.
	Bearer string
}

func (c frontCall) String() string {
	s := fmt.Sprintf("%s..%s %s -> %d", c.Start.Format("15:04:05.000"), c.End.Format("15:04:05.000"), c.Path, c.Status)
	if c.Fault != "" {
		s += " fault=" + c.Fault
	}
	if c.Gone {
		s += " (caller gave up)"
	}
	if c.Path == "/token" {
		s += fmt.Sprintf(" client=%s grant=%s refresh_in=%s refresh_out=%s access_out=%s expires_in=%d error=%q forwarded=%v",
			c.ClientID, c.GrantType, orDash(c.RefreshIn), orDash(c.RefreshOut), orDash(c.AccessOut), c.ExpiresIn, c.Error, c.Forwarded)
	}
	if c.Bearer != "" {
		s += " bearer=" + c.Bearer
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// tokenHash is a short hash of a token, to tell tokens apart in records
// and logs without keeping them.
func tokenHash(s string) string {
	if s == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(s))
	return "#" + hex.EncodeToString(sum[:6])
}

// startFrontProxy starts a proxy in front of p on a free loopback port,
// stopped when the test ends.
func startFrontProxy(t testing.TB, p *oidcProvider) *frontProxy {
	t.Helper()
	fp := &frontProxy{t: t, p: p, notify: make(chan struct{}),
		up: &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
	r := plainDo(t, "GET", p.issuer+"/.well-known/openid-configuration", "", "", nil)
	if r.status != 200 {
		t.Fatalf("discovery: %d %s", r.status, r.body)
	}
	var extra struct {
		Revocation string `json:"revocation_endpoint"`
	}
	if err := json.Unmarshal([]byte(r.body), &fp.disc); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal([]byte(r.body), &extra)
	fp.revoke = extra.Revocation
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	fp.origin = "http://" + l.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(fp.serve), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		srv.Close()
	})
	return fp
}

// env is the example's endpoint settings for this proxy.
func (fp *frontProxy) env() []string {
	onProxy := func(endpoint string) string {
		u, err := url.Parse(endpoint)
		if err != nil {
			fp.t.Fatalf("discovery endpoint %q: %v", endpoint, err)
		}
		return fp.origin + u.Path
	}
	return []string{
		"OIDC_AUTHORIZE_URL=" + fp.disc.AuthorizationEndpoint,
		"OIDC_END_SESSION_URL=" + fp.disc.EndSessionEndpoint,
		"OIDC_REVOCATION_URL=" + fp.revoke,
		"OIDC_TOKEN_URL=" + onProxy(fp.disc.TokenEndpoint),
		"OIDC_JWKS_URL=" + onProxy(fp.disc.JWKSURI),
		"OIDC_USERINFO_URL=" + onProxy(fp.disc.UserinfoEndpoint),
	}
}

// setRule sets the rule that picks the calls to fail; nil passes all on.
func (fp *frontProxy) setRule(rule func(c *frontCall) *fault) {
	fp.mu.Lock()
	fp.rule = rule
	fp.mu.Unlock()
}

func (fp *frontProxy) add(c frontCall) {
	fp.mu.Lock()
	fp.calls = append(fp.calls, c)
	close(fp.notify)
	fp.notify = make(chan struct{})
	fp.mu.Unlock()
}

// filter returns the calls that match pred, in the order they ended.
func (fp *frontProxy) filter(pred func(frontCall) bool) []frontCall {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	var out []frontCall
	for _, c := range fp.calls {
		if pred == nil || pred(c) {
			out = append(out, c)
		}
	}
	return out
}

// refreshCalls returns the refresh_token calls to the token endpoint.
func (fp *frontProxy) refreshCalls() []frontCall {
	return fp.filter(func(c frontCall) bool { return c.Path == "/token" && c.GrantType == "refresh_token" })
}

// reusedRefreshTokens returns the refresh tokens (hashes) that reached the
// provider more than once.
func (fp *frontProxy) reusedRefreshTokens() []string {
	seen := map[string]int{}
	var reused []string
	for _, c := range fp.refreshCalls() {
		if !c.Forwarded {
			continue
		}
		seen[c.RefreshIn]++
		if seen[c.RefreshIn] == 2 {
			reused = append(reused, c.RefreshIn)
		}
	}
	return reused
}

// staleUserinfo returns the userinfo calls made with an access token that
// the token endpoint had not issued through this proxy, or that had expired
// (by the expires_in it came with) when the call began.
func (fp *frontProxy) staleUserinfo() []frontCall {
	issued := map[string]time.Time{} // access token -> expiry
	for _, c := range fp.filter(func(c frontCall) bool { return c.Path == "/token" && c.AccessOut != "" }) {
		issued[c.AccessOut] = c.End.Add(time.Duration(c.ExpiresIn) * time.Second)
	}
	return fp.filter(func(c frontCall) bool {
		if c.Path != fp.path(fp.disc.UserinfoEndpoint) {
			return false
		}
		exp, ok := issued[c.Bearer]
		return !ok || !c.Start.Before(exp)
	})
}

// path is the path of an endpoint URL.
func (fp *frontProxy) path(endpoint string) string {
	u, _ := url.Parse(endpoint)
	return u.Path
}

// log logs every call the proxy saw, for a failing test.
func (fp *frontProxy) log(t testing.TB) {
	t.Helper()
	var b strings.Builder
	for _, c := range fp.filter(nil) {
		b.WriteString(c.String())
		b.WriteByte('\n')
	}
	t.Logf("calls through the proxy to the provider:\n%s", b.String())
}

func (fp *frontProxy) serve(w http.ResponseWriter, r *http.Request) {
	c := frontCall{Start: time.Now(), Path: r.URL.Path}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if c.Path == fp.path(fp.disc.TokenEndpoint) && r.Method == http.MethodPost {
		form, _ := url.ParseQuery(string(body))
		c.GrantType = form.Get("grant_type")
		c.RefreshIn = tokenHash(form.Get("refresh_token"))
		c.ClientID = form.Get("client_id")
		if user, _, ok := r.BasicAuth(); ok {
			c.ClientID, _ = url.QueryUnescape(user)
		}
	}
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		c.Bearer = tokenHash(bearer)
	}
	defer func() {
		c.End = time.Now()
		fp.add(c)
	}()

	fp.mu.Lock()
	rule := fp.rule
	fp.mu.Unlock()
	var f *fault
	if rule != nil {
		f = rule(&c)
	}
	hold := func(what string) bool {
		c.Fault = what
		if f.held != nil {
			f.held()
		}
		select {
		case <-f.release:
			return true
		case <-r.Context().Done():
			c.Gone = true
			return false
		}
	}
	switch {
	case f == nil:
	case f.status != 0:
		c.Fault, c.Status = fmt.Sprint(f.status), f.status
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(f.status)
		fmt.Fprintf(w, "%d %s (e2e front proxy)\n", f.status, http.StatusText(f.status))
		return
	case f.hang:
		if !hold("hang") {
			return
		}
	}

	// Pass it on, with the provider's own Host.
	target, _ := url.Parse(fp.p.issuer)
	out, err := http.NewRequestWithContext(context.WithoutCancel(r.Context()), r.Method,
		fmt.Sprintf("http://127.0.0.1:%d%s", fp.p.port, r.URL.RequestURI()), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	out.Host = target.Host
	for _, h := range []string{"Authorization", "Content-Type", "Accept", "DPoP", "User-Agent"} {
		if v := r.Header.Values(h); len(v) > 0 {
			out.Header[h] = v
		}
	}
	resp, err := fp.up.Do(out)
	if err != nil {
		c.Status = http.StatusBadGateway
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	c.Forwarded = true
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if c.Path == fp.path(fp.disc.TokenEndpoint) {
		var tr struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
			ExpiresIn    int    `json:"expires_in"`
			Error        string `json:"error"`
		}
		json.Unmarshal(answer, &tr)
		c.AccessOut, c.RefreshOut, c.ExpiresIn, c.Error = tokenHash(tr.AccessToken), tokenHash(tr.RefreshToken), tr.ExpiresIn, tr.Error
	}
	if f != nil && f.holdAnswer && !hold("held") {
		return
	}
	for k, v := range resp.Header {
		if k != "Content-Length" && k != "Connection" {
			w.Header()[k] = v
		}
	}
	c.Status = resp.StatusCode
	w.WriteHeader(resp.StatusCode)
	w.Write(answer)
}
