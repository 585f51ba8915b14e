package baseline

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dittocache/ditto/benchmarks/upstream"
)

const body = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
const streamBody = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"stream":true}`

func call(t *testing.T, url, b string) (status, cache, text string) {
	t.Helper()
	resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Status, resp.Header.Get("X-Ditto-Cache"), string(out)
}

func checkCache(t *testing.T, h http.Handler, up *upstream.Server) {
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, b := range []string{body, streamBody} {
		_, c1, t1 := call(t, srv.URL, b)
		_, c2, t2 := call(t, srv.URL, b)
		if c1 != "MISS" || c2 != "HIT" || t1 != t2 {
			t.Errorf("%s: X-Ditto-Cache %q then %q, same body %v; want MISS, HIT, true", b, c1, c2, t1 == t2)
		}
	}
	if got := up.Stats().Requests; got != 2 {
		t.Errorf("upstream calls = %d, want 2", got)
	}
	if !strings.HasSuffix(strings.TrimSpace(func() string { _, _, s := call(t, srv.URL, streamBody); return s }()), "data: [DONE]") {
		t.Error("cached stream does not end with data: [DONE]")
	}
}

func TestMemory(t *testing.T) {
	up := upstream.New(upstream.Config{})
	us := httptest.NewServer(up)
	defer us.Close()
	checkCache(t, NewMemory(NewForwarder(us.URL, 0)), up)
}

func TestRedis(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command("redis-server", "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), DisableIdentity: true})
	defer rdb.Close()
	deadline := time.Now().Add(5 * time.Second)
	for rdb.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not answer PING")
		}
		time.Sleep(20 * time.Millisecond)
	}
	up := upstream.New(upstream.Config{})
	us := httptest.NewServer(up)
	defer us.Close()
	checkCache(t, NewRedis(NewForwarder(us.URL, 0), rdb, "bench:"), up)
}

func TestForwardersPassThrough(t *testing.T) {
	up := upstream.New(upstream.Config{Tokens: 4})
	us := httptest.NewServer(up)
	defer us.Close()
	rp, err := NewReverseProxy(us.URL)
	if err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]http.Handler{"forwarder": NewForwarder(us.URL, 0), "reverseproxy": rp} {
		srv := httptest.NewServer(h)
		for _, b := range []string{body, streamBody} {
			status, _, text := call(t, srv.URL, b)
			if status != "200 OK" || !strings.Contains(text, `"model":"gpt-4o-mini"`) {
				t.Errorf("%s: %s %q", name, status, text)
			}
		}
		if status, _, _ := call(t, srv.URL, `{`); status != "400 Bad Request" {
			t.Errorf("%s: malformed body status %s, want upstream's 400", name, status)
		}
		srv.Close()
	}
	if got := up.Stats().Requests; got != 4 {
		t.Errorf("upstream calls = %d, want 4", got)
	}
}
