//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Dex (the CNCF provider written in Go) is the suite's second real
// provider. .ci/install-e2e-deps.sh builds the release pinned in
// dex/dex.env into a cache; the test writes its whole configuration:
// in-memory storage, the password database with one static user per slot,
// one static client per slot, no approval screen, and ID and access tokens
// that live accessTokenTTL(), with refresh tokens rotated at each use.
//
// Dex listens on a loopback port of its own. The issuer is another port, a
// reverse proxy in this process that passes every request through as it is
// and records what the app sent to Dex's token and userinfo endpoints (Dex
// does not log how a client authenticated, nor which refresh token it
// used).

// dexSlotPlan lists Dex's clients: name and token endpoint auth method.
// Dex takes client_secret_basic and client_secret_post from any
// confidential client, and no secret from a public one.
var dexSlotPlan = []struct {
	name string
	auth string
}{
	{"dex-basic", authBasic},
	{"dex-post", authPost},
	{"dex-public", authNone},
	{"dex-refresh", authPost},
	{"dex-logout", authBasic},
	{"dex-refused", authNone},
}

// dexIssuerPath is the path of Dex's issuer URL: a path, unlike
// oidc-provider's, so that discovery and endpoints are found under it.
const dexIssuerPath = "/dex"

// dexReuseInterval is how long Dex takes a refresh token again after it
// rotated it, and answers with the same new token: concurrent refreshes of
// one client do not fail. It is Dex's default.
const dexReuseInterval = 3 * time.Second

// dexPassword is every static user's password; dexPasswordHash is its
// bcrypt hash (cost 10), as Dex's staticPasswords want it.
const (
	dexPassword     = "e2e dex password"
	dexPasswordHash = "$2a$10$guW/ZB4bmJ5fG0O.7BVqKOPgaoFWVmgvDKetc5o5kLFNO5Gv9qGrO"
)

// dexUser is the static user of a slot: the login is the email, and Dex
// puts username in the name claim.
type dexUser struct {
	email, username, userID string
}

func dexUserOf(s *slot) dexUser {
	return dexUser{
		email:    s.name + "@example.test",
		username: "E2E " + s.name,
		userID:   "e2e-user-" + s.name,
	}
}

// dexPin is the content of dex/dex.env.
type dexPin struct{ module, release, version string }

func readDexPin() (dexPin, error) {
	wd, _ := os.Getwd()
	f, err := os.Open(filepath.Join(wd, "dex", "dex.env"))
	if err != nil {
		return dexPin{}, err
	}
	defer f.Close()
	vars := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			vars[k] = v
		}
	}
	pin := dexPin{module: vars["DEX_MODULE"], release: vars["DEX_RELEASE"], version: vars["DEX_VERSION"]}
	if pin.module == "" || pin.release == "" || pin.version == "" {
		return dexPin{}, fmt.Errorf("dex/dex.env lacks DEX_MODULE, DEX_RELEASE or DEX_VERSION")
	}
	return pin, nil
}

// dexCacheBinary is where .ci/install-e2e-deps.sh puts the pinned Dex:
// $E2E_CACHE_DIR, else $XDG_CACHE_HOME/oidcauth-e2e, else
// ~/.cache/oidcauth-e2e; then dex/RELEASE-COMMIT/dex.
func dexCacheBinary(pin dexPin) string {
	cache := os.Getenv("E2E_CACHE_DIR")
	if cache == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		cache = filepath.Join(base, "oidcauth-e2e")
	}
	commit := pin.version[strings.LastIndex(pin.version, "-")+1:]
	return filepath.Join(cache, "dex", pin.release+"-"+commit, "dex")
}

