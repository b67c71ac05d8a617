// Command load is oidcauth's load test: wrk against the same tiny handler
// served three ways, all with one logged-in session, on loopback:
//
//   - bare: the handler alone;
//   - scs: behind scs's LoadAndSave with one session Get (oidcauth's own
//     session manager, so the same stored session is decoded);
//   - oidcauth: behind auth.LoadAndSave and auth.Require, the handler
//     reading oidcauth.ClaimsFromContext;
//
// and, with -example, the example app's GET /me, logged in through its
// development provider's login form.
//
// It starts the in-process provider (oidctest) and the servers, logs in once
// through the real flow, warms each target up, then runs wrk on each target
// with the session cookie in rounds (-rounds runs of -d each, the order
// rotating so that the targets' runs are interleaved), prints a table
// (median requests/s and p50/p90/p99 latency; oidcauth against scs, round by
// round), writes it to OUT/results.txt, the numbers to OUT/results.csv and
// the machine to OUT/meta.txt, and stops everything it started. Every run is
// bounded by wrk's -d and the whole program by -timeout. `make bench-load`
// builds the example, runs this and draws the chart (bench/chart.gp).
package main

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidctest"
)

// reportLua is the wrk script that prints the exact numbers at the end of a run.
//
//go:embed report.lua
var reportLua []byte

// body is what every handler answers.
const body = "hello\n"

type options struct {
	duration, warmup, timeout time.Duration
	threads, conns, rounds    int
	out, example, wrk         string
	cpuprofile                string
	targets                   []string
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "d", 3*time.Second, "one measured wrk run (whole seconds)")
	flag.IntVar(&o.rounds, "rounds", 5, "measured runs per target, interleaved with the other targets'")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured wrk run of each target before the rounds")
	flag.IntVar(&o.threads, "t", 2, "wrk threads")
	flag.IntVar(&o.conns, "c", 32, "wrk connections")
	flag.StringVar(&o.out, "out", "bench/out", "folder for results.csv, meta.txt and wrk's own output")
	flag.StringVar(&o.example, "example", "", "a binary built from ./example to measure too (GET /me); empty: skip it")
	flag.StringVar(&o.wrk, "wrk", "wrk", "the wrk command")
	flag.DurationVar(&o.timeout, "timeout", 4*time.Minute, "bound on the whole run")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the measured rounds to this file, samples in the handlers labeled target=bare|floor|floor-idle|oidcauth")
	only := flag.String("targets", "bare,floor,floor-idle,oidcauth,example", "the targets to run, in this order (example only with -example)")
	flag.Parse()
	for _, name := range strings.Split(*only, ",") {
		switch name = strings.TrimSpace(name); name {
		case "bare", "floor", "floor-idle", "oidcauth":
		case "example":
			if o.example == "" {
				continue
			}
		default:
			fmt.Fprintf(os.Stderr, "load: -targets: unknown target %q\n", name)
			os.Exit(2)
		}
		o.targets = append(o.targets, name)
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
}

// result is one wrk run.
type result struct {
	target
	Requests                   int64
	Duration                   time.Duration
	RPS                        float64
	Mean, Max, P50, P90, P99   time.Duration
	StatusErrors, SocketErrors int64
}

// summary is a target's runs: the median of each number over the rounds,
// and the range of the throughput.
type summary struct {
	target
	Rounds                     int
	Requests                   int64
	RPS, RPSMin, RPSMax        float64
	Mean, P50, P90, P99        time.Duration
	StatusErrors, SocketErrors int64
}

