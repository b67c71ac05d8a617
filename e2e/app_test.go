//go:build linux

package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The example app is built once per run from ../example. It is built with
// the race detector (E2E_RACE=0 turns that off), and a test fails when the
// app reports a data race. E2E_EXAMPLE_BIN names a binary to use instead.
var example struct {
	once    sync.Once
	bin     string
	err     error
	missing string
}

func raceBuild() bool { return os.Getenv("E2E_RACE") != "0" }

func needExample(t testing.TB) string {
	t.Helper()
	example.once.Do(func() {
		example.bin, example.missing, example.err = buildExample()
	})
	if example.missing != "" {
		missing(t, "%s", example.missing)
	}
	if example.err != nil {
		t.Fatalf("e2e: %v", example.err)
	}
	return example.bin
}

func buildExample() (string, string, error) {
	if bin := os.Getenv("E2E_EXAMPLE_BIN"); bin != "" {
		// A binary built elsewhere, for debugging the suite.
		return bin, "", nil
	}
	if _, err := os.Stat(filepath.Join(suite.repoRoot, "example")); err != nil {
		return "", "the example app (../example) does not exist yet", nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", "the go command is not on PATH: install Go", nil
	}
	bin := filepath.Join(suite.dir, "example")
	args := []string{"build", "-o", bin}
	if raceBuild() {
		args = append(args, "-race")
	}
	// In example/, its own module: built with or without the repository's
	// go.work (make test sets GOWORK=off).
	args = append(args, ".")
	cmd := exec.Command(goBin, args...)
	cmd.Dir = filepath.Join(suite.repoRoot, "example")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", "", fmt.Errorf("go %s (in %s): %v\n%s", strings.Join(args, " "), cmd.Dir, err, out)
	}
	fmt.Fprintf(os.Stderr, "e2e: built the example app in %s (race detector: %v)\n", time.Since(start).Round(100*time.Millisecond), raceBuild())
	return bin, "", nil
}

// needApp returns the provider, after checking that the example app can be
// built and the browser started, so that a test skips (or fails) before it
// starts anything else.
func needApp(t testing.TB) *oidcProvider {
	t.Helper()
	p := needProvider(t)
	needExample(t)
	needBrowser(t)
	return p
}

// app is a running example process.
type app struct {
	t      testing.TB
	origin string
	addr   string
	env    []string
	proc   *proc
	name   string
	runs   int
}

// appConfig describes one example process.
type appConfig struct {
	slot     *slot
	instance int      // index into slot.ports
	env      []string // extra KEY=value settings; they win over the defaults
}

// baseEnv is the environment of the test process without the variables the
// example reads, so that a developer's shell cannot change what is tested.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "ADDR" || strings.HasPrefix(k, "OIDC_") || strings.HasPrefix(k, "OIDC2_") || strings.HasPrefix(k, "SESSION_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// startApp builds (once) and starts the example for a slot of the
// provider; it is stopped when the test ends.
func startApp(t testing.TB, p *oidcProvider, cfg appConfig) *app {
	t.Helper()
	return startAppAt(t, p.issuer, cfg)
}

// startAppAt starts the example for a slot of the provider at issuer.
func startAppAt(t testing.TB, issuer string, cfg appConfig) *app {
	t.Helper()
	needExample(t)
	s := cfg.slot
	a := &app{
		t:      t,
		origin: s.origin(cfg.instance),
		addr:   strings.TrimPrefix(s.origin(cfg.instance), "http://"),
		name:   fmt.Sprintf("%s-%d", s.name, cfg.instance),
	}
	a.env = append(baseEnv(),
		"ADDR="+a.addr,
		"OIDC_ISSUER="+issuer,
		"OIDC_CLIENT_ID="+s.clientID(),
		"OIDC_CLIENT_SECRET="+s.secret,
		"OIDC_CLIENT_AUTH="+s.auth,
		"OIDC_REDIRECT_URL="+a.origin+"/callback",
		"OIDC_POST_LOGOUT_REDIRECT_URL="+a.origin+"/",
		"OIDC_SCOPES=openid profile email offline_access",
	)
	a.env = append(a.env, cfg.env...)
	a.start()
	return a
}

// start runs the process and waits until it answers.
func (a *app) start() {
	t := a.t
	t.Helper()
	a.runs++
	cmd := exec.Command(example.bin)
	cmd.Env = a.env
	logPath := filepath.Join(suite.artifacts, "logs", artifactName(t, fmt.Sprintf("-app-%s-%d.log", a.name, a.runs)))
	pr, err := startProc("example "+a.name, cmd, logPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.proc = pr
	t.Cleanup(func() {
		pr.stop(0, 5*time.Second)
		a.checkLog(pr)
		if t.Failed() {
			t.Logf("log of example %s (run %d, %s):\n%s", a.name, a.runs, pr.exitDescription(), pr.out.tail(60))
		}
	})
	ok := waitUntil(30*time.Second, 50*time.Millisecond, func() bool {
		if pr.exited() {
			return true
		}
		resp, err := plainClient.Get(a.origin + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
	if pr.exited() {
		t.Fatalf("example %s exited at start (%s):\n%s", a.name, pr.exitDescription(), pr.out.tail(60))
	}
	if !ok {
		t.Fatalf("example %s did not answer on %s within 30s:\n%s", a.name, a.origin, pr.out.tail(60))
	}
}

// restart stops the process and starts it again with the same settings.
func (a *app) restart() {
	a.t.Helper()
	a.proc.stop(0, 5*time.Second)
	a.checkLog(a.proc)
	a.start()
}

// checkLog fails the test when the race detector reported a race.
func (a *app) checkLog(pr *proc) {
	if out := pr.out.String(); strings.Contains(out, "WARNING: DATA RACE") {
		i := strings.Index(out, "WARNING: DATA RACE")
		a.t.Errorf("example %s: the race detector found a data race:\n%s", a.name, out[i:min(len(out), i+6000)])
	}
}

// get requests path on the app without a browser and without cookies.
func (a *app) get(t testing.TB, path string) plainResponse {
	t.Helper()
	return plainDo(t, http.MethodGet, a.origin+path, "", "", nil)
}

// skipIfNotImplemented skips t when the example answered 501 Not
// Implemented: it says so for a feature that has not landed yet, and the
// test runs by itself once the feature is there.
func skipIfNotImplemented(t testing.TB, status int, body, feature string) {
	t.Helper()
	if status == http.StatusNotImplemented {
		t.Skipf("waiting for %s: the example answers 501 %s", feature, strings.TrimSpace(body))
	}
}

// skipWithoutBackchannelLogout skips t when the example's back-channel
// logout endpoint is not implemented yet.
func skipWithoutBackchannelLogout(t testing.TB, a *app) {
	t.Helper()
	r := plainDo(t, "POST", a.origin+"/backchannel-logout", "application/x-www-form-urlencoded", "", nil)
	skipIfNotImplemented(t, r.status, r.body, "back-channel logout (POST /backchannel-logout)")
}
