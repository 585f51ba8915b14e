package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/gateway"
	"github.com/dittocache/ditto/internal/fakeopenai"
	"github.com/dittocache/ditto/internal/redistest"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/openai"
)

// deployment is a Redis deployment whose master the test kills.
type deployment struct {
	url string
	// kill kills the master serving key (a store key) and returns a
	// function that waits for the failover and returns how long it took.
	kill func(ctx context.Context, key string) (wait func() time.Duration)
}

// TestGatewayClusterFailover: a master of a Redis Cluster dies under a
// steady stream of chat requests; every client request still gets a 200
// (the gateway answers from the provider while Redis fails over), and hits
// come back after the failover, on the dead master's slots too.
func TestGatewayClusterFailover(t *testing.T) {
	c := redistest.StartCluster(t)
	testGatewayFailover(t, deployment{
		url: c.URL(),
		kill: func(ctx context.Context, key string) func() time.Duration {
			m := c.MasterFor(ctx, key)
			c.Kill(m)
			return func() time.Duration { return c.WaitFailover(m) }
		},
	})
}

// TestGatewaySentinelFailover is the same with a Sentinel-managed master.
func TestGatewaySentinelFailover(t *testing.T) {
	d := redistest.StartSentinel(t)
	testGatewayFailover(t, deployment{
		url: d.URL(),
		kill: func(context.Context, string) func() time.Duration {
			d.Master.Kill()
			return func() time.Duration { return d.WaitFailover(d.Master, d.Replica) }
		},
	})
}

// answer is one client request's outcome.
type answer struct {
	at      time.Time // when the answer arrived
	took    time.Duration
	prompt  int
	code    int
	cache   string // X-Ditto-Cache
	key     string // X-Ditto-Cache-Key
	content string
	err     error
}

func testGatewayFailover(t *testing.T, d deployment) {
	up := fakeopenai.New(t)
	up.SetEcho(true)
	cfg := configs.Default()
	cfg.Cache.Redis.URL = configs.Secret(d.url)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(t.Context(), cfg, gateway.Deps{
		Providers: map[string]providers.Provider{"openai": openai.New(openai.Options{BaseURL: up.BaseURL(), APIKey: "sk-test"})},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(g.Handler())
	t.Cleanup(func() { hs.Close(); _ = g.Close() })
	client := &http.Client{Timeout: time.Minute}
	t.Cleanup(client.CloseIdleConnections)

	const prompts = 12
	ask := func(ctx context.Context, p int) answer {
		body, _ := json.Marshal(map[string]any{
			"model":    "gpt-4o",
			"messages": []map[string]string{{"role": "user", "content": prompt(p)}},
		})
		a, start := answer{prompt: p}, time.Now()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, hs.URL+"/v1/chat/completions", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		a.at = time.Now()
		a.took = a.at.Sub(start)
		if err != nil {
			a.err = err
			return a
		}
		defer resp.Body.Close()
		a.code, a.cache, a.key = resp.StatusCode, resp.Header.Get("X-Ditto-Cache"), resp.Header.Get("X-Ditto-Cache-Key")
		var c struct {
			Choices []struct {
				Message struct{ Content string } `json:"message"`
			} `json:"choices"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&c); err == nil && len(c.Choices) > 0 {
			a.content = c.Choices[0].Message.Content
		}
		return a
	}

	// Warm the cache: every prompt answered once, then a hit.
	keys := make([]string, prompts)
	for p := range prompts {
		ask(t.Context(), p)
		a := ask(t.Context(), p)
		if a.code != 200 || a.cache != "HIT" {
			t.Fatalf("warm-up: prompt %d = %d %s, %v; want 200 HIT", p, a.code, a.cache, a.err)
		}
		keys[p] = a.key
	}

	// A steady stream: two clients, each request one of the prompts in turn.
	const maxRequests = 1500
	var (
		mu      sync.Mutex
		answers []answer
	)
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				a := ask(context.WithoutCancel(ctx), (w*prompts/2+i)%prompts)
				mu.Lock()
				answers = append(answers, a)
				full := len(answers) >= maxRequests
				mu.Unlock()
				if full {
					return
				}
				time.Sleep(15 * time.Millisecond)
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	killed := time.Now()
	wait := d.kill(t.Context(), keys[0])
	failover := wait()
	recovered := killed.Add(failover)

	// Run until every prompt has been a HIT after the failover, or 15 s.
	hitAfter := func() (int, time.Time) {
		mu.Lock()
		defer mu.Unlock()
		seen := map[int]bool{}
		var first time.Time
		for _, a := range answers {
			if a.at.After(recovered) && a.cache == "HIT" {
				seen[a.prompt] = true
				if a.prompt == 0 && first.IsZero() {
					first = a.at
				}
			}
		}
		return len(seen), first
	}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if n, _ := hitAfter(); n == prompts {
			break
		}
	}
	stop()
	wg.Wait()
	n, firstHit := hitAfter()

	mu.Lock()
	defer mu.Unlock()
	var failed, during, misses, slowest = 0, 0, 0, time.Duration(0)
	counts := map[string]int{}
	for _, a := range answers {
		if a.err != nil || a.code != 200 || a.content != fakeopenai.EchoAnswer(prompt(a.prompt)) {
			failed++
			if failed <= 5 {
				t.Errorf("request for prompt %d = %d %s %q, %v; want 200 with its answer", a.prompt, a.code, a.cache, a.content, a.err)
			}
		}
		if a.at.After(killed) && !a.at.After(recovered) {
			during++
			if a.cache == "MISS" {
				misses++
			}
		}
		counts[a.cache]++
		slowest = max(slowest, a.took)
	}
	if n != prompts {
		t.Errorf("%d of %d prompts were a HIT again after the failover, want all", n, prompts)
	}
	back := "never"
	if !firstHit.IsZero() {
		back = firstHit.Sub(recovered).Round(time.Millisecond).String()
	}
	t.Logf("master killed: failover took %v; %d of %d client requests failed (%d during the failover, %d of them answered by the provider); statuses %v; the dead master's first prompt was a HIT again %s after the failover; slowest request %v; %d upstream calls",
		failover.Round(time.Millisecond), failed, len(answers), during, misses, counts, back, slowest.Round(time.Millisecond), up.Calls())
}

func prompt(p int) string { return fmt.Sprintf("failover question %d", p) }
