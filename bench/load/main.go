// Command load is oidcauth's load test: wrk against the same logged-in GET,
// answering the user's claims as JSON, served by:
//
//   - bare: the handler alone;
//   - floor: the floor a user writes by hand, a fresh scs.New() (memory
//     store) holding the claims as one []byte, one Get per request;
//   - floor-idle: the same with oidcauth's default idle timeout (30 min),
//     with which scs writes the session back on every request;
//   - oidcauth: auth.LoadAndSave + auth.Require with oidcauth's defaults,
//     the handler answering RawClaimsFromContext;
//   - example: the example app's GET /api/me (with -example), logged in
//     through its development provider's form;
//   - mod_auth_openidc: Apache with Debian's mod_auth_openidc, sessions in
//     shared memory, a static file of the claims behind it;
//   - floor-redis, floor-redis-idle, example-redis: the floors with scs's
//     goredisstore and the example with SESSION_REDIS_URL, against a
//     redis-server this program starts.
//
// Each server is its own process: the floors the small program
// bench/floor (-floor), oidcauth the same small program with oidcauth,
// bench/app (-app), the example its binary (-example), bare (and the
// others without those flags) this program (-serve). With taskset and two CPUs or more, wrk
// runs on one CPU (-wrk-cpu) and every server, Redis too, on another
// (-server-cpu), each Go server with GOMAXPROCS=1; the number compared is
// requests per second of the server's own CPU time (user+system, from
// /proc), which the rest of a shared machine does not change much. Every
// target gets a warm-up, then -rounds runs of -d in interleaved rounds (the
// order rotates each round), and each ratio is the median of the ratios of
// runs taken side by side. After the rounds it reads each server's RSS; for
// the Redis targets, Redis's INFO commandstats before and after each run
// give the store round trips per request.
//
// The in-process provider (oidctest) serves the logins of oidcauth and
// mod_auth_openidc, each logged in once by driving the login with an HTTP
// client. A target whose software is missing (apache2 and
// libapache2-mod-auth-openidc, redis-server) is skipped with a message.
// It prints the table, writes OUT/results.txt, results.csv, meta.txt, wrk's
// own output and the servers' logs, and stops everything it started; the
// whole run is bounded by -timeout. `make bench-load` builds the example,
// runs this and draws the chart (bench/chart.gp).
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/oidcauth/oidcauth/oidctest"
)

// reportLua is the wrk script that prints the exact numbers at the end of a run.
//
//go:embed report.lua
var reportLua []byte

type options struct {
	duration, warmup, timeout     time.Duration
	threads, conns, rounds        int
	out, example, wrk, floor, app string
	pin                           pinning
	targets                       []string
}

// allTargets are the targets in the order they are listed.
var allTargets = []string{"bare", "floor", "floor-idle", "oidcauth", "example", "mod_auth_openidc", "floor-redis", "floor-redis-idle", "example-redis"}