// findDex returns the Dex binary to run: E2E_DEX, else the one the install
// script built for the pinned version, else dex on PATH. missing says what
// to do when there is none.
func findDex() (bin, from, missingMsg string, err error) {
	pin, err := readDexPin()
	if err != nil {
		return "", "", "", err
	}
	if p := os.Getenv("E2E_DEX"); p != "" {
		p, lookErr := exec.LookPath(p)
		if lookErr != nil {
			return "", "", "", fmt.Errorf("E2E_DEX: %v", lookErr)
		}
		return p, "E2E_DEX", "", nil
	}
	if p := dexCacheBinary(pin); p != "" {
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, "the install script's cache", "", nil
		}
	}
	if p, err := exec.LookPath("dex"); err == nil {
		return p, "PATH", "", nil
	}
	return "", "", fmt.Sprintf("Dex %s not found (not in %s, nor on PATH, nor E2E_DEX): bash .ci/install-e2e-deps.sh builds it from the Go module proxy", pin.release, dexCacheBinary(pin)), nil
}

// dexProvider is the running Dex.
type dexProvider struct {
	issuer  string // http://localhost:PORT/dex: the recording proxy
	direct  string // Dex's own listener, without the proxy
	proc    *proc
	slots   map[string]*slot
	calls   *dexCalls
	version string // what `dex version` says
}

var dex struct {
	once    sync.Once
	d       *dexProvider
	err     error
	missing string
}

// needDex returns Dex, starting it on first use; it is stopped when
// TestMain ends.
func needDex(t testing.TB) *dexProvider {
	t.Helper()
	dex.once.Do(func() {
		dex.d, dex.missing, dex.err = startDex(t)
	})
	if dex.missing != "" {
		missing(t, "%s", dex.missing)
	}
	if dex.err != nil {
		t.Fatalf("e2e: Dex: %v", dex.err)
	}
	return dex.d
}

// needDexApp is needApp for Dex: Dex, the example and the browser.
func needDexApp(t testing.TB) *dexProvider {
	t.Helper()
	d := needDex(t)
	needExample(t)
	needBrowser(t)
	return d
}

func (d *dexProvider) slot(t testing.TB, name string) *slot {
	t.Helper()
	s, ok := d.slots[name]
	if !ok {
		t.Fatalf("e2e: no slot %q in dexSlotPlan", name)
	}
	return s
}

func startDex(t testing.TB) (*dexProvider, string, error) {
	bin, from, missingMsg, err := findDex()
	if missingMsg != "" || err != nil {
		return nil, missingMsg, err
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		return nil, "", fmt.Errorf("%s version: %v\n%s", bin, err, out)
	}
	d := &dexProvider{slots: map[string]*slot{}, calls: newDexCalls()}
	d.version = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	fmt.Fprintf(os.Stderr, "e2e: Dex from %s: %s (%s)\n", from, bin, d.version)

	dexPort, proxyPort := freePort(t), freePort(t)
	d.direct = fmt.Sprintf("http://127.0.0.1:%d", dexPort)
	d.issuer = fmt.Sprintf("http://localhost:%d%s", proxyPort, dexIssuerPath)

	var clients, users []map[string]any
	for _, sp := range dexSlotPlan {
		s := &slot{name: sp.name, auth: sp.auth, ports: []int{freePort(t)}}
		client := map[string]any{
			"id":           s.clientID(),
			"name":         "oidcauth e2e " + s.name,
			"redirectURIs": []string{s.origin(0) + "/callback"},
		}
		if sp.auth == authNone {
			client["public"] = true
		} else {
			s.secret = "secret-" + sp.name + "-" + randomHex(8)
			client["secret"] = s.secret
		}
		d.slots[s.name] = s
		clients = append(clients, client)
		u := dexUserOf(s)
		users = append(users, map[string]any{
			"email":         u.email,
			"username":      u.username,
			"userID":        u.userID,
			"hash":          dexPasswordHash,
			"emailVerified": true,
		})
	}
	ttl := accessTokenTTL().String()
	cfg, err := json.MarshalIndent(map[string]any{
		"issuer":  d.issuer,
		"storage": map[string]any{"type": "memory", "config": map[string]any{}},
		"web":     map[string]any{"http": fmt.Sprintf("127.0.0.1:%d", dexPort)},
		"logger":  map[string]any{"level": "debug", "format": "json"},
		"oauth2": map[string]any{
			"skipApprovalScreen": true,
			"responseTypes":      []string{"code"},
			"grantTypes":         []string{"authorization_code", "refresh_token"},
		},
		// Dex's access tokens live as long as its ID tokens. Rotation is
		// Dex's default.
		"expiry": map[string]any{
			"idTokens": ttl,
			"refreshTokens": map[string]any{
				"disableRotation":   false,
				"reuseInterval":     dexReuseInterval.String(),
				"validIfNotUsedFor": "1h",
				"absoluteLifetime":  "2h",
			},
		},
		"frontend":         map[string]any{"issuer": "Dex e2e"},
		"enablePasswordDB": true,
		"staticPasswords":  users,
		"staticClients":    clients,
	}, "", "  ")
	if err != nil {
		return nil, "", err
	}
	dir, err := os.MkdirTemp(suite.dir, "dex-")
	if err != nil {
		return nil, "", err
	}
	// Dex reads YAML, which JSON is.
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		return nil, "", err
	}

	stopProxy, err := d.serveProxy(proxyPort, dexPort)
	if err != nil {
		return nil, "", err
	}
	atExit(stopProxy)

	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Dir = dir
	pr, err := startProc("dex", cmd, filepath.Join(suite.artifacts, "logs", "dex.log"), nil)
	if err != nil {
		return nil, "", err
	}
	d.proc = pr
	atExit(func() { pr.stop(0, 5*time.Second) })

	// Dex first, then through the proxy.
	for _, base := range []string{d.direct + dexIssuerPath, d.issuer} {
		ok := waitUntil(30*time.Second, 100*time.Millisecond, func() bool {
			if pr.exited() {
				return true
			}
			resp, err := plainClient.Get(base + "/.well-known/openid-configuration")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 200
		})
		if pr.exited() {
			return nil, "", fmt.Errorf("dex exited (%s):\n%s", pr.exitDescription(), pr.out.tail(40))
		}
		if !ok {
			return nil, "", fmt.Errorf("dex did not answer discovery at %s in 30s:\n%s", base, pr.out.tail(40))
		}
	}
	return d, "", nil
}

