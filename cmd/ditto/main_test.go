package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envMap(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestVersionAndUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"version"}, envMap(nil), &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "ditto ") {
		t.Errorf("version: code %d out %q", code, out.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"frobnicate"}, envMap(nil), &out, &errb); code != 2 || !strings.Contains(errb.String(), "unknown command") {
		t.Errorf("unknown command: code %d err %q", code, errb.String())
	}
}

func TestKeyCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	a := write("a.json", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stop":"x"}`)
	b := write("b.json", `{"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"model":"gpt-4o","stop":["x"],"temperature":1,"stream":true}`)
	c := write("c.json", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stop":"x","temperature":0.3}`)
	bad := write("bad.json", `{"model":`)

	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"key", a}, envMap(nil), &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "key:       ditto:v") || !strings.Contains(out.String(), `"content":"hi"`) {
		t.Errorf("key A: code %d\n%s%s", code, out.String(), errb.String())
	}
	out.Reset()
	run(context.Background(), []string{"key", a, b}, envMap(nil), &out, &errb)
	if !strings.Contains(out.String(), "same key") {
		t.Errorf("key A B: %s", out.String())
	}
	out.Reset()
	run(context.Background(), []string{"key", a, c}, envMap(nil), &out, &errb)
	if !strings.Contains(out.String(), "different keys") || !strings.Contains(out.String(), "temperature") {
		t.Errorf("key A C should name temperature:\n%s", out.String())
	}
	errb.Reset()
	if code := run(context.Background(), []string{"key", bad}, envMap(nil), &out, &errb); code != 1 || errb.Len() == 0 {
		t.Errorf("bad file: code %d err %q", code, errb.String())
	}
}

func TestServeRejectsBadConfig(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"serve"}, envMap(map[string]string{"DITTO_ADDR": "nonsense", "REDIS_URL": "http://u:hunter2@x"}), &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "server.addr") || !strings.Contains(errb.String(), "cache.redis.url") {
		t.Errorf("bad config: code %d err %q", code, errb.String())
	}
	if strings.Contains(errb.String(), "hunter2") {
		t.Error("startup error reveals the Redis password")
	}
}

// TestServeAndGracefulShutdown starts the real command on a free port,
// checks it answers, then cancels it like SIGTERM and expects a clean exit.
func TestServeAndGracefulShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var logs bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, nil, envMap(map[string]string{"DITTO_ADDR": addr, "OPENAI_API_KEY": "sk-canary-main-test"}), &bytes.Buffer{}, &logs)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway did not come up: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit code %d, logs:\n%s", code, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("gateway did not stop after cancellation")
	}
	if strings.Contains(logs.String(), "sk-canary-main-test") {
		t.Error("logs reveal the provider key")
	}
}