func median[T int64 | float64 | time.Duration](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

func summarize(rs []result) summary {
	s := summary{target: rs[0].target, Rounds: len(rs)}
	pick := func(f func(result) time.Duration) time.Duration {
		var xs []time.Duration
		for _, r := range rs {
			xs = append(xs, f(r))
		}
		return median(xs)
	}
	var rps []float64
	for _, r := range rs {
		rps = append(rps, r.RPS)
		s.Requests += r.Requests
		s.StatusErrors += r.StatusErrors
		s.SocketErrors += r.SocketErrors
	}
	s.RPS, s.RPSMin, s.RPSMax = median(rps), slices.Min(rps), slices.Max(rps)
	s.Mean = pick(func(r result) time.Duration { return r.Mean })
	s.P50 = pick(func(r result) time.Duration { return r.P50 })
	s.P90 = pick(func(r result) time.Duration { return r.P90 })
	s.P99 = pick(func(r result) time.Duration { return r.P99 })
	return s
}

func run(o options) error {
	wrk, err := exec.LookPath(o.wrk)
	if err != nil {
		return fmt.Errorf("wrk not found (%v): install it with `apt-get install wrk` (Debian), or run `make bench-load`, which does", err)
	}
	n := len(o.targets)
	if o.rounds < 1 || o.duration < time.Second {
		return errors.New("-rounds must be at least 1 and -d at least 1s")
	}
	if planned := time.Duration(n)*(o.warmup+time.Duration(o.rounds)*o.duration) + 20*time.Second; planned > o.timeout {
		return fmt.Errorf("%d targets × (-warmup %v + -rounds %d × -d %v) plus start-up is about %v, more than -timeout %v",
			n, o.warmup, o.rounds, o.duration, planned, o.timeout)
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

	wrap := func(name string, h http.Handler) http.Handler { return h }
	if o.cpuprofile != "" {
		wrap = labeled
	}
	targets, cleanup, err := startInProcess(ctx, wrap)
	defer cleanup()
	if err != nil {
		return err
	}
	if slices.Contains(o.targets, "example") {
		ex, err := startExample(ctx, o.example, filepath.Join(o.out, "example.log"))
		if ex != nil {
			defer ex.stop()
		}
		if err != nil {
			return fmt.Errorf("example: %w", err)
		}
		t, err := exampleTarget(ctx, ex.url)
		if err != nil {
			return fmt.Errorf("example: %w", err)
		}
		targets = append(targets, t)
	}
	byName := map[string]target{}
	for _, t := range targets {
		if err := checkTarget(ctx, t); err != nil {
			return err
		}
		byName[t.Name] = t
	}

	info := machineInfo(o)
	// Warm every target up, then run the rounds: each round runs every
	// target once, the order rotating from round to round, so that a slow
	// drift of the machine (other processes, frequency) falls on all of them
	// and each ratio compares runs taken side by side.
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
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	runs := map[string][]result{}
	for round := 0; round < o.rounds; round++ {
		for i := range o.targets {
			name := o.targets[(i+round)%len(o.targets)]
			t := byName[name]
			fmt.Printf("== round %d/%d %s: wrk -t%d -c%d -d%v %s\n", round+1, o.rounds, name, o.threads, o.conns, o.duration, t.URL)
			runtime.GC()
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
		sums = append(sums, summarize(runs[name]))
	}

	var table strings.Builder
	fmt.Fprintf(&table, "oidcauth load test: GET with one logged-in session cookie, on loopback\n%s\n\n", info)
	printTable(&table, sums, runs)
	fmt.Print("\n" + table.String())
	if err := os.WriteFile(filepath.Join(o.out, "results.txt"), []byte(table.String()), 0o644); err != nil {
		return err
	}
	if err := writeCSV(filepath.Join(o.out, "results.csv"), sums); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.out, "meta.txt"), []byte(info+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Printf("\nwrote %s (this table), results.csv and meta.txt; wrk's own output is in wrk-*.txt there\n", filepath.Join(o.out, "results.txt"))
	for _, s := range sums {
		if s.StatusErrors > 0 || s.SocketErrors > 0 {
			return fmt.Errorf("%s: %d responses were not 2xx/3xx and %d socket errors: its numbers are not those of logged-in requests", s.Name, s.StatusErrors, s.SocketErrors)
		}
	}
	return nil
}

// startInProcess starts the provider, logs in once through the real flow and
// starts the three servers, each handler wrapped by wrap. cleanup stops
// whatever was started, also when err is not nil.
func startInProcess(ctx context.Context, wrap func(name string, h http.Handler) http.Handler) (targets []target, cleanup func(), err error) {
	var closers []func()
	cleanup = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
		closers = nil
	}

	op, err := oidctest.NewProvider(oidctest.Config{}) // client "client"/"secret", user "alice"
	if err != nil {
		return nil, cleanup, fmt.Errorf("starting the provider: %w", err)
	}
	closers = append(closers, op.Close)

	serve := func(h http.Handler) (string, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		closers = append(closers, func() {
			c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(c)
		})
		return "http://" + ln.Addr().String(), nil
	}

	// The app that logs in: its own listener, so its redirect URL is known
	// before New. The other servers share its session manager and cookie
	// (a cookie is not bound to a port).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, cleanup, err
	}
	appURL := "http://" + ln.Addr().String()
	auth, err := oidcauth.New(ctx, op.Issuer,
		oidcauth.WithClientID("client"), oidcauth.WithClientSecret("secret"),
		oidcauth.WithRedirectURL(appURL+"/callback"),
		oidcauth.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if err != nil {
		ln.Close()
		return nil, cleanup, fmt.Errorf("oidcauth.New: %w", err)
	}

	hello := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, body)
	}
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hello(w) })
	// The floor a user writes by hand: a fresh scs.New() (memory store)
	// holding the claims as one []byte, read with one Get; and the same with
	// oidcauth's default idle timeout, with which scs writes the session
	// back on every request.
	floor := func(idle time.Duration) (http.Handler, string, error) {
		fm := scs.New()
		fm.IdleTimeout = idle
		fm.Cookie.Name = "floor"
		seed := fm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fm.Put(r.Context(), "claims", []byte(`{"sub":"alice","name":"Alice Example"}`))
		}))
		rec := httptest.NewRecorder()
		seed.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		cs := rec.Result().Cookies()
		if len(cs) != 1 {
			return nil, "", errors.New("the floor's session was not created")
		}
		return fm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if c, _ := fm.Get(r.Context(), "claims").([]byte); c == nil {
				http.Error(w, "no session", http.StatusInternalServerError)
				return
			}
			hello(w)
		})), cs[0].Name + "=" + cs[0].Value, nil
	}
	floorH, floorCookie, err := floor(0)
	if err != nil {
		return nil, cleanup, err
	}
	idleH, idleCookie, err := floor(oidcauth.DefaultIdleTimeout)
	if err != nil {
		return nil, cleanup, err
	}
	withAuth := auth.LoadAndSave(auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := oidcauth.ClaimsFromContext(r.Context()); !ok || c.Subject == "" {
			http.Error(w, "no claims", http.StatusInternalServerError)
			return
		}
		hello(w)
	})))

	mux := http.NewServeMux()
	mux.Handle("GET /callback", auth.CallbackHandler())
	mux.Handle("GET /me", withAuth)
	app := &http.Server{Handler: auth.LoadAndSave(mux), ReadHeaderTimeout: 5 * time.Second}
	go app.Serve(ln)
	closers = append(closers, func() {
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		app.Shutdown(c)
	})

	cookie, err := login(ctx, appURL+"/me", "")
	if err != nil {
		return nil, cleanup, fmt.Errorf("logging in: %w", err)
	}

	checkBody := func(status int, b string) error {
		if status != http.StatusOK || b != body {
			return fmt.Errorf("status %d, body %q; want 200 %q", status, b, body)
		}
		return nil
	}
	for _, s := range []struct {
		name, label, desc string
		h                 http.Handler
		cookie            string
	}{
		{"bare", "bare", "the handler alone", bare, cookie},
		{"floor", "scs floor", "a fresh scs.New(), no idle timeout, the claims as one []byte, one Get", floorH, floorCookie},
		{"floor-idle", "scs floor, idle", "the same with IdleTimeout 30 min: scs writes every request", idleH, idleCookie},
		{"oidcauth", "oidcauth", "auth.Require with oidcauth's defaults; the handler reads ClaimsFromContext", withAuth, cookie},
	} {
		u, err := serve(wrap(s.name, s.h))
		if err != nil {
			return nil, cleanup, err
		}
		targets = append(targets, target{Name: s.name, Label: s.label, Desc: s.desc, URL: u + "/me", Cookie: s.cookie, Check: checkBody})
	}
	return targets, cleanup, nil
}