// serveProxy serves the issuer's port on 127.0.0.1 (and ::1 when it can,
// as the browser may try it for localhost), passing every request to Dex.
func (d *dexProvider) serveProxy(port, dexPort int) (func(), error) {
	target := &url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", dexPort)}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
		},
	}
	srv := &http.Server{Handler: d.record(rp), ReadHeaderTimeout: 10 * time.Second}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return nil, fmt.Errorf("dex proxy: %v", err)
	}
	go srv.Serve(l)
	if l6, err := net.Listen("tcp6", fmt.Sprintf("[::1]:%d", port)); err == nil {
		go srv.Serve(l6)
	}
	return func() { srv.Close() }, nil
}

// dexCall is one request to Dex's token or userinfo endpoint, or a page
// the browser loaded from Dex, as the proxy saw it.
type dexCall struct {
	Time    time.Time
	Method  string
	Path    string // under the issuer: /token, /userinfo, /auth, ...
	Status  int
	Browser bool // made by the browser, not by the app

	// Token requests.
	ClientID     string
	Auth         string // client_secret_basic, client_secret_post, none, or what else it was
	GrantType    string
	CodeVerifier bool
	RefreshIn    string // the refresh token sent
	RefreshOut   string // the refresh token issued
	Error        string // the error of a token response

	// Authorization requests.
	CodeChallengeMethod string

	// Userinfo requests.
	Bearer bool
}

func (c dexCall) String() string {
	// Dex's refresh tokens of one login share their first bytes (the
	// token's ID): a hash tells them apart.
	short := func(s string) string {
		if s == "" {
			return "-"
		}
		sum := sha256.Sum256([]byte(s))
		return "#" + hex.EncodeToString(sum[:4])
	}
	s := fmt.Sprintf("%s %s %s -> %d", c.Time.Format("15:04:05.000"), c.Method, c.Path, c.Status)
	if c.Path == "/token" {
		s += fmt.Sprintf(" client=%s auth=%s grant=%s code_verifier=%v refresh_in=%s refresh_out=%s error=%q",
			c.ClientID, c.Auth, c.GrantType, c.CodeVerifier, short(c.RefreshIn), short(c.RefreshOut), c.Error)
	}
	return s
}

