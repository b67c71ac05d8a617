package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// result is one wrk run of a target, with the server's CPU time (and
// Redis's) over the run.
type result struct {
	Requests                   int64
	Duration                   time.Duration
	RPS                        float64
	Mean, Max, P50, P90, P99   time.Duration
	StatusErrors, SocketErrors int64
	CPU, StoreCPU              time.Duration // the server's, Redis's
	StoreCalls                 int64         // Redis commands over the run
}

// perCPU is requests per second of the server's CPU time.
func (r result) perCPU() float64 {
	if r.CPU <= 0 {
		return 0
	}
	return float64(r.Requests) / r.CPU.Seconds()
}

// summary is a target's runs: the median of each number over the rounds.
type summary struct {
	*target
	Rounds                     int
	Requests                   int64
	RPS, PerCPU, PerCPUStore   float64
	PerCPUMin, PerCPUMax       float64
	Mean, P50, P90, P99        time.Duration
	StatusErrors, SocketErrors int64
	RSS                        int64   // after the last run
	RoundTrips                 float64 // Redis commands per request; -1: no Redis
}

func median[T int64 | float64 | time.Duration](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n == 0 {
		return 0
	} else if n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

func summarize(t *target, rs []result) summary {
	s := summary{target: t, Rounds: len(rs), RSS: t.rss, RoundTrips: -1}
	pick := func(f func(result) time.Duration) time.Duration {
		var xs []time.Duration
		for _, r := range rs {
			xs = append(xs, f(r))
		}
		return median(xs)
	}
	var rps, per, perStore []float64
	var calls int64
	for _, r := range rs {
		rps = append(rps, r.RPS)
		per = append(per, r.perCPU())
		if r.CPU+r.StoreCPU > 0 {
			perStore = append(perStore, float64(r.Requests)/(r.CPU+r.StoreCPU).Seconds())
		}
		s.Requests += r.Requests
		s.StatusErrors += r.StatusErrors
		s.SocketErrors += r.SocketErrors
		calls += r.StoreCalls
	}
	s.RPS, s.PerCPU, s.PerCPUStore = median(rps), median(per), median(perStore)
	s.PerCPUMin, s.PerCPUMax = slices.Min(per), slices.Max(per)
	s.Mean = pick(func(r result) time.Duration { return r.Mean })
	s.P50 = pick(func(r result) time.Duration { return r.P50 })
	s.P90 = pick(func(r result) time.Duration { return r.P90 })
	s.P99 = pick(func(r result) time.Duration { return r.P99 })
	if t.redis && s.Requests > 0 {
		s.RoundTrips = float64(calls) / float64(s.Requests)
	}
	return s
}

// runWrk runs wrk for d on t (pinned), copies its output to w and parses
// the line report.lua prints; it measures the server's CPU time (and
// Redis's, and Redis's command count) over the run.
func runWrk(ctx context.Context, wrk string, o options, d time.Duration, script string, t *target, w io.Writer) (result, error) {
	args := o.pin.command(o.pin.wrkCPU, wrk,
		"-t"+strconv.Itoa(o.threads), "-c"+strconv.Itoa(o.conns),
		"-d"+strconv.Itoa(int(d.Round(time.Second)/time.Second))+"s",
		"--latency", "-s", script, "-H", "Cookie: "+t.Cookie, t.URL)
	// wrk stops itself after d; the context's deadline bounds it anyway.
	c, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	pids := t.pids()
	cpu0, store0 := cpuOf(pids), storeCPU(t)
	calls0 := storeCalls(t)
	out, err := exec.CommandContext(c, args[0], args[1:]...).CombinedOutput()
	cpu1, store1 := cpuOf(pids), storeCPU(t)
	calls1 := storeCalls(t)
	// The cookie is a live session: keep it out of the saved output.
	fmt.Fprintf(w, "wrk -t%d -c%d -d%v --latency -s report.lua -H 'Cookie: <session>' %s\n\n", o.threads, o.conns, d, t.URL)
	w.Write(out)
	if err != nil {
		return result{}, fmt.Errorf("wrk: %v: %s", err, out)
	}
	r, err := parseWrk(out)
	r.CPU, r.StoreCPU, r.StoreCalls = cpu1-cpu0, store1-store0, calls1-calls0
	return r, err
}

func storeCPU(t *target) time.Duration {
	if !t.redis || t.redisServer == nil {
		return 0
	}
	return cpuOf([]int{t.redisServer.pid()})
}

func storeCalls(t *target) int64 {
	if !t.redis || t.redisServer == nil {
		return 0
	}
	n, _ := redisCalls(t.redisServer.url)
	return n
}

func parseWrk(out []byte) (result, error) {
	var r result
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

func mib(b int64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) }

// ratios compares a with b round by round (runs taken side by side): the
// median and range of the ratios of requests per server CPU-second.
func ratios(runs map[string][]result, a, b string) (med, lo, hi float64, ok bool) {
	x, y := runs[a], runs[b]
	if len(x) == 0 || len(x) != len(y) {
		return 0, 0, 0, false
	}
	var v []float64
	for i := range x {
		if y[i].perCPU() > 0 {
			v = append(v, x[i].perCPU()/y[i].perCPU())
		}
	}
	if len(v) == 0 {
		return 0, 0, 0, false
	}
	return median(v), slices.Min(v), slices.Max(v), true
}

func printTable(w io.Writer, ss []summary, runs map[string][]result) {
	rss := map[string]int64{}
	for _, s := range ss {
		rss[s.Name] = s.RSS
	}
	fmt.Fprintf(w, "%-17s %10s %8s %8s %9s %8s %8s %7s %6s %7s  %s\n",
		"target", "req/CPU-s", "vs floor", "vs idle", "req/s", "p50 ms", "p99 ms", "RSS MiB", "vs fl.", "store/r", "what")
	for _, s := range ss {
		vs := func(b string) string {
			if b == "" || b == s.Name {
				return "-"
			}
			if m, _, _, ok := ratios(runs, s.Name, b); ok {
				return fmt.Sprintf("%.2f", m)
			}
			return "-"
		}
		rt := "-"
		if s.RoundTrips >= 0 {
			rt = fmt.Sprintf("%.2f", s.RoundTrips)
		}
		rr := "-"
		if f := rss[s.floor]; f > 0 && s.RSS > 0 {
			rr = fmt.Sprintf("%.2f", float64(s.RSS)/float64(f))
		}
		fmt.Fprintf(w, "%-17s %10.0f %8s %8s %9.0f %8s %8s %7s %6s %7s  %s\n", s.Name, s.PerCPU, vs(s.floor), vs(s.idleFloor),
			s.RPS, ms(s.P50), ms(s.P99), mib(s.RSS), rr, rt, s.Desc)
	}
	if len(ss) > 0 {
		fmt.Fprintf(w, "(req/CPU-s: requests per second of the server's own CPU time, median of %d interleaved rounds;\n"+
			" vs floor, vs idle: median of each round's ratio to the scs floor without / with the idle timeout (with Redis: to the Redis floor);\n"+
			" RSS after the last round, vs fl.: to the floor's; store/r: Redis commands per request, from INFO commandstats)\n", ss[0].Rounds)
	}
	fmt.Fprintln(w)
	for _, p := range [][2]string{{"example", "floor"}, {"example", "floor-idle"}, {"oidcauth", "floor"}, {"oidcauth", "floor-idle"},
		{"example", "mod_auth_openidc"}, {"example-redis", "floor-redis"}, {"example-redis", "floor-redis-idle"}} {
		if m, lo, hi, ok := ratios(runs, p[0], p[1]); ok {
			fmt.Fprintf(w, "%s / %s: %.2fx per server CPU-second (rounds %.2f-%.2f)\n", p[0], p[1], m, lo, hi)
		}
	}
	for _, s := range ss {
		if s.PerCPUStore > 0 && s.redis {
			fmt.Fprintf(w, "%s: %.0f requests per CPU-second of the server and Redis together\n", s.Name, s.PerCPUStore)
		}
	}
}

func writeCSV(path string, ss []summary, runs map[string][]result) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(f)
	cw.Write([]string{"target", "label", "per_cpu_s", "vs_floor", "per_cpu_s_min", "per_cpu_s_max",
		"requests_per_s", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "rss_mib", "store_round_trips",
		"rounds", "requests", "status_errors", "socket_errors", "description"})
	for _, s := range ss {
		vs := ""
		if m, _, _, ok := ratios(runs, s.Name, s.floor); ok && s.floor != s.Name {
			vs = strconv.FormatFloat(m, 'f', 3, 64)
		} else if s.floor == s.Name {
			vs = "1"
		}
		rt := ""
		if s.RoundTrips >= 0 {
			rt = strconv.FormatFloat(s.RoundTrips, 'f', 3, 64)
		}
		cw.Write([]string{s.Name, s.Label, strconv.FormatFloat(s.PerCPU, 'f', 1, 64), vs,
			strconv.FormatFloat(s.PerCPUMin, 'f', 1, 64), strconv.FormatFloat(s.PerCPUMax, 'f', 1, 64),
			strconv.FormatFloat(s.RPS, 'f', 1, 64), ms(s.P50), ms(s.P90), ms(s.P99), ms(s.Mean), mib(s.RSS), rt,
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
func machineInfo(o options, extra string) string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = "; load average " + strings.Join(strings.Fields(string(b))[:3], " ")
	}
	s := fmt.Sprintf("wrk -t%d -c%d, %d interleaved rounds of %v per target; %s; %d CPUs (%s); %s %s/%s; %s%s",
		o.threads, o.conns, o.rounds, o.duration, o.pin, runtime.NumCPU(), cpu, runtime.Version(), runtime.GOOS, runtime.GOARCH,
		time.Now().UTC().Format("2006-01-02 15:04 MST"), load)
	if extra != "" {
		s += "; " + extra
	}
	return s
}
