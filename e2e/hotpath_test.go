//go:build linux

package e2e

import (
	"bufio"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRedisHotPathStoreCalls: with the sessions in Redis, an authenticated
// request between touches makes exactly one store read (the session record)
// and no write (but for the liveness check's read of the token record, at
// most once per interval). The store calls are counted by Redis itself (MONITOR sees
// every command of every client), so nothing the app does to the store
// escapes the count: not its own records, not a touch.
func TestRedisHotPathStoreCalls(t *testing.T) {
	t.Parallel()
	p := needApp(t)
	r := startRedis(t)
	s := p.slot(t, "hotpath")
	a := startApp(t, p, appConfig{slot: s, env: []string{"SESSION_REDIS_URL=" + r.url()}})
	b := newTab(t)
	if st := login(t, p, b, a.origin+"/me", "judy", ""); st.URL != a.origin+"/me" {
		t.Fatalf("after login the browser is on %s:\n%s", st.URL, st.Text)
	}
	c := b.cookie(a.origin+"/", sessionCookie)
	if c == nil {
		t.Fatalf("no %s cookie after login", sessionCookie)
	}
	cookie := map[string]string{"Cookie": c.Name + "=" + c.Value, "Accept": "application/json"}

	m := startMonitor(t, r)
	const n = 20
	began := time.Now()
	for i := range n {
		if res := plainDo(t, "GET", a.origin+"/api/me", "", "", cookie); res.status != 200 || !strings.Contains(res.body, "judy") {
			t.Fatalf("request %d: GET /api/me: %d %q", i, res.status, res.body)
		}
	}
	cmds := m.stop()
	elapsed := time.Since(began)
	var reads, liveness, other []string
	for _, c := range cmds {
		if len(c) > 0 && connectionSetup[strings.ToUpper(c[0])] {
			continue // a new connection of the pool says hello: no store call
		}
		if len(c) == 2 && strings.EqualFold(c[0], "GET") && strings.HasPrefix(c[1], "scs:session:") && !strings.Contains(c[1], "oidcauth") {
			reads = append(reads, c[1])
			continue
		}
		if len(c) == 2 && strings.EqualFold(c[0], "GET") && strings.HasPrefix(c[1], `scs:session:oidcauth\\tokens.`) {
			// The liveness check: the login's token record, read at most
			// once per interval (oidcauth.DefaultLivenessInterval, 10 s),
			// not per request.
			liveness = append(liveness, c[1])
			continue
		}
		// The command and its key only: the values are session records.
		other = append(other, strings.Join(c[:min(len(c), 2)], " "))
	}
	if max := 1 + int(elapsed/(10*time.Second)); len(liveness) > max {
		t.Errorf("%d requests in %v read the token record %d times, want at most %d (once per liveness interval)", n, elapsed.Round(time.Millisecond), len(liveness), max)
	}
	if len(reads) != n || len(other) != 0 {
		t.Fatalf("%d authenticated requests: %d reads of the session record and %d other commands %q; want %d and none",
			n, len(reads), len(other), other, n)
	}
	for _, k := range reads[1:] {
		if k != reads[0] {
			t.Fatalf("the requests read different keys: %q and %q", reads[0], k)
		}
	}
}

// connectionSetup are the commands go-redis sends on a new connection.
var connectionSetup = map[string]bool{"HELLO": true, "CLIENT": true, "AUTH": true, "SELECT": true, "PING": true, "READONLY": true}

// monitor is redis-cli MONITOR on the test's Redis: every command it runs
// from now until stop.
type monitor struct {
	t      testing.TB
	r      *redisServer
	cmd    *exec.Cmd
	lines  chan []string
	marker string
}

func startMonitor(t testing.TB, r *redisServer) *monitor {
	t.Helper()
	m := &monitor{t: t, r: r, lines: make(chan []string, 1024), marker: fmt.Sprintf("e2e-monitor-end-%d", time.Now().UnixNano())}
	m.cmd = exec.Command("redis-cli", "-h", "127.0.0.1", "-p", strconv.Itoa(r.port), "MONITOR")
	out, err := m.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.cmd.Process.Kill(); m.cmd.Wait() })
	started := make(chan struct{})
	go func() {
		defer close(m.lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if line == "OK" {
				close(started)
				continue
			}
			if c := monitorCommand(line); c != nil {
				m.lines <- c
			}
		}
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("redis-cli MONITOR did not start")
	}
	return m
}

// stop sends a marker command, waits until MONITOR shows it, and returns
// the commands seen before it (the monitor's own are left out).
func (m *monitor) stop() [][]string {
	m.t.Helper()
	if out, err := m.r.cli("ECHO", m.marker); err != nil {
		m.t.Fatalf("redis-cli ECHO: %v %s", err, out)
	}
	var cmds [][]string
	timeout := time.After(10 * time.Second)
	for {
		select {
		case c, ok := <-m.lines:
			if !ok {
				m.t.Fatal("redis-cli MONITOR ended before the marker")
			}
			if len(c) == 2 && strings.EqualFold(c[0], "ECHO") && c[1] == m.marker {
				return cmds
			}
			cmds = append(cmds, c)
		case <-timeout:
			m.t.Fatalf("MONITOR did not show the marker within 10s; seen: %q", cmds)
		}
	}
}

// monitorCommand parses a MONITOR line, such as
//
//	1700000000.123456 [0 127.0.0.1:5555] "GET" "scs:session:abc"
//
// into the command and its arguments (their quotes removed, escapes left
// as they are).
func monitorCommand(line string) []string {
	_, rest, ok := strings.Cut(line, "] ")
	if !ok {
		return nil
	}
	var args []string
	for rest != "" {
		rest = strings.TrimLeft(rest, " ")
		if !strings.HasPrefix(rest, `"`) {
			break
		}
		i := 1
		for i < len(rest) && rest[i] != '"' {
			if rest[i] == '\\' {
				i++
			}
			i++
		}
		if i >= len(rest) {
			break
		}
		args = append(args, rest[1:i])
		rest = rest[i+1:]
	}
	return args
}
