// Package redistest runs a throwaway redis-server on loopback for tests.
package redistest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a redis-server child process listening on 127.0.0.1. Its methods
// are safe for concurrent use.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	bus  int      // cluster bus port, 0 outside a cluster
	conf string   // config file, first on the command line ("" for none)
	args []string // appended after the defaults

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd exits
	out  *bytes.Buffer

	admin *redis.Client // for the package's own polling; closed by stop
}

// Start runs redis-server (no persistence) on a free loopback port, waits
// until it answers PING and stops it when the test ends. Extra args are
// appended to the command line (e.g. "--cluster-enabled", "yes"); the
// working directory is a fresh temporary one. Without redis-server on PATH
// it skips the test, or fails it when REQUIRE_REDIS=1.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	bin := redisServer(t)
	s := &Server{t: t, bin: bin, dir: t.TempDir(), args: args}
	t.Cleanup(s.stop)
	if err := s.startFree(nil); err != nil {
		t.Fatalf("redistest: %v", err)
	}
	return s
}

// redisServer finds redis-server, or skips (fails with REQUIRE_REDIS=1).
func redisServer(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("REQUIRE_REDIS") == "1" {
			t.Fatal("redis-server not found and REQUIRE_REDIS=1")
		}
		t.Skip("redis-server not found; install it (apt-get install redis-server) or see .ci/run")
	}
	return bin
}

// startFree picks a free port and starts the server on it; the port can be
// taken between probing and binding, so it tries three times. prepare, if
// non-nil, runs once the port is chosen (to write a config file naming it).
func (s *Server) startFree(prepare func() error) error {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		s.port, err = freePort()
		if err == nil && prepare != nil {
			err = prepare()
		}
		if err == nil {
			err = s.start()
		}
		if err == nil {
			return nil
		}
	}
	return err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start launches redis-server on s.port and waits for PING.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := new(bytes.Buffer)
	var args []string
	if s.conf != "" {
		args = append(args, s.conf)
	}
	args = append(args, []string{
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--loglevel", "warning",
	}...)
	args = append(args, s.args...)
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = out, out // safe: only the exec copier writes before Wait returns
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.done, s.out = cmd, done, out

	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, DialerRetries: 1, DisableIdentity: true})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("redis-server on port %d exited: %s", s.port, out.String())
		default:
		}
		if time.Now().After(deadline) {
			s.killLocked()
			return fmt.Errorf("redis-server on port %d did not answer PING: %v", s.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Addr returns "127.0.0.1:PORT".
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// URL returns "redis://127.0.0.1:PORT".
func (s *Server) URL() string {
	return "redis://" + s.Addr()
}

// Client returns a new client for the server, closed when the test ends. It
// neither retries nor re-dials, so calls fail fast while the server is down.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, DialerRetries: 1, DisableIdentity: true})
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

// Reads returns how many reads from its clients' sockets the server has
// processed since it started (INFO stats total_reads_processed): one per
// round trip, however many commands a pipeline carries. It fails the test
// when the server cannot say.
func (s *Server) Reads() int64 {
	s.t.Helper()
	info, err := s.adminClient().Info(context.Background(), "stats").Result()
	if err != nil {
		s.t.Fatalf("redistest: INFO stats: %v", err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "total_reads_processed:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				s.t.Fatalf("redistest: total_reads_processed %q", v)
			}
			return n
		}
	}
	s.t.Fatal("redistest: no total_reads_processed in INFO stats")
	return 0
}

// ReadsDuring calls f(w, i) for every i < each on each of workers
// goroutines at once (a goroutine stops at its first false) and returns
// how many reads the server processed meanwhile (see Reads).
func (s *Server) ReadsDuring(workers, each int, f func(w, i int) bool) int64 {
	s.t.Helper()
	before := s.Reads()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 0; i < each && f(w, i); i++ {
			}
		})
	}
	wg.Wait()
	return s.Reads() - before
}

// Kill stops the server with SIGKILL and waits until it has exited.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killLocked()
}

func (s *Server) killLocked() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
	s.cmd = nil
}

// Restart starts a killed server again on the same port, with an empty
// data set. It fails the test if the server cannot start.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	if err := s.start(); err != nil {
		s.t.Fatalf("redistest: restart: %v", err)
	}
}

// adminClient returns the server's client for redistest's own commands,
// made once.
func (s *Server) adminClient() *redis.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.admin == nil {
		s.admin = redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, DialerRetries: 1, DisableIdentity: true})
	}
	return s.admin
}

func (s *Server) stop() {
	s.Kill()
	s.mu.Lock()
	if s.admin != nil {
		_ = s.admin.Close()
	}
	s.mu.Unlock()
	if s.t.Failed() && s.out != nil {
		s.t.Logf("redis-server output:\n%s", s.out.String())
	}
}
