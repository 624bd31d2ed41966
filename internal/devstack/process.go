package devstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is a child server process whose output goes to a log file.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	waitErr error
}

// startProcess starts bin with args and env (added to the current
// environment) in its own process group, writing its output to logPath.
func startProcess(name, bin string, args, env []string, logPath string) (*process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("%s: log file: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("%s: starting %s: %w", name, bin, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid returns the process ID.
func (p *process) Pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// LogTail returns the last n lines of the log file at path, or a note
// that there is no log when it cannot be read: for error messages that
// show why a server did not start.
func LogTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// failure describes why the process is not usable, with its log tail.
func (p *process) failure(what string) error {
	state := "running"
	if p.exited() {
		state = fmt.Sprintf("exited (%v)", p.waitErr)
	}
	return fmt.Errorf("%s (pid %d, %s): %s; last lines of %s:\n%s", p.name, p.Pid(), state, what, p.logPath, LogTail(p.logPath, 15))
}

// errPortTaken marks a child server that exited because its port was
// taken: between freePort closing its listener and the child binding the
// port, another process can take it (another stack's server, or any
// outgoing connection, whose local port comes from the same ephemeral
// range).
var errPortTaken = errors.New("its port was taken before it could bind it")

// waitReady polls check every 20ms until it succeeds, the process exits
// or timeout passes. A process that exited saying "address already in
// use" is errPortTaken.
func (p *process) waitReady(ctx context.Context, timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		if p.exited() {
			err := p.failure("exited before it answered")
			if b, _ := os.ReadFile(p.logPath); bytes.Contains(b, []byte("address already in use")) {
				return fmt.Errorf("%w: %w", errPortTaken, err)
			}
			return err
		}
		if last = check(); last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return p.failure(fmt.Sprintf("no answer within %v (last error: %v)", timeout, last))
		}
		select {
		case <-ctx.Done():
			return p.failure(fmt.Sprintf("waiting for it to answer: %v", ctx.Err()))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after grace.
func (p *process) stop(grace time.Duration) error {
	if p.exited() {
		return nil
	}
	pgid := p.Pid()
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		syscall.Kill(-pgid, syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, pgid)
		}
	}
	// Kill anything the process left behind in its group.
	syscall.Kill(-pgid, syscall.SIGKILL)
	return nil
}

// freePort returns a TCP port free on all interfaces at the time of the
// call.
func freePort() (int, error) {
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// onFreePort starts a child server with start on port or, when port is
// 0, on a port freePort picks, and again on a newly picked one, three
// times in all, while it exits because the port was taken (errPortTaken).
// The process start returns is then the stack's, with its port, to stop:
// it may be running even when start also returns an error. onFreePort
// returns the port of the last try.
func (s *Stack) onFreePort(port int, start func(port int) (*process, error)) (int, error) {
	pick := port == 0
	var err error
	for range 3 {
		if pick {
			if port, err = freePort(); err != nil {
				return 0, err
			}
		}
		var p *process
		p, err = start(port)
		if errors.Is(err, errPortTaken) {
			if pick {
				continue // it has exited
			}
			return port, err
		}
		if p != nil {
			s.procs = append(s.procs, p)
			s.ports = append(s.ports, port)
		}
		return port, err
	}
	return port, err
}

// checkPortFree returns a clear error when port is taken on any
// interface (the servers that bind 0.0.0.0 would fail on it).
func checkPortFree(what string, port int) error {
	l, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		return fmt.Errorf("%s: port %d is busy (%w); choose another port or 0 for a free one", what, port, err)
	}
	l.Close()
	return nil
}

// portOpen reports whether something accepts TCP connections on
// 127.0.0.1:port.
func portOpen(port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// waitPortsClosed waits up to timeout until no port accepts connections.
func waitPortsClosed(ports []int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var open []string
		for _, p := range ports {
			if p != 0 && portOpen(p) {
				open = append(open, strconv.Itoa(p))
			}
		}
		if len(open) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ports still open after stop: %s", strings.Join(open, ", "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lastLines returns the last n lines of b.
func lastLines(b []byte, n int) string {
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

var errNotReady = errors.New("not ready")