// labeled runs h with the profiler label target=name, so that a CPU profile
// of the whole run can be split by target (go tool pprof -tagfocus
// target=oidcauth). It costs a context and a label set per request, so it is
// used only with -cpuprofile.
func labeled(name string, h http.Handler) http.Handler {
	labels := pprof.Labels("target", name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pprof.Do(r.Context(), labels, func(context.Context) { h.ServeHTTP(w, r) })
	})
}

// formAction finds the development provider's login form.
var formAction = regexp.MustCompile(`<form method="post" action="([^"]*)"`)

// login plays a browser: GET start, follow the redirects to the provider and
// back, post the provider's login form (as user) if it shows one, and stop
// at the first 200 of the app. It returns the Cookie header the browser
// then sends to the app.
func login(ctx context.Context, start, user string) (string, error) {
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	app, err := url.Parse(start)
	if err != nil {
		return "", err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, start, nil)
	for step := 0; step < 10; step++ {
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		here := resp.Request.URL
		switch {
		case resp.StatusCode == http.StatusFound || resp.StatusCode == http.StatusSeeOther:
			next, err := here.Parse(resp.Header.Get("Location"))
			if err != nil {
				return "", err
			}
			req, _ = http.NewRequestWithContext(ctx, http.MethodGet, next.String(), nil)
		case resp.StatusCode == http.StatusOK && here.Host == app.Host:
			var parts []string
			for _, c := range jar.Cookies(app) {
				parts = append(parts, c.Name+"="+c.Value)
			}
			if len(parts) == 0 {
				return "", errors.New("logged in, but the app set no cookie")
			}
			return strings.Join(parts, "; "), nil
		case resp.StatusCode == http.StatusOK && formAction.Match(b):
			if user == "" {
				return "", fmt.Errorf("%s shows a login form, but no user was given", here)
			}
			action, err := here.Parse(html.UnescapeString(string(formAction.FindSubmatch(b)[1])))
			if err != nil {
				return "", err
			}
			form := url.Values{"login": {user}, "password": {"dev"}}
			req, _ = http.NewRequestWithContext(ctx, http.MethodPost, action.String(), strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		default:
			return "", fmt.Errorf("%s %s: status %d: %.200s", req.Method, here, resp.StatusCode, b)
		}
	}
	return "", errors.New("no page of the app after 10 steps")
}

// checkTarget sends one request as wrk will and checks its answer.
func checkTarget(ctx context.Context, t target) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.URL, nil)
	req.Header.Set("Cookie", t.Cookie)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", t.Name, err)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err := t.Check(resp.StatusCode, string(b)); err != nil {
		return fmt.Errorf("%s: GET %s with the session cookie: %w", t.Name, t.URL, err)
	}
	return nil
}

