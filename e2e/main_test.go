// Package e2e drives the example app of oidcauth, built as a binary, in a
// real browser (headless Chromium) against a real OpenID-certified provider
// (the npm package oidc-provider) and real session stores (Redis and
// PostgreSQL), all started by the tests on loopback.
//
// Run it from this folder with
//
//	go test -count=1 ./...
//
// A missing tool makes the tests that need it skip, with the command that
// installs it; when CI is "true" it makes them fail instead.
// .ci/install-e2e-deps.sh installs everything.
package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// suite holds what TestMain starts once for all tests, and what it must stop
// at the end.
var suite struct {
	dir       string // scratch folder of this run, removed at the end
	repoRoot  string // the oidcauth repository (the parent of this folder)
	artifacts string // screenshots and logs, kept after the run

	mu       sync.Mutex
	closers  []func() // run in reverse order by TestMain
	reserved map[int]bool
}

func TestMain(m *testing.M) {
	code := func() int {
		dir, err := os.MkdirTemp("", "oidcauth-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 2
		}
		suite.dir = dir
		defer os.RemoveAll(dir)
		// Servers that run as another user (postgres) need to pass through.
		if err := os.Chmod(dir, 0o711); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 2
		}

		wd, err := os.Getwd()
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 2
		}
		suite.repoRoot = filepath.Dir(wd)
		suite.artifacts = filepath.Join(wd, "artifacts")
		if err := os.MkdirAll(filepath.Join(suite.artifacts, "logs"), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 2
		}
		suite.reserved = map[int]bool{}

		defer runClosers()
		return m.Run()
	}()
	os.Exit(code)
}

// atExit registers f to run when TestMain ends, after every test.
func atExit(f func()) {
	suite.mu.Lock()
	defer suite.mu.Unlock()
	suite.closers = append(suite.closers, f)
}

func runClosers() {
	suite.mu.Lock()
	closers := suite.closers
	suite.closers = nil
	suite.mu.Unlock()
	for i := len(closers) - 1; i >= 0; i-- {
		closers[i]()
	}
}

// installHint ends the message of a missing tool.
const installHint = " (bash .ci/install-e2e-deps.sh installs all the e2e suite needs)"

// inCI reports whether missing tools must fail the tests rather than skip
// them.
func inCI() bool { return os.Getenv("CI") == "true" }

// missing skips the test because something it needs is not there, or fails
// it in CI, where a skip would hide that the suite did not run.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if inCI() {
		t.Fatalf("e2e: CI=true and %s", msg)
	}
	t.Skipf("e2e: %s", msg)
}

// freePort returns a loopback TCP port that is free now and that no other
// call of this run has returned.
func freePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		suite.mu.Lock()
		taken := suite.reserved[port]
		suite.reserved[port] = true
		suite.mu.Unlock()
		if !taken {
			return port
		}
	}
	t.Fatal("free port: no unused port found")
	return 0
}

// artifactName turns a test name into a file name.
func artifactName(t testing.TB, suffix string) string {
	name := strings.NewReplacer("/", "_", " ", "_", ":", "_").Replace(t.Name())
	return name + suffix
}

// scratchDir makes a folder for one test that processes running as another
// user (postgres) can use too. It is removed when the test ends.
func scratchDir(t testing.TB, pattern string) string {
	t.Helper()
	dir, err := os.MkdirTemp(suite.dir, pattern)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
