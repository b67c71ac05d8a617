//go:build linux

package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a server process started by the suite. It runs in its own process
// group, which stop ends as a whole, and it dies with the test binary
// (parent-death signal) if the suite itself is killed.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *logBuffer

	done    chan struct{}
	waitErr error

	stopOnce sync.Once
}

// startProc starts cmd with its stdout and stderr in a logBuffer that also
// goes to the file logPath (when not empty). extraStdout, when not nil, also
// receives stdout.
func startProc(name string, cmd *exec.Cmd, logPath string, extraStdout io.Writer) (*proc, error) {
	out, err := newLogBuffer(logPath)
	if err != nil {
		return nil, err
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	cmd.Stderr = out
	if extraStdout != nil {
		cmd.Stdout = io.MultiWriter(out, extraStdout)
	} else {
		cmd.Stdout = out
	}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the process group.
func (p *proc) signal(sig syscall.Signal) {
	if p.cmd.Process != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	}
}

// stop asks the process to end with sig (SIGTERM when 0), waits up to grace,
// then kills its whole process group. It is safe to call more than once.
func (p *proc) stop(sig syscall.Signal, grace time.Duration) {
	p.stopOnce.Do(func() {
		if sig == 0 {
			sig = syscall.SIGTERM
		}
		p.signal(sig)
		select {
		case <-p.done:
		case <-time.After(grace):
		}
		// Kill what is left of the group, the leader too if it still runs.
		p.signal(syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
		}
	})
}

// kill ends the process group at once.
func (p *proc) kill() { p.stop(syscall.SIGKILL, 0) }

// exitDescription says how the process ended, for error messages.
func (p *proc) exitDescription() string {
	if !p.exited() {
		return "still running"
	}
	var ee *exec.ExitError
	if errors.As(p.waitErr, &ee) {
		return ee.String()
	}
	if p.waitErr != nil {
		return p.waitErr.Error()
	}
	return "exit status 0"
}

// logBuffer keeps everything a process writes, in memory and in a file.
type logBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	file *os.File
}

func newLogBuffer(path string) (*logBuffer, error) {
	lb := &logBuffer{}
	if path != "" {
		f, err := os.Create(path)
		if err != nil {
			return nil, err
		}
		lb.file = f
	}
	return lb, nil
}

func (lb *logBuffer) Write(b []byte) (int, error) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.buf.Write(b)
	if lb.file != nil {
		lb.file.Write(b)
	}
	return len(b), nil
}

func (lb *logBuffer) Close() {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if lb.file != nil {
		lb.file.Close()
		lb.file = nil
	}
}

func (lb *logBuffer) String() string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.buf.String()
}

// tail returns the last n lines.
func (lb *logBuffer) tail(n int) string {
	lines := strings.Split(strings.TrimRight(lb.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// lineWriter calls fn with each complete line written to it.
type lineWriter struct {
	mu  sync.Mutex
	buf []byte
	fn  func(line string)
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := string(w.buf[:i])
		w.buf = w.buf[i+1:]
		w.fn(line)
	}
	return len(b), nil
}