// example is the example app, started as a process.
type example struct {
	cmd  *exec.Cmd
	url  string // http://127.0.0.1:PORT/
	done chan struct{}
}

var listeningURL = regexp.MustCompile(`\burl=(http://\S+)`)

// startExample starts bin (built from ./example) on a free loopback port
// with its development provider and in-memory sessions, its log in logPath,
// and waits until it listens. A non-nil example must be stopped.
func startExample(ctx context.Context, bin, logPath string) (*example, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	// Only ADDR: no OIDC_* or SESSION_* variable from this environment, so
	// the example uses its development provider and memory.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OIDC_") && !strings.HasPrefix(kv, "SESSION_") && !strings.HasPrefix(kv, "ADDR=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "ADDR=127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	ex := &example{cmd: cmd, done: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		defer close(ex.done)
		defer logf.Close()
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			if m := listeningURL.FindStringSubmatch(line); m != nil && strings.Contains(line, "listening") {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		io.Copy(logf, stderr)
		cmd.Wait()
	}()
	select {
	case ex.url = <-found:
		return ex, nil
	case <-ex.done:
		return ex, fmt.Errorf("%s exited before listening; its log is %s", bin, logPath)
	case <-time.After(30 * time.Second):
		return ex, fmt.Errorf("%s did not listen within 30s; its log is %s", bin, logPath)
	case <-ctx.Done():
		return ex, ctx.Err()
	}
}

