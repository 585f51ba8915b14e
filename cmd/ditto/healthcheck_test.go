package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestProbeAddr(t *testing.T) {
	tests := []struct {
		give    string
		want    string
		wantErr bool
	}{
		{give: "0.0.0.0:8080", want: "127.0.0.1:8080"},
		{give: ":8080", want: "127.0.0.1:8080"},
		{give: "[::]:8080", want: "127.0.0.1:8080"},
		{give: "127.0.0.1:9000", want: "127.0.0.1:9000"},
		{give: "10.1.2.3:9000", want: "10.1.2.3:9000"},
		{give: "[::1]:8080", want: "[::1]:8080"},
		{give: "localhost:8080", want: "localhost:8080"},
		{give: "nonsense", wantErr: true},
		{give: "127.0.0.1:0", wantErr: true},
		{give: "127.0.0.1:", wantErr: true},
	}
	for _, tt := range tests {
		got, err := probeAddr(tt.give)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("probeAddr(%q) = %q, %v, want %q (error: %v)", tt.give, got, err, tt.want, tt.wantErr)
		}
	}
}

// healthServer answers every request with status and body, and returns its
// port.
func healthServer(t *testing.T, status int, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" && r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	return port
}

func TestHealthcheck(t *testing.T) {
	okPort := healthServer(t, http.StatusOK, `{"status":"ok"}`)
	badPort := healthServer(t, http.StatusServiceUnavailable, `{"status":"down"}`)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	cfgFile := filepath.Join(t.TempDir(), "ditto.yaml")
	if err := os.WriteFile(cfgFile, []byte("server:\n  addr: 0.0.0.0:"+okPort+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		give     []string
		env      map[string]string
		want     int
		wantOut  string
		wantErrs string
	}{
		{name: "healthy, explicit address", give: []string{"-addr", "127.0.0.1:" + okPort}, want: 0, wantOut: `{"status":"ok"}`},
		{name: "wildcard DITTO_ADDR dials loopback", env: map[string]string{"DITTO_ADDR": "0.0.0.0:" + okPort}, want: 0, wantOut: "ok"},
		{name: "address from the config file", env: map[string]string{"DITTO_CONFIG": cfgFile}, want: 0, wantOut: "ok"},
		{name: "readyz path", give: []string{"-addr", ":" + okPort, "-path", "/readyz"}, want: 0, wantOut: "ok"},
		{name: "unknown path is unhealthy", give: []string{"-addr", ":" + okPort, "-path", "/nope"}, want: 1, wantErrs: "404"},
		{name: "503 is unhealthy", give: []string{"-addr", "127.0.0.1:" + badPort}, want: 1, wantErrs: "503"},
		{name: "nothing listening", give: []string{"-addr", closedAddr}, want: 1, wantErrs: "refused"},
		{name: "bad configuration", env: map[string]string{"DITTO_ADDR": "nonsense"}, want: 1, wantErrs: "server.addr"},
		{name: "stray argument", give: []string{"extra"}, want: 2, wantErrs: "usage"},
		{name: "zero timeout", give: []string{"-timeout", "0s"}, want: 2, wantErrs: "usage"},
		{name: "relative path", give: []string{"-path", "healthz"}, want: 2, wantErrs: "usage"},
		{name: "unknown flag", give: []string{"-frobnicate"}, want: 2, wantErrs: "frobnicate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			got := run(context.Background(), append([]string{"healthcheck"}, tt.give...), envMap(tt.env), &out, &errb)
			if got != tt.want {
				t.Errorf("ditto healthcheck %v = %d, want %d (stdout %q, stderr %q)", tt.give, got, tt.want, out.String(), errb.String())
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("ditto healthcheck %v stdout = %q, want it to contain %q", tt.give, out.String(), tt.wantOut)
			}
			if !strings.Contains(errb.String(), tt.wantErrs) {
				t.Errorf("ditto healthcheck %v stderr = %q, want it to contain %q", tt.give, errb.String(), tt.wantErrs)
			}
		})
	}
}

// TestHealthcheckTimeout: a gateway that accepts but never answers is
// unhealthy once -timeout passes, not a hung probe.
func TestHealthcheckTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), []string{"healthcheck", "-addr", srv.Listener.Addr().String(), "-timeout", "100ms"}, envMap(nil), &out, &errb)
	}()
	select {
	case code := <-done:
		if code != 1 || !strings.Contains(errb.String(), "deadline exceeded") {
			t.Errorf("ditto healthcheck on a silent server = %d (stderr %q), want 1 and a deadline error", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ditto healthcheck -timeout 100ms did not return")
	}
}

// TestHealthcheckAgainstGateway probes the real gateway as the image does:
// the gateway listens on loopback, the probe reads the wildcard address the
// container sets (DITTO_ADDR=0.0.0.0:PORT) and dials 127.0.0.1.
func TestHealthcheckAgainstGateway(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, nil, envMap(map[string]string{"DITTO_ADDR": "127.0.0.1:" + port}), &bytes.Buffer{}, &bytes.Buffer{})
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("gateway exit code %d, want 0", code)
		}
	}()
	probe := func(path string) (int, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"healthcheck", "-path", path}, envMap(map[string]string{"DITTO_ADDR": "0.0.0.0:" + port}), &out, &errb)
		return code, out.String() + errb.String()
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, msg := probe("/healthz")
		if code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ditto healthcheck never succeeded: %s", msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, msg := probe("/readyz"); code != 0 || !strings.Contains(msg, `"ready"`) {
		t.Errorf("ditto healthcheck -path /readyz = %d (%s), want 0 and ready", code, msg)
	}
}
