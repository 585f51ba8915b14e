package limits_test

import (
	"context"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/internal/limits"
	"github.com/dittocache/ditto/internal/redistest"
)

// TestRedisDown kills Redis mid-test: with fail_open decisions admit, with
// it off they refuse with 503, and neither waits longer than the limiter's
// own timeout (plus slack for a noisy machine), breaker or not.
func TestRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	r := &rig{name: "redis", clock: newClock(), srv: srv}
	l := baseLimits(configs.Rate{RequestsPerMinute: 100, TokensPerMinute: 100000})
	b := configs.Budgets{Default: configs.Budget{DailyUSD: 5}}
	open := r.limiter(t, l, b, price)
	l.FailOpen = false
	closed := r.limiter(t, l, b, price)
	req := limits.Request{Tenant: "acme", Model: "pricey", Tokens: 10}
	for _, lim := range []*limits.Limiter{open, closed} {
		if d := lim.Admit(ctx, req); !d.Allowed || d.Degraded {
			t.Fatalf("Redis up: allowed %v degraded %v (%s)", d.Allowed, d.Degraded, d.Message)
		}
	}
	admitted := open.Admit(ctx, req) // settled after the outage starts

	srv.Kill()
	const calls = 8
	bound := 2 * time.Second // limits.timeout is 100ms; a hang would be seconds per call
	for i := range calls {
		start := time.Now()
		d := open.Admit(ctx, req)
		if el := time.Since(start); el > bound {
			t.Errorf("fail-open Admit %d took %v with Redis down", i, el)
		}
		if !d.Allowed || !d.Degraded {
			t.Errorf("fail open, Redis down: allowed %v degraded %v, want admitted and degraded", d.Allowed, d.Degraded)
		}
		start = time.Now()
		d = closed.Admit(ctx, req)
		if el := time.Since(start); el > bound {
			t.Errorf("fail-closed Admit %d took %v with Redis down", i, el)
		}
		if d.Allowed || d.Status != 503 || d.Code != "rate_limiter_unavailable" || d.RetryAfter <= 0 {
			t.Errorf("fail closed, Redis down: allowed %v %d %s retry %v, want 503 with a wait", d.Allowed, d.Status, d.Code, d.RetryAfter)
		}
	}
	start := time.Now()
	admitted.Settle(ctx, limits.Usage{InputTokens: 100, OutputTokens: 100})
	if el := time.Since(start); el > bound {
		t.Errorf("Settle took %v with Redis down", el)
	}
	if _, err := open.Spend(ctx, "acme"); err == nil {
		t.Error("Spend with Redis down: err = nil")
	}
	st := open.Stats()
	if st.Breaker != "open" || st.Degraded != calls || st.Dropped != 1 || st.Errors < calls {
		t.Errorf("Stats after the outage = %+v, want breaker open, %d degraded, 1 dropped", st, calls)
	}

	// Back: within a couple of breaker cool-downs decisions use Redis again.
	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d := open.Admit(ctx, req)
		if !d.Degraded {
			if !d.Allowed || d.Requests.Limit != 100 {
				t.Errorf("after recovery: allowed %v requests %+v", d.Allowed, d.Requests)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the limiter did not use Redis again within 10s of its restart")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMemoryMatchesRedis runs one script of reservations, corrections and
// give-backs through both backends: the in-process GCRA must answer what
// redis_rate answers.
func TestMemoryMatchesRedis(t *testing.T) {
	type step struct {
		tokens int64 // Admit estimate
		settle int64 // -1: Cancel
	}
	script := []step{{300, 300}, {300, 500}, {300, -1}, {200, 0}, {400, 100}, {100, 100}, {100, 900}, {50, 50}, {500, 500}}
	run := func(r *rig) []limits.Decision {
		lim := r.limiter(t, baseLimits(configs.Rate{RequestsPerMinute: 7, TokensPerMinute: 1000}), configs.Budgets{}, nil)
		var out []limits.Decision
		for _, s := range script {
			d := lim.Admit(ctx, limits.Request{Tenant: "acme", Tokens: s.tokens})
			out = append(out, d)
			if s.settle < 0 {
				d.Cancel(ctx)
			} else {
				d.Settle(ctx, limits.Usage{OutputTokens: s.settle})
			}
		}
		return out
	}
	red := &rig{name: "redis", clock: newClock(), srv: redistest.Start(t)}
	mem := run(&rig{name: "memory", clock: newClock()})
	rd := run(red)
	// redis_rate computes remaining in floating point from Redis's clock
	// and truncates it, so it may read one lower than the exact in-process
	// value (6.999… → 6); refill during the test may add to it.
	near := func(m, r, limit int64) bool { return r >= m-1 && r <= m+red.slack(limit) }
	for i := range mem {
		m, r := mem[i], rd[i]
		if m.Allowed != r.Allowed || m.Type != r.Type ||
			!near(m.Requests.Remaining, r.Requests.Remaining, 7) || !near(m.Tokens.Remaining, r.Tokens.Remaining, 1000) {
			t.Errorf("step %d: memory allowed %v %q requests %d tokens %d; redis allowed %v %q requests %d tokens %d", i,
				m.Allowed, m.Type, m.Requests.Remaining, m.Tokens.Remaining, r.Allowed, r.Type, r.Requests.Remaining, r.Tokens.Remaining)
		}
	}
	var refused int
	for _, d := range mem {
		if !d.Allowed {
			refused++
		}
	}
	if refused == 0 {
		t.Error("the script never hit a limit: it proves nothing about refusals")
	}
}

// roundTrips counts what a client sends: one per command or pipeline.
type roundTrips struct{ n atomic.Int64 }

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

// TestOneRoundTrip proves the batching: a decision over four buckets and
// a budget, and its settlement, each cost one round trip to Redis.
func TestOneRoundTrip(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv).(*redis.Client)
	h := &roundTrips{}
	c.AddHook(h)
	l := baseLimits(configs.Rate{RequestsPerMinute: 100, TokensPerMinute: 100000})
	l.Models = map[string]configs.Rate{"pricey": {RequestsPerMinute: 100, TokensPerMinute: 100000}}
	lim := limits.New(l, configs.Budgets{Default: configs.Budget{DailyUSD: 100}}, limits.Options{Redis: c, Price: price})
	// First calls load redis_rate's scripts (NOSCRIPT, then EVAL); count after.
	warm := lim.Admit(ctx, limits.Request{Tenant: "warm", Model: "pricey", Tokens: 1})
	warm.Settle(ctx, limits.Usage{InputTokens: 10}) // and AllowAtMost's
	for i := range 3 {
		h.n.Store(0)
		d := lim.Admit(ctx, limits.Request{Tenant: "acme", Model: "pricey", Tokens: 100})
		if !d.Allowed || d.Degraded {
			t.Fatalf("Admit %d: %+v", i, d)
		}
		if got := h.n.Load(); got != 1 {
			t.Errorf("Admit %d over 4 buckets and a budget: %d round trips, want 1", i, got)
		}
		h.n.Store(0)
		d.Settle(ctx, limits.Usage{InputTokens: 150, OutputTokens: 20})
		if got := h.n.Load(); got != 1 {
			t.Errorf("Settle %d: %d round trips, want 1", i, got)
		}
	}
	s, err := lim.Spend(ctx, "acme")
	if want := 3 * (150*0.001 + 20*0.002); err != nil || math.Abs(s.Day.SpentUSD-want) > 1e-9 {
		t.Errorf("Spend = %+v, %v, want $%.2f", s.Day, err, want)
	}
}

// With a Batcher, the decisions of concurrent requests share round trips
// (both buckets of each, requests and tokens); without one, each decision
// is its own pipeline. Every decision is still counted exactly.
func TestBatchedDecisionsShareRoundTrips(t *testing.T) {
	for _, batch := range []bool{true, false} {
		srv := redistest.Start(t)
		o := limits.Options{Redis: client(t, srv)}
		if batch {
			o.Batch = batcher(t, o.Redis)
		}
		const workers, each, limit = 32, 25, 32*25 + 10
		lim := limits.New(baseLimits(configs.Rate{RequestsPerMinute: limit, TokensPerMinute: 1e9}), configs.Budgets{}, o)
		start := time.Now()
		reads := srv.ReadsDuring(workers, each, func(int, int) bool {
			d := lim.Admit(ctx, limits.Request{Tenant: "acme", Model: "m", Tokens: 10})
			if !d.Allowed || d.Degraded {
				t.Errorf("refused or degraded: %+v", d)
			}
			return d.Allowed && !d.Degraded
		})
		d := lim.Admit(ctx, limits.Request{Tenant: "acme", Model: "m", Tokens: 10})
		t.Logf("batch %v: %d decisions, %d reads by Redis; %d requests remaining", batch, workers*each, reads, d.Requests.Remaining)
		// 9 left, less one for redis_rate's truncation, plus what refilled.
		refilled := int64(time.Since(start).Seconds()*limit/60) + 1
		if r := d.Requests.Remaining; r < 9-1 || r > 9+refilled {
			t.Errorf("batch %v: %d requests remaining after %d of %d, want 9 (+%d refilled)", batch, r, workers*each+1, limit, refilled)
		}
		switch {
		case batch && reads > workers*each/2:
			t.Errorf("batched: %d reads for %d decisions, want at most half", reads, workers*each)
		case !batch && reads < workers*each:
			t.Errorf("unbatched: %d reads for %d decisions, want one each", reads, workers*each)
		}
	}
}