// stop ends the example with SIGTERM (graceful shutdown), then SIGKILL
// after 10 seconds.
func (ex *example) stop() {
	ex.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-ex.done:
	case <-time.After(10 * time.Second):
		ex.cmd.Process.Kill()
		<-ex.done
	}
}

// exampleTarget logs in to the example as alice through its development
// provider's form and returns its GET /me.
func exampleTarget(ctx context.Context, base string) (target, error) {
	u, err := url.Parse(base)
	if err != nil {
		return target{}, err
	}
	me := u.JoinPath("me").String()
	cookie, err := login(ctx, me, "alice")
	if err != nil {
		return target{}, fmt.Errorf("logging in: %w", err)
	}
	return target{Name: "example", Label: "example /api/me", Desc: "the example app (another process): GET /api/me answers the claims as JSON",
		URL: u.JoinPath("api", "me").String(), Cookie: cookie, Check: func(status int, b string) error {
			if status != http.StatusOK || !strings.Contains(b, `"sub":"alice"`) {
				return fmt.Errorf("status %d, body %.200q; want 200 with alice's claims", status, b)
			}
			return nil
		}}, nil
}

// runWrk runs wrk for d on t, copies its output to w and parses the line
// report.lua prints.
func runWrk(ctx context.Context, wrk string, o options, d time.Duration, script string, t target, w io.Writer) (result, error) {
	args := []string{
		"-t" + strconv.Itoa(o.threads), "-c" + strconv.Itoa(o.conns),
		"-d" + strconv.Itoa(int(d.Round(time.Second)/time.Second)) + "s",
		"--latency", "-s", script, "-H", "Cookie: " + t.Cookie, t.URL,
	}
	// wrk stops itself after d; the context's deadline bounds it anyway.
	c, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(c, wrk, args...)
	out, err := cmd.CombinedOutput()
	// The cookie is a live session: keep it out of the saved output.
	w.Write([]byte(fmt.Sprintf("wrk -t%d -c%d -d%v --latency -s report.lua -H 'Cookie: <session>' %s\n\n",
		o.threads, o.conns, d, t.URL)))
	w.Write(out)
	if err != nil {
		return result{}, fmt.Errorf("wrk: %v: %s", err, out)
	}
	return parseWrk(t, out)
}

func parseWrk(t target, out []byte) (result, error) {
	r := result{target: t}
	for _, line := range strings.Split(string(out), "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "OIDCAUTH-LOAD ")
		if !ok {
			continue
		}
		v := map[string]float64{}
		for _, f := range strings.Fields(rest) {
			k, s, _ := strings.Cut(f, "=")
			x, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return r, fmt.Errorf("wrk report %q: %v", f, err)
			}
			v[k] = x
		}
		us := func(k string) time.Duration { return time.Duration(v[k] * float64(time.Microsecond)) }
		r.Requests = int64(v["requests"])
		r.Duration = us("duration_us")
		r.Mean, r.Max = us("mean_us"), us("max_us")
		r.P50, r.P90, r.P99 = us("p50_us"), us("p90_us"), us("p99_us")
		r.StatusErrors, r.SocketErrors = int64(v["status_errors"]), int64(v["socket_errors"])
		if r.Duration <= 0 || r.Requests == 0 {
			return r, fmt.Errorf("wrk made no requests: %s", out)
		}
		r.RPS = float64(r.Requests) / r.Duration.Seconds()
		return r, nil
	}
	return r, fmt.Errorf("no report line in wrk's output (is report.lua run?): %s", out)
}