// dexCalls collects the calls the proxy saw.
type dexCalls struct {
	mu     sync.Mutex
	calls  []dexCall
	notify chan struct{}
}

func newDexCalls() *dexCalls { return &dexCalls{notify: make(chan struct{})} }

func (l *dexCalls) add(c dexCall) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, c)
	close(l.notify)
	l.notify = make(chan struct{})
}

func (l *dexCalls) filter(pred func(dexCall) bool) []dexCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []dexCall
	for _, c := range l.calls {
		if pred(c) {
			out = append(out, c)
		}
	}
	return out
}

// hasAfter reports whether a call at or after from matches pred.
func (l *dexCalls) hasAfter(from time.Time, pred func(dexCall) bool) bool {
	return len(l.filter(func(c dexCall) bool { return !c.Time.Before(from) && pred(c) })) > 0
}

// tokenCalls returns a client's token requests (of grantType when not "").
func (d *dexProvider) tokenCalls(clientID, grantType string) []dexCall {
	return d.calls.filter(func(c dexCall) bool {
		return c.Path == "/token" && c.ClientID == clientID && (grantType == "" || c.GrantType == grantType)
	})
}

// logCalls logs what the proxy saw since from, for a failing test.
func (d *dexProvider) logCalls(t testing.TB, from time.Time) {
	t.Helper()
	var b strings.Builder
	for _, c := range d.calls.filter(func(c dexCall) bool { return !c.Time.Before(from) }) {
		b.WriteString(c.String())
		b.WriteByte('\n')
	}
	t.Logf("requests to Dex since %s:\n%s\nDex's log (tail):\n%s", from.Format("15:04:05.000"), b.String(), d.proc.out.tail(30))
}

// record wraps the proxy: it reads what a request says about the client
// before passing it on unchanged, and the token response after.
func (d *dexProvider) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := dexCall{
			Time:    time.Now(),
			Method:  r.Method,
			Path:    strings.TrimPrefix(r.URL.Path, dexIssuerPath),
			Browser: strings.Contains(r.UserAgent(), "Chrome"),
		}
		switch {
		case c.Path == "/token" && r.Method == http.MethodPost:
			body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			form, _ := url.ParseQuery(string(body))
			c.GrantType = form.Get("grant_type")
			c.CodeVerifier = form.Get("code_verifier") != ""
			c.RefreshIn = form.Get("refresh_token")
			user, _, basic := r.BasicAuth()
			switch {
			case basic && form.Has("client_secret"):
				c.Auth = "client_secret_basic and client_secret_post"
			case basic:
				c.Auth = authBasic
				c.ClientID, _ = url.QueryUnescape(user)
			case form.Has("client_secret") && form.Get("client_secret") == "":
				c.Auth = "none, with an empty client_secret"
			case form.Has("client_secret"):
				c.Auth = authPost
			default:
				c.Auth = authNone
			}
			if c.ClientID == "" {
				c.ClientID = form.Get("client_id")
			}
		case c.Path == "/auth" && r.Method == http.MethodGet:
			c.ClientID = r.URL.Query().Get("client_id")
			c.CodeChallengeMethod = r.URL.Query().Get("code_challenge_method")
		case c.Path == "/userinfo":
			c.Bearer = strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ")
		}
		rec := &recordingWriter{ResponseWriter: w, status: http.StatusOK, keep: c.Path == "/token"}
		next.ServeHTTP(rec, r)
		c.Status = rec.status
		if rec.keep {
			var resp struct {
				RefreshToken string `json:"refresh_token"`
				Error        string `json:"error"`
			}
			json.Unmarshal(rec.body.Bytes(), &resp)
			c.RefreshOut, c.Error = resp.RefreshToken, resp.Error
		}
		d.calls.add(c)
	})
}

// recordingWriter keeps the status, and the body when keep is set.
type recordingWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	keep        bool
	body        bytes.Buffer
}

func (w *recordingWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets the proxy flush the real ResponseWriter.
func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *recordingWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	if w.keep && w.body.Len() < 1<<20 {
		w.body.Write(b)
	}
	return w.ResponseWriter.Write(b)
}
