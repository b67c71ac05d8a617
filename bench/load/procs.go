package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pinning says where wrk and the servers run: wrk on one CPU, every server
// (and Redis) on another, each Go server with GOMAXPROCS=1. Without taskset
// or with one CPU, nothing is pinned.
type pinning struct {
	on                bool
	wrkCPU, serverCPU int
	taskset           string
}

// command returns argv run on cpu when pinning is on.
func (p pinning) command(cpu int, argv ...string) []string {
	if !p.on {
		return argv
	}
	return append([]string{p.taskset, "-c", strconv.Itoa(cpu)}, argv...)
}

func (p pinning) String() string {
	if !p.on {
		return "not pinned (no taskset or one CPU): wrk and the servers share the CPUs"
	}
	return fmt.Sprintf("wrk pinned to CPU %d, each server (and Redis) to CPU %d, Go servers with GOMAXPROCS=1", p.wrkCPU, p.serverCPU)
}

// server is a process under load (or Redis): its log, and the way to
// stop it.
type server struct {
	name string
	cmd  *exec.Cmd
	url  string // http://127.0.0.1:PORT, once it listens
	done chan struct{}
}

// startServer starts argv with env added to this environment (without
// OIDC_*, SESSION_*, ADDR and GOMAXPROCS, which only env sets), copies its
// stdout and stderr to logPath, and waits until a line of its output
// matches ready (its first group is the URL). A non-nil server must be
// stopped.
func startServer(ctx context.Context, name string, argv, env []string, logPath string, ready *regexp.Regexp) (*server, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OIDC_") && !strings.HasPrefix(kv, "SESSION_") && !strings.HasPrefix(kv, "ADDR=") && !strings.HasPrefix(kv, "GOMAXPROCS=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw, err := os.Pipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		logf.Close()
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	pw.Close()
	s := &server{name: name, cmd: cmd, done: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		defer close(s.done)
		defer logf.Close()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			if m := ready.FindStringSubmatch(line); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		io.Copy(logf, pr)
		cmd.Wait()
	}()
	select {
	case s.url = <-found:
		return s, nil
	case <-s.done:
		return s, fmt.Errorf("%s exited before listening; its log is %s", name, logPath)
	case <-time.After(30 * time.Second):
		return s, fmt.Errorf("%s did not listen within 30s; its log is %s", name, logPath)
	case <-ctx.Done():
		return s, ctx.Err()
	}
}

// pid is the process itself; with taskset in front, taskset execs it, so
// it is the same process.
func (s *server) pid() int { return s.cmd.Process.Pid }

// stop ends the server's process group with SIGTERM, then SIGKILL after
// 10 seconds.
func (s *server) stop() {
	syscall.Kill(-s.pid(), syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-s.pid(), syscall.SIGKILL)
		<-s.done
	}
}

// clockTick is USER_HZ, the unit of /proc/PID/stat's times (100 on Linux).
const clockTick = 100

// procStat reads a process's parent and its user+system CPU time.
func procStat(pid int) (ppid int, cpu time.Duration, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0, errors.New("unreadable /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return 0, 0, errors.New("short /proc stat")
	}
	ppid, _ = strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ppid, time.Duration(ut+st) * time.Second / clockTick, nil
}

// tree is pid and its children (Apache's workers), one level down.
func tree(pid int) []int {
	pids := []int{pid}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		p, err := strconv.Atoi(filepath.Base(d))
		if err != nil || p == pid {
			continue
		}
		if ppid, _, err := procStat(p); err == nil && ppid == pid {
			pids = append(pids, p)
		}
	}
	return pids
}

// cpuOf is the CPU time used so far by the processes.
func cpuOf(pids []int) time.Duration {
	var sum time.Duration
	for _, p := range pids {
		if _, c, err := procStat(p); err == nil {
			sum += c
		}
	}
	return sum
}

// rssOf is the resident memory of the processes: VmRSS for one process,
// the sum of their PSS (shared pages divided among them) for several, so
// that Apache's workers do not count the same pages twice.
func rssOf(pids []int) int64 {
	if len(pids) == 1 {
		return statusKB(fmt.Sprintf("/proc/%d/status", pids[0]), "VmRSS:") * 1024
	}
	var sum int64
	for _, p := range pids {
		sum += statusKB(fmt.Sprintf("/proc/%d/smaps_rollup", p), "Pss:") * 1024
	}
	return sum
}

func statusKB(path, field string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}