func main() {
	serve := flag.String("serve", "", "internal: serve this in-process target (a child of the load test)")
	issuer := flag.String("issuer", "", "internal: the provider of -serve oidcauth")
	redisAddr := flag.String("redis", "", "internal: the Redis of -serve floor-redis")
	var o options
	flag.DurationVar(&o.duration, "d", 5*time.Second, "one measured wrk run (whole seconds)")
	flag.IntVar(&o.rounds, "rounds", 3, "measured runs per target, interleaved with the other targets'")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured wrk run of each target before the rounds")
	flag.IntVar(&o.threads, "t", 1, "wrk threads")
	flag.IntVar(&o.conns, "c", 16, "wrk connections")
	flag.StringVar(&o.out, "out", "bench/out", "folder for the results, wrk's output and the servers' logs")
	flag.StringVar(&o.example, "example", "", "a binary built from ./example (GET /api/me); empty: skip the example targets")
	flag.StringVar(&o.wrk, "wrk", "wrk", "the wrk command")
	flag.StringVar(&o.floor, "floor", "", "a binary built from ./bench/floor for the floor targets (their RSS is then that of a small scs app); empty: this program serves them")
	flag.StringVar(&o.app, "app", "", "a binary built from ./bench/app for the oidcauth target (its RSS is then that of a small oidcauth app); empty: this program serves it")
	flag.DurationVar(&o.timeout, "timeout", 6*time.Minute, "bound on the whole run")
	pin := flag.Bool("pin", true, "pin wrk and the servers to CPUs with taskset (when there are two CPUs or more)")
	flag.IntVar(&o.pin.wrkCPU, "wrk-cpu", 0, "the CPU of wrk")
	flag.IntVar(&o.pin.serverCPU, "server-cpu", 1, "the CPU of the servers and Redis")
	only := flag.String("targets", strings.Join(allTargets, ","), "the targets to run, in this order")
	flag.Parse()
	if *serve != "" {
		if err := serveMain(*serve, *issuer, *redisAddr); err != nil {
			fmt.Fprintln(os.Stderr, "load -serve:", err)
			os.Exit(1)
		}
		return
	}
	for _, name := range strings.Split(*only, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(allTargets, name) {
			fmt.Fprintf(os.Stderr, "load: -targets: unknown target %q (known: %s)\n", name, strings.Join(allTargets, ","))
			os.Exit(2)
		}
		if strings.HasPrefix(name, "example") && o.example == "" {
			continue
		}
		o.targets = append(o.targets, name)
	}
	if ts, err := exec.LookPath("taskset"); *pin && err == nil && runtime.NumCPU() >= 2 {
		o.pin.on, o.pin.taskset = true, ts
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

// target is one server under load.
type target struct {
	Name, Label, Desc string
	URL               string // GET this
	Cookie            string // the Cookie header of the logged-in session
	Check             func(status int, body string) error

	floor, idleFloor string  // the targets it is compared with
	redis            bool    // its sessions are in Redis
	redisServer      *server // that Redis
	srv              *server
	pids             func() []int // the processes whose CPU time and RSS count
	rss              int64
}

func checkClaims(status int, b string) error {
	if status != http.StatusOK || !strings.Contains(b, `"sub":"alice"`) {
		return fmt.Errorf("status %d, body %.200q; want 200 with alice's claims", status, b)
	}
	return nil
}

var listening = regexp.MustCompile(`listening.*\burl=(http://\S+)`)

func run(o options) error {
	wrk, err := exec.LookPath(o.wrk)
	if err != nil {
		return fmt.Errorf("wrk not found (%v): install it with `apt-get install wrk` (Debian), or run `make bench-load`, which does", err)
	}
	if o.rounds < 1 || o.duration < time.Second {
		return errors.New("-rounds must be at least 1 and -d at least 1s")
	}
	if planned := time.Duration(len(o.targets))*(o.warmup+time.Duration(o.rounds)*o.duration) + 30*time.Second; planned > o.timeout {
		return fmt.Errorf("%d targets × (-warmup %v + -rounds %d × -d %v) plus start-up is about %v, more than -timeout %v",
			len(o.targets), o.warmup, o.rounds, o.duration, planned, o.timeout)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "oidcauth-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	script := filepath.Join(tmp, "report.lua")
	if err := os.WriteFile(script, reportLua, 0o644); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}

	op, err := oidctest.NewProvider(oidctest.Config{}) // client "client"/"secret", user "alice"
	if err != nil {
		return fmt.Errorf("starting the provider: %w", err)
	}
	defer op.Close()

	var notes []string
	var redisSrv *server
	if slices.ContainsFunc(o.targets, func(n string) bool { return strings.HasSuffix(n, "redis") || strings.Contains(n, "redis-") }) {
		redisSrv, err = startRedis(ctx, o.pin, tmp)
		if redisSrv != nil {
			defer redisSrv.stop()
		}
		if err != nil {
			return fmt.Errorf("redis-server: %w", err)
		}
		if redisSrv == nil {
			msg := "skipping the Redis targets: redis-server is not installed (apt-get install redis-server)"
			fmt.Println("== " + msg)
			notes = append(notes, msg)
			o.targets = slices.DeleteFunc(o.targets, func(n string) bool { return strings.Contains(n, "redis") })
		}
	}

	var targets []*target
	for _, name := range slices.Clone(o.targets) {
		t, why, err := startTarget(ctx, o, name, self, op.Issuer, redisSrv)
		if t != nil && t.srv != nil {
			defer t.srv.stop()
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if why != "" {
			msg := "skipping " + name + ": " + why
			fmt.Println("== " + msg)
			notes = append(notes, msg)
			o.targets = slices.DeleteFunc(o.targets, func(n string) bool { return n == name })
			continue
		}
		if err := checkTarget(ctx, t); err != nil {
			return err
		}
		targets = append(targets, t)
	}
	byName := map[string]*target{}
	for _, t := range targets {
		byName[t.Name] = t
	}
	if v := apacheVersion(); byName["mod_auth_openidc"] != nil && v != "" {
		notes = append(notes, v)
	}
	if o.floor == "" {
		notes = append(notes, "the floors served by bench/load itself (no -floor): their RSS is not that of a small scs app")
	}
	if o.app == "" && byName["oidcauth"] != nil {
		notes = append(notes, "the oidcauth target served by bench/load itself (no -app): its RSS is not that of a small oidcauth app")
	}
	info := machineInfo(o, strings.Join(notes, "; "))

	if o.warmup > 0 {
		for _, name := range o.targets {
			fmt.Printf("== warm-up %s: wrk -d%v\n", name, o.warmup)
			if _, err := runWrk(ctx, wrk, o, o.warmup, script, byName[name], io.Discard); err != nil {
				return fmt.Errorf("%s: warm-up: %w", name, err)
			}
		}
	}
	logs := map[string]*os.File{}
	for _, name := range o.targets {
		f, err := os.Create(filepath.Join(o.out, "wrk-"+name+".txt"))
		if err != nil {
			return err
		}
		defer f.Close()
		logs[name] = f
	}
	// Each round runs every target once, the order rotating from round to
	// round, so that a drift of the machine falls on all of them and each
	// ratio compares runs taken side by side.
	runs := map[string][]result{}
	for round := 0; round < o.rounds; round++ {
		for i := range o.targets {
			name := o.targets[(i+round)%len(o.targets)]
			t := byName[name]
			fmt.Printf("== round %d/%d %s: wrk -t%d -c%d -d%v %s\n", round+1, o.rounds, name, o.threads, o.conns, o.duration, t.URL)
			fmt.Fprintf(logs[name], "== round %d\n", round+1)
			r, err := runWrk(ctx, wrk, o, o.duration, script, t, logs[name])
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			runs[name] = append(runs[name], r)
		}
	}
	var sums []summary
	for _, name := range o.targets {
		t := byName[name]
		t.rss = rssOf(t.pids())
		sums = append(sums, summarize(t, runs[name]))
	}

	var table strings.Builder
	fmt.Fprintf(&table, "oidcauth load test: an authenticated GET answering the claims JSON, one logged-in session, on loopback\n%s\n\n", info)
	printTable(&table, sums, runs)
	fmt.Print("\n" + table.String())
	if err := os.WriteFile(filepath.Join(o.out, "results.txt"), []byte(table.String()), 0o644); err != nil {
		return err
	}
	if err := writeCSV(filepath.Join(o.out, "results.csv"), sums, runs); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.out, "meta.txt"), []byte(info+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Printf("\nwrote %s (this table), results.csv and meta.txt; wrk's output and the servers' logs are there too\n", filepath.Join(o.out, "results.txt"))
	for _, s := range sums {
		if s.StatusErrors > 0 || s.SocketErrors > 0 {
			return fmt.Errorf("%s: %d responses were not 2xx/3xx and %d socket errors: its numbers are not those of logged-in requests", s.Name, s.StatusErrors, s.SocketErrors)
		}
	}
	return nil
}

// startTarget starts the server of one target and logs in (or creates the
// floor's session). why is not empty when the target is skipped.
func startTarget(ctx context.Context, o options, name, self, issuer string, rs *server) (t *target, why string, err error) {
	logPath := filepath.Join(o.out, "server-"+name+".log")
	t = &target{Name: name, Label: name, floor: "floor", idleFloor: "floor-idle", Check: checkClaims}
	one := func() []int { return []int{t.srv.pid()} }
	t.pids = one
	goEnv := []string{"GOMAXPROCS=1"}
	if !o.pin.on {
		goEnv = nil
	}
	if strings.Contains(name, "redis") {
		t.redis, t.redisServer = true, rs
		t.floor, t.idleFloor = "floor-redis", "floor-redis-idle"
	}
	switch name {
	case "bare", "floor", "floor-idle", "oidcauth", "floor-redis", "floor-redis-idle":
		argv := []string{self, "-serve", name, "-issuer", issuer}
		if o.floor != "" && strings.HasPrefix(name, "floor") {
			argv = []string{o.floor, "-name", name}
		}
		if o.app != "" && name == "oidcauth" {
			argv = []string{o.app, "-issuer", issuer}
		}
		if rs != nil && t.redis {
			argv = append(argv, "-redis", rs.url)
		}
		if t.srv, err = startServer(ctx, name, o.pin.command(o.pin.serverCPU, argv...), goEnv, logPath, listening); err != nil {
			return t, "", err
		}
		t.URL = t.srv.url + "/me"
		switch name {
		case "bare":
			t.Label, t.Desc = "bare", "the handler alone"
			t.Cookie = "floor=" + strings.Repeat("x", 43) // a cookie header as long as the others'
		case "oidcauth":
			t.Label, t.Desc = "oidcauth", "auth.Require, oidcauth's defaults; the handler answers RawClaimsFromContext"
			t.Cookie, err = login(ctx, t.URL, "")
		default:
			t.Label, t.Desc = "scs floor", "a fresh scs.New(), the claims as one []byte, one Get"
			if strings.HasSuffix(name, "idle") {
				t.Label, t.Desc = "scs floor, idle 30 min", "the same with IdleTimeout 30 min (scs writes every request)"
			}
			if t.redis {
				t.Label += ", Redis"
				t.Desc += "; goredisstore"
			}
			t.Cookie, err = seedCookie(ctx, t.srv.url)
		}
	case "example", "example-redis":
		env := append(goEnv, "ADDR=127.0.0.1:0")
		t.Label, t.Desc = "example /api/me", "the example app (oidcauth defaults, its development provider): GET /api/me"
		if t.redis {
			env = append(env, "SESSION_REDIS_URL=redis://"+rs.url+"/0")
			t.Label, t.Desc = "example /api/me, Redis", "the same with SESSION_REDIS_URL"
		}
		if t.srv, err = startServer(ctx, name, o.pin.command(o.pin.serverCPU, o.example), env, logPath, listening); err != nil {
			return t, "", err
		}
		base := strings.TrimSuffix(t.srv.url, "/")
		t.URL = base + "/api/me"
		t.Cookie, err = login(ctx, base+"/me", "alice")
	case "mod_auth_openidc":
		t.srv, why, err = startApache(ctx, o.pin, o.out, issuer)
		if why != "" || err != nil {
			return t, why, err
		}
		t.Label, t.Desc = "mod_auth_openidc", "Apache (event MPM) + mod_auth_openidc, shm sessions; a static file of the claims"
		t.pids = func() []int { return tree(t.srv.pid()) }
		t.URL = t.srv.url + "/me"
		t.Cookie, err = login(ctx, t.URL, "")
	}
	if err != nil {
		return t, "", fmt.Errorf("logging in: %w", err)
	}
	return t, "", nil
}
