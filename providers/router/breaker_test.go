package router_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/router"
)

var errDown = &providers.Error{Provider: "openai", Status: http.StatusBadGateway, Message: "bad gateway"}

// downFor returns n copies of err.
func downFor(n int, err error) []error {
	out := make([]error, n)
	for i := range out {
		out[i] = err
	}
	return out
}

func breakerRouter(t *testing.T, failures int, coolDown time.Duration, provs map[string]providers.Provider,
	cfg func(*configs.Config)) (*router.Router, *router.Breakers, *transitions) {
	t.Helper()
	c := configs.Default()
	c.Upstream.RetryBackoff = time.Millisecond
	c.Upstream.Retries = 0
	if cfg != nil {
		cfg(c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	tr := &transitions{}
	b := router.NewBreakers(failures, coolDown, tr.add)
	return router.New(c, router.Options{Providers: provs, Breakers: b}), b, tr
}

type transitions struct {
	mu  sync.Mutex
	got []string
}

func (t *transitions) add(route, from, to string) {
	t.mu.Lock()
	t.got = append(t.got, route+":"+from+"->"+to)
	t.mu.Unlock()
}

func (t *transitions) list() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.got...)
}

// After three consecutive 502s the route is not called again during the
// cool-down: the caller gets a CircuitOpenError at once. After the
// cool-down one probe goes through, and its success closes the breaker.
func TestBreakerOpensSkipsAndCloses(t *testing.T) {
	p := &fake{errs: downFor(3, errDown), text: "back"}
	rt, b, tr := breakerRouter(t, 3, 100*time.Millisecond, map[string]providers.Provider{"openai": p}, nil)
	r, _ := rt.Resolve("gpt-4o")
	for i := range 3 {
		if _, err := rt.Call(context.Background(), r, &normalize.Request{}, false, nil); !errors.Is(err, errDown) {
			t.Fatalf("call %d = %v, want the provider's 502", i, err)
		}
	}
	for i := range 5 {
		_, err := rt.Call(context.Background(), r, &normalize.Request{}, i%2 == 0, func(*normalize.Chunk) {})
		var oe *router.CircuitOpenError
		if !errors.As(err, &oe) || oe.Route != "openai/gpt-4o" || oe.RetryAfter != 100*time.Millisecond {
			t.Fatalf("call with the breaker open = %v, want a CircuitOpenError for openai/gpt-4o", err)
		}
		if router.Retryable(err) || !router.Fallbackable(err) {
			t.Errorf("an open breaker must be fallbackable (stale, fallbacks) and never retried on its route")
		}
	}
	if n := p.calls.Load(); n != 3 {
		t.Errorf("provider calls = %d, want 3: an open route is not called", n)
	}
	if got := b.States(); len(got) != 1 || got[0] != (router.RouteState{Route: "openai/gpt-4o", State: "open"}) {
		t.Errorf("States = %v, want openai/gpt-4o open", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := rt.Call(context.Background(), r, &normalize.Request{}, false, nil)
		if err == nil {
			if resp.Choices[0].Message.Text() != "back" {
				t.Fatalf("probe answer = %q", resp.Choices[0].Message.Text())
			}
			break
		}
		if !errors.Is(err, router.ErrCircuitOpen) || time.Now().After(deadline) {
			t.Fatalf("waiting for the half-open probe: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := b.States(); got != nil {
		t.Errorf("States after a successful probe = %v, want all closed", got)
	}
	want := []string{"openai/gpt-4o:closed->open", "openai/gpt-4o:open->half-open", "openai/gpt-4o:half-open->closed"}
	if got := tr.list(); len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("transitions = %v, want %v", got, want)
	}
}

// A failed probe opens the breaker again for another cool-down.
func TestBreakerFailedProbeReopens(t *testing.T) {
	p := &fake{errs: downFor(3, errDown)}
	rt, b, _ := breakerRouter(t, 2, 50*time.Millisecond, map[string]providers.Provider{"openai": p}, nil)
	r, _ := rt.Resolve("gpt-4o")
	for range 2 {
		rt.Call(context.Background(), r, &normalize.Request{}, false, nil)
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.calls.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatal("the breaker never let a probe through")
		}
		time.Sleep(10 * time.Millisecond)
		rt.Call(context.Background(), r, &normalize.Request{}, false, nil)
	}
	if _, err := rt.Call(context.Background(), r, &normalize.Request{}, false, nil); !errors.Is(err, router.ErrCircuitOpen) {
		t.Errorf("after a failed probe = %v, want the breaker open again", err)
	}
	if got := b.States(); len(got) != 1 || got[0].State != "open" {
		t.Errorf("States = %v, want open", got)
	}
}

// An open primary sends calls straight to the fallback, without waiting on
// retries of the primary.
func TestBreakerOpenRouteGoesToFallback(t *testing.T) {
	primary := &fake{errs: downFor(10, errDown)}
	backup := &fake{text: "backup"}
	rt, _, _ := breakerRouter(t, 2, time.Minute, map[string]providers.Provider{"openai": primary, "anthropic": backup},
		func(c *configs.Config) {
			c.Upstream.Retries = 2
			c.Routes = []configs.Route{{Model: "main", Provider: "openai", UpstreamModel: "gpt-4o", Fallbacks: []string{"claude-haiku-4-5"}}}
		})
	r, _ := rt.Resolve("main")
	for i := range 4 {
		resp, err := rt.Call(context.Background(), r, &normalize.Request{}, false, nil)
		if err != nil || resp.Choices[0].Message.Text() != "backup" {
			t.Fatalf("call %d = %v, %v; want the fallback's answer", i, resp, err)
		}
	}
	// The first call's attempts open the breaker after 2 failures; the
	// remaining retry and every later call skip the primary.
	if n := primary.calls.Load(); n != 2 {
		t.Errorf("primary calls = %d, want 2", n)
	}
	if n := backup.calls.Load(); n != 4 {
		t.Errorf("backup calls = %d, want 4", n)
	}
}

// Answers that blame the request, rate limits, and a caller that gave up,
// say nothing about the provider's health: they never open the breaker. Breakers are per route:
// one model failing leaves the provider's other models alone.
func TestBreakerCountsOnlyProviderTrouble(t *testing.T) {
	bad := &providers.Error{Provider: "openai", Status: http.StatusBadRequest, Message: "bad"}
	limited := &providers.Error{Provider: "openai", Status: http.StatusTooManyRequests, Message: "slow down"}
	p := &fake{errs: append(append(downFor(5, bad), downFor(3, &providers.Error{Provider: "openai", Status: http.StatusUnauthorized, Message: "no"})...),
		downFor(6, limited)...)}
	rt, b, _ := breakerRouter(t, 2, time.Minute, map[string]providers.Provider{"openai": p}, nil)
	r, _ := rt.Resolve("gpt-4o")
	for range 14 {
		rt.Call(context.Background(), r, &normalize.Request{}, false, nil)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p.errs = append(p.errs, downFor(4, context.Canceled)...)
	for range 4 {
		rt.Call(ctx, r, &normalize.Request{}, false, nil)
	}
	if got := b.States(); got != nil {
		t.Errorf("States = %v, want closed: 4xx answers, 429s and cancellations are not provider failures", got)
	}

	q := &fake{errs: downFor(2, errDown), text: "ok"}
	rt, b, _ = breakerRouter(t, 2, time.Minute, map[string]providers.Provider{"openai": q}, nil)
	sick, _ := rt.Resolve("gpt-4o")
	well, _ := rt.Resolve("gpt-4o-mini")
	for range 2 {
		rt.Call(context.Background(), sick, &normalize.Request{}, false, nil)
	}
	if _, err := rt.Call(context.Background(), well, &normalize.Request{}, false, nil); err != nil {
		t.Errorf("another model of the same provider = %v, want it served", err)
	}
	if got := b.States(); len(got) != 1 || got[0].Route != "openai/gpt-4o" {
		t.Errorf("States = %v, want only openai/gpt-4o open", got)
	}
}

// The nil *Breakers (upstream.breaker_failures: 0) never stops a call.
func TestNoBreakers(t *testing.T) {
	if router.NewBreakers(0, time.Second, nil) != nil {
		t.Fatal("NewBreakers(0) must be nil")
	}
	p := &fake{errs: downFor(20, errDown)}
	rt, _, _ := breakerRouter(t, 0, 0, map[string]providers.Provider{"openai": p}, nil)
	r, _ := rt.Resolve("gpt-4o")
	for range 20 {
		rt.Call(context.Background(), r, &normalize.Request{}, false, nil)
	}
	if n := p.calls.Load(); n != 20 {
		t.Errorf("calls = %d, want 20", n)
	}
}
