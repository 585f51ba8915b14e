package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dittocache/ditto/internal/fakeopenai"
)

// reloadConfig routes model "smart" to the OpenAI-compatible server at
// base and admits the client key of tenant acme (and more keys, if any).
func reloadConfig(base string, keys ...string) string {
	var k strings.Builder
	for _, name := range append([]string{"acme"}, keys...) {
		fmt.Fprintf(&k, "    - {name: %s, tenant: %s, key_env: KEY_%s}\n", name, name, strings.ToUpper(name))
	}
	return fmt.Sprintf(`providers:
  openai:
    base_url: %s
routes:
  - model: smart
    provider: openai
    upstream_model: gpt-4o
auth:
  keys:
%s`, base, k.String())
}

// TestReloadOnSIGHUP: requests keep flowing while SIGHUP reloads the
// config file; none fails, the new route (another upstream) and the new
// key serve right after, and a broken file keeps the running config.
func TestReloadOnSIGHUP(t *testing.T) {
	first, second := fakeopenai.New(t), fakeopenai.New(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "ditto.yaml")
	write := func(s string) {
		t.Helper()
		// Write and rename, as editors and config management do, so the
		// reload never reads half a file.
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write(reloadConfig(first.BaseURL()))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := envMap(map[string]string{"DITTO_ADDR": addr, "DITTO_CONFIG": path, "OPENAI_API_KEY": "sk-upstream",
		"KEY_ACME": "sk-acme-reload-0123456789", "KEY_BETA": "sk-beta-reload-0123456789"})
	ctx, cancel := context.WithCancel(context.Background())
	var logs syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, nil, env, &bytes.Buffer{}, &logs) }()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("exit code %d, logs:\n%s", code, logs.String())
		}
	}()
	ask := func(key string) (int, error) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/chat/completions",
			strings.NewReader(`{"model":"smart","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Cache-Control", "no-store") // every request reaches an upstream
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, _ := ask("sk-acme-reload-0123456789"); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway did not come up; logs:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, _ := ask("sk-beta-reload-0123456789"); code != 401 {
		t.Fatalf("beta before the reload: %d, want 401", code)
	}

	// Load from 4 clients through both reloads.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent, failed atomic.Int64
	var firstErr atomic.Value
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, err := ask("sk-acme-reload-0123456789")
				sent.Add(1)
				if err != nil || code != 200 {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d, err %v", code, err))
				}
			}
		}()
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: timed out; logs:\n%s", what, logs.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("load on the first upstream", func() bool { return first.Calls() > 20 })

	write(reloadConfig(second.BaseURL(), "beta"))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor("the reloaded route on the second upstream", func() bool { return second.Calls() > 20 })
	waitFor("the reload's log line", func() bool { return strings.Contains(logs.String(), "config reloaded") })
	if code, err := ask("sk-beta-reload-0123456789"); code != 200 {
		t.Errorf("beta after the reload: %d %v, want 200", code, err)
	}

	// A broken file: the running config stays, and the log says why.
	write("routes: [ {model: smart, provider: nope\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor("the failed reload's log line", func() bool { return strings.Contains(logs.String(), "config reload failed") })
	before := second.Calls()
	waitFor("load still on the second upstream", func() bool { return second.Calls() > before+20 })
	close(stop)
	wg.Wait()
	if code, err := ask("sk-beta-reload-0123456789"); code != 200 {
		t.Errorf("beta after the failed reload: %d %v, want 200 (old config kept)", code, err)
	}
	if n := failed.Load(); n != 0 {
		t.Errorf("%d of %d requests failed during the reloads (first: %v)", n, sent.Load(), firstErr.Load())
	}
	t.Logf("%d requests during two reloads, none failed", sent.Load())
}
