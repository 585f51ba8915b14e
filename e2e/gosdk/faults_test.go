package gosdk

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dittocache/ditto/internal/fakeopenai"
	"github.com/dittocache/ditto/internal/redistest"
)

// scrape returns the gateway's /metrics text.
func scrape(t *testing.T, e *env) string {
	t.Helper()
	resp, err := http.Get(e.gw.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// metricValue finds a sample line starting with prefix and returns its value
// text ("" when absent).
func metricValue(text, prefix string) string {
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, prefix) {
			f := strings.Fields(line)
			return f[len(f)-1]
		}
	}
	return ""
}

// An entry's bytes copied under another request's key, or with one byte
// flipped, are never served: each is counted and answered from upstream.
func TestRedisEntriesAreBoundToTheirRequests(t *testing.T) {
	rs := redistest.Start(t)
	e := newEnv(t, withRedis(rs.URL()))
	e.up.SetEcho(true)
	ctx := context.Background()
	rc := rs.Client()

	_, hA := e.complete(t, userMessage("alice's private question"))
	_, hB := e.complete(t, userMessage("bob's question"))
	keyA, keyB := hA.Get("X-Ditto-Cache-Key"), hB.Get("X-Ditto-Cache-Key")
	valA, err := rc.Get(ctx, keyA).Bytes()
	if err != nil {
		t.Fatalf("entry A not in Redis under %s: %v", keyA, err)
	}
	// Copy A's entry over B's.
	if err := rc.Set(ctx, keyB, valA, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	c, h := e.complete(t, userMessage("bob's question"))
	if h.Get("X-Ditto-Cache") != "MISS" || c.Choices[0].Message.Content != fakeopenai.EchoAnswer("bob's question") {
		t.Fatalf("bob after the copy: %s %q — another request's entry was served", h.Get("X-Ditto-Cache"), c.Choices[0].Message.Content)
	}
	if got := metricValue(scrape(t, e), "ditto_cache_digest_mismatches_total"); got != "1" {
		t.Errorf("digest mismatches counted = %q, want 1", got)
	}
	// Flip one byte of A's answer text in place.
	corrupt := append([]byte(nil), valA...)
	i := strings.Index(string(corrupt), "alice")
	corrupt[i] = 'A'
	if err := rc.Set(ctx, keyA, corrupt, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	c, h = e.complete(t, userMessage("alice's private question"))
	if h.Get("X-Ditto-Cache") != "MISS" || c.Choices[0].Message.Content != fakeopenai.EchoAnswer("alice's private question") {
		t.Fatalf("alice after corruption: %s %q", h.Get("X-Ditto-Cache"), c.Choices[0].Message.Content)
	}
	if got := metricValue(scrape(t, e), `ditto_store_errors_total{ditto_store_operation="get"`); got != "1" {
		t.Errorf("store get errors counted = %q, want 1 (the corrupt value)", got)
	}
	// The next fill overwrote the bad values: both are hits again.
	for _, p := range []string{"alice's private question", "bob's question"} {
		if _, h := e.complete(t, userMessage(p)); h.Get("X-Ditto-Cache") != "HIT" {
			t.Errorf("%q after refill: %s, want HIT", p, h.Get("X-Ditto-Cache"))
		}
	}
}

// A Redis that stops answering (DEBUG SLEEP blocks the server) must not fail
// requests: they are answered from the provider while it hangs, and the
// cache works again after.
func TestRedisHangFailsOpen(t *testing.T) {
	rs := redistest.Start(t, "--enable-debug-command", "yes")
	e := newEnv(t, withRedis(rs.URL()))
	e.up.SetEcho(true)
	e.complete(t, userMessage("warm"))

	sleeper := rs.Client()
	var wg sync.WaitGroup
	wg.Add(1)
	var sleepErr error
	go func() {
		defer wg.Done()
		// Blocks redis-server itself for 3 s; this client's own call waits too.
		sleepErr = sleeper.WithTimeout(10*time.Second).Do(context.Background(), "DEBUG", "SLEEP", "3").Err()
	}()
	time.Sleep(100 * time.Millisecond) // let the server start sleeping
	for i := 0; i < 6; i++ {
		p := "during the hang " + string(rune('a'+i))
		c, h := e.complete(t, userMessage(p))
		if c.Choices[0].Message.Content != fakeopenai.EchoAnswer(p) {
			t.Fatalf("request %d while Redis hangs: %q", i, c.Choices[0].Message.Content)
		}
		if s := h.Get("X-Ditto-Cache"); s != "MISS" {
			t.Errorf("request %d while Redis hangs: %s, want MISS", i, s)
		}
	}
	wg.Wait()
	if sleepErr != nil {
		t.Fatalf("DEBUG SLEEP failed, so Redis never hung: %v", sleepErr)
	}
	// Redis answers again; the breaker closes and entries are stored again.
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.complete(t, userMessage("after the hang"))
		if _, h := e.complete(t, userMessage("after the hang")); h.Get("X-Ditto-Cache") == "HIT" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no cache hit within 10 s after Redis came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Canary credentials must not appear anywhere an operator or another
// tenant could read: Redis keys and values, metrics, stats, logs of errors.
func TestSecretsNeverStored(t *testing.T) {
	rs := redistest.Start(t)
	e := newEnv(t, withRedis(rs.URL()))
	e.complete(t, userMessage("What's the weather like in SF?"))
	e.complete(t, userMessage("What's the weather like in SF?"))
	e.up.FailNext(fakeopenai.Failure{Status: 401, Body: `{"error":{"message":"Incorrect API key provided: sk-upstream-canary-1234","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`})
	_, clientErr := e.client.Chat.Completions.New(context.Background(), userMessage("fails"))
	if clientErr == nil {
		t.Fatal("expected the upstream 401")
	}
	canaries := []string{"sk-upstream-canary-1234", "sk-client-canary-5678"}
	ctx := context.Background()
	rc := rs.Client()
	keys, err := rc.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var everything strings.Builder
	for _, k := range keys {
		everything.WriteString(k)
		if v, err := rc.Get(ctx, k).Result(); err == nil {
			everything.WriteString(v)
		} else if h, err := rc.HGetAll(ctx, k).Result(); err == nil {
			for f, v := range h {
				everything.WriteString(f + v)
			}
		}
	}
	everything.WriteString(scrape(t, e))
	resp, _ := http.Get(e.gw.URL + "/v1/cache/stats?window=1h")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	everything.Write(b)
	everything.WriteString(clientErr.Error())
	for _, c := range canaries {
		if strings.Contains(everything.String(), c) {
			t.Errorf("canary %q found in Redis, metrics, stats or the client's error", c)
		}
	}
}
