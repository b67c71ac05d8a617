//go:build linux

package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// redisServer is a throwaway redis-server on loopback. Its data survives a
// restart (append-only file, written at every command), so a test can stop
// and start it and see the app pick its sessions up again.
type redisServer struct {
	t    testing.TB
	port int
	dir  string
	proc *proc
	runs int
}

func startRedis(t testing.TB) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		missing(t, "redis-server not found: `apt-get install redis-server`%s", installHint)
	}
	r := &redisServer{t: t, port: freePort(t), dir: scratchDir(t, "redis-")}
	r.start()
	return r
}

func (r *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisServer) start() {
	t := r.t
	t.Helper()
	r.runs++
	cmd := exec.Command("redis-server",
		"--bind", "127.0.0.1",
		"--port", strconv.Itoa(r.port),
		"--dir", r.dir,
		"--save", "",
		"--appendonly", "yes",
		"--appendfsync", "always",
		"--daemonize", "no",
		"--protected-mode", "yes",
	)
	logPath := filepath.Join(suite.artifacts, "logs", artifactName(t, fmt.Sprintf("-redis-%d.log", r.runs)))
	pr, err := startProc("redis", cmd, logPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.proc = pr
	t.Cleanup(pr.kill)
	if !waitForPort(pr, r.port, 15*time.Second) {
		t.Fatalf("redis-server did not start (%s):\n%s", pr.exitDescription(), pr.out.tail(30))
	}
	// Answers only once it has loaded its data.
	if !waitUntil(15*time.Second, 50*time.Millisecond, func() bool {
		out, err := r.cli("PING")
		return err == nil && strings.TrimSpace(out) == "PONG"
	}) {
		t.Fatalf("redis-server does not answer PING:\n%s", pr.out.tail(30))
	}
}

// stop kills the server, as a crash would.
func (r *redisServer) stop() { r.proc.kill() }

// cli runs redis-cli against the server.
func (r *redisServer) cli(args ...string) (string, error) {
	cmd := exec.Command("redis-cli", append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(r.port)}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// keys lists the keys of database 0.
func (r *redisServer) keys() []string {
	r.t.Helper()
	out, err := r.cli("--scan")
	if err != nil {
		r.t.Fatalf("redis-cli --scan: %v: %s", err, out)
	}
	return strings.Fields(out)
}

// postgresServer is a throwaway PostgreSQL cluster on loopback, run as the
// postgres (or nobody) user when the suite runs as root.
type postgresServer struct {
	t    testing.TB
	port int
	bin  string
	proc *proc
}

// postgresBin finds the newest server under /usr/lib/postgresql, or
// E2E_POSTGRES_BIN.
func postgresBin() string {
	if d := os.Getenv("E2E_POSTGRES_BIN"); d != "" {
		return d
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi < vj
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "postgres")); err == nil {
			return dirs[i]
		}
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

// serverUser returns the credentials to run postgres with: PostgreSQL
// refuses to run as root.
func serverUser(t testing.TB) (*syscall.Credential, int, int) {
	if os.Geteuid() != 0 {
		return nil, os.Getuid(), os.Getgid()
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, uid, gid
	}
	t.Fatal("running as root, and there is neither a postgres nor a nobody user to run PostgreSQL as")
	return nil, 0, 0
}

func startPostgres(t testing.TB) *postgresServer {
	t.Helper()
	bin := postgresBin()
	if bin == "" {
		missing(t, "PostgreSQL server not found: `apt-get install postgresql` (or set E2E_POSTGRES_BIN)%s", installHint)
	}
	if _, err := exec.LookPath("psql"); err != nil {
		missing(t, "psql not found: `apt-get install postgresql-client`%s", installHint)
	}
	cred, uid, gid := serverUser(t)
	dir := scratchDir(t, "postgres-")
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, data} {
		if err := os.Chown(d, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}

	pg := &postgresServer{t: t, port: freePort(t), bin: bin}
	cmd := exec.Command(filepath.Join(bin, "postgres"),
		"-D", data,
		"-p", strconv.Itoa(pg.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+dir,
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
	)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	pr, err := startProc("postgres", cmd, filepath.Join(suite.artifacts, "logs", artifactName(t, "-postgres.log")), nil)
	if err != nil {
		t.Fatal(err)
	}
	pg.proc = pr
	// SIGINT is PostgreSQL's fast shutdown.
	t.Cleanup(func() { pr.stop(syscall.SIGINT, 10*time.Second) })
	if !waitUntil(30*time.Second, 100*time.Millisecond, func() bool {
		if pr.exited() {
			return true
		}
		out, err := exec.Command(filepath.Join(bin, "pg_isready"), "-h", "127.0.0.1", "-p", strconv.Itoa(pg.port)).CombinedOutput()
		return err == nil && strings.Contains(string(out), "accepting")
	}) || pr.exited() {
		t.Fatalf("postgres did not start (%s):\n%s", pr.exitDescription(), pr.out.tail(30))
	}
	if out, err := pg.psql("postgres", "CREATE DATABASE oidcauth"); err != nil {
		t.Fatalf("create database: %v\n%s", err, out)
	}
	return pg
}

func (pg *postgresServer) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/oidcauth?sslmode=disable", pg.port)
}

// psql runs one statement and returns its unaligned output.
func (pg *postgresServer) psql(db, sql string) (string, error) {
	cmd := exec.Command("psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", "127.0.0.1", "-p", strconv.Itoa(pg.port), "-U", "postgres", "-d", db, "-c", sql)
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=5")
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// waitForPort waits until something accepts TCP connections on the port,
// or the process exits.
func waitForPort(pr *proc, port int, timeout time.Duration) bool {
	return waitUntil(timeout, 50*time.Millisecond, func() bool {
		if pr.exited() {
			return true
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}) && !pr.exited()
}
