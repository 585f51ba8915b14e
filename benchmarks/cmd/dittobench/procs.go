package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a child server process the driver started.
type proc struct {
	name    string
	cmd     *exec.Cmd
	origin  string // http://127.0.0.1:port
	logPath string
	exited  chan struct{}
}

// procs tracks every child so all are stopped on the way out.
type procs struct {
	mu  sync.Mutex
	all []*proc
	n   int    // children started, numbers the logs
	dir string // logs go here
}

// start runs name with args and env; when ready is nil it waits for the
// child's first stdout line "listening http://…", else it calls ready.
func (ps *procs) start(ctx context.Context, name, path string, args, env []string, ready func(context.Context, *proc) error) (*proc, error) {
	ps.mu.Lock()
	ps.n++
	logPath := fmt.Sprintf("%s/%02d-%s.log", ps.dir, ps.n, name)
	ps.mu.Unlock()
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	var stdout io.ReadCloser
	if ready == nil {
		if stdout, err = cmd.StdoutPipe(); err != nil {
			logf.Close()
			return nil, err
		}
	} else {
		cmd.Stdout = logf
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	ps.mu.Lock()
	ps.all = append(ps.all, p)
	ps.mu.Unlock()
	go func() { cmd.Wait(); logf.Close(); close(p.exited) }()

	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if ready == nil {
		line := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			if sc.Scan() {
				line <- sc.Text()
			}
			close(line)
			io.Copy(io.Discard, stdout)
		}()
		select {
		case l := <-line:
			origin, ok := strings.CutPrefix(l, "listening ")
			if !ok {
				err = fmt.Errorf("%s: unexpected first line %q", name, l)
			}
			p.origin = origin
		case <-ctx.Done():
			err = fmt.Errorf("%s: not listening after 20s", name)
		}
	} else {
		err = ready(ctx, p)
	}
	if err != nil {
		ps.stop(p)
		return nil, fmt.Errorf("%w\n%s", err, tail(logPath, 15))
	}
	return p, nil
}

// stop ends p: SIGTERM, then SIGKILL after 3 s.
func (ps *procs) stop(p *proc) {
	if p == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(3 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

func (ps *procs) stopAll() {
	ps.mu.Lock()
	all := ps.all
	ps.all = nil
	ps.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range all {
		wg.Go(func() { ps.stop(p) })
	}
	wg.Wait()
}

// waitHTTP polls url until it answers 200.
func waitHTTP(ctx context.Context, p *proc, url string) error {
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited during start-up (%v)", p.name, p.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("%s: %s not ready: %v", p.name, url, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// freePort returns a loopback port that was free a moment ago, for children
// that take their address from a flag or variable.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  | " + strings.Join(lines, "\n  | ")
}

// baseEnv is the environment every child gets: enough to run, nothing that
// could point a child at a real provider or another config.
func baseEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "GOCACHE", "GOPATH", "GOMODCACHE", "GOFLAGS", "GOTOOLCHAIN", "GOPROXY"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}