func ms(d time.Duration) string { return strconv.FormatFloat(d.Seconds()*1000, 'f', 3, 64) }

func printTable(w io.Writer, ss []summary, runs map[string][]result) {
	fmt.Fprintf(w, "%-9s %10s %17s %8s %8s %8s  %s\n", "target", "req/s", "(min-max)", "p50 ms", "p90 ms", "p99 ms", "what")
	for _, s := range ss {
		fmt.Fprintf(w, "%-9s %10.0f %17s %8s %8s %8s  %s\n", s.Name, s.RPS, fmt.Sprintf("(%.0f-%.0f)", s.RPSMin, s.RPSMax),
			ms(s.P50), ms(s.P90), ms(s.P99), s.Desc)
	}
	if len(ss) > 0 {
		fmt.Fprintf(w, "(medians of %d interleaved runs per target)\n", ss[0].Rounds)
	}
	// ratio compares a with b round by round (runs taken side by side) and
	// gives the median and range of the ratios.
	ratio := func(a, b string) {
		x, y := runs[a], runs[b]
		if len(x) == 0 || len(x) != len(y) {
			return
		}
		var rps, p50, p90, p99 []float64
		for i := range x {
			rps = append(rps, x[i].RPS/y[i].RPS)
			p50 = append(p50, float64(x[i].P50)/float64(y[i].P50))
			p90 = append(p90, float64(x[i].P90)/float64(y[i].P90))
			p99 = append(p99, float64(x[i].P99)/float64(y[i].P99))
		}
		f := func(v []float64) string {
			if len(v) == 1 {
				return fmt.Sprintf("%.2fx", v[0])
			}
			return fmt.Sprintf("%.2fx (%.2f-%.2f)", median(v), slices.Min(v), slices.Max(v))
		}
		fmt.Fprintf(w, "%s / %s: throughput %s, latency p50 %s, p90 %s, p99 %s\n", a, b, f(rps), f(p50), f(p90), f(p99))
	}
	fmt.Fprintln(w)
	ratio("oidcauth", "floor")
	ratio("oidcauth", "floor-idle")
	ratio("example", "floor")
	ratio("example", "floor-idle")
	ratio("floor-idle", "floor")
	fmt.Fprintln(w, "(ratios: median over the rounds of each round's ratio, range in brackets)")
}

func writeCSV(path string, ss []summary) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(f)
	cw.Write([]string{"target", "label", "requests_per_s", "p50_ms", "p90_ms", "p99_ms", "mean_ms",
		"requests_per_s_min", "requests_per_s_max", "rounds", "requests", "status_errors", "socket_errors", "description"})
	for _, s := range ss {
		cw.Write([]string{s.Name, s.Label, strconv.FormatFloat(s.RPS, 'f', 1, 64),
			ms(s.P50), ms(s.P90), ms(s.P99), ms(s.Mean),
			strconv.FormatFloat(s.RPSMin, 'f', 1, 64), strconv.FormatFloat(s.RPSMax, 'f', 1, 64),
			strconv.Itoa(s.Rounds), strconv.FormatInt(s.Requests, 10),
			strconv.FormatInt(s.StatusErrors, 10), strconv.FormatInt(s.SocketErrors, 10),
			strings.ReplaceAll(s.Desc, ",", ";")})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// machineInfo is one line saying where and how the numbers were taken.
func machineInfo(o options) string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("wrk -t%d -c%d, %d runs of %v per target; %d CPUs (%s), shared by wrk and the servers; %s %s/%s; %s",
		o.threads, o.conns, o.rounds, o.duration, runtime.NumCPU(), cpu, runtime.Version(), runtime.GOOS, runtime.GOARCH,
		time.Now().UTC().Format("2006-01-02"))
}
