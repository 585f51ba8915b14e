package limits_test

import (
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/internal/limits"
	"github.com/dittocache/ditto/internal/redisbatch"
	"github.com/dittocache/ditto/internal/redistest"
)

// clock is a settable clock for in-process buckets and budget periods.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// rig builds limiters on one backend: in process (each limiter its own,
// as replicas without Redis are) or on one shared Redis.
type rig struct {
	name  string
	clock *clock
	srv   *redistest.Server // nil in process
	batch bool              // lone decisions autopipelined (Options.Batch)
	start time.Time
}

func rigs(t *testing.T) []*rig {
	return []*rig{{name: "memory", clock: newClock()}, {name: "redis", clock: newClock(), srv: redistest.Start(t)},
		{name: "redis-batched", clock: newClock(), srv: redistest.Start(t), batch: true}}
}

// client is a fail-fast client like cache/store.NewClient's: small
// timeouts, no retries, the context's deadline honoured.
func client(t testing.TB, srv *redistest.Server) redis.UniversalClient {
	c := redis.NewClient(&redis.Options{
		Addr: srv.Addr(), Protocol: 2, DisableIdentity: true, ContextTimeoutEnabled: true,
		DialTimeout: 250 * time.Millisecond, ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond,
		PoolTimeout: 100 * time.Millisecond, MaxRetries: -1, DialerRetries: 1, MinIdleConns: 2,
	})
	t.Cleanup(func() { c.Close() })
	return c
}

func (r *rig) limiter(t testing.TB, l configs.Limits, b configs.Budgets, price limits.PriceFunc) *limits.Limiter {
	o := limits.Options{Now: r.clock.Now, Price: price}
	if r.srv != nil {
		o.Redis = client(t, r.srv)
	}
	if r.batch {
		o.Batch = batcher(t, o.Redis)
	}
	if r.start.IsZero() {
		r.start = time.Now()
	}
	return limits.New(l, b, o)
}

// batcher autopipelines c's lone decisions, as the gateway does.
func batcher(t testing.TB, c redis.UniversalClient) *redisbatch.Batcher {
	b, err := redisbatch.New(c)
	if err != nil || b == nil {
		t.Fatalf("redisbatch.New = %v, %v", b, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// slack is how much a Redis bucket of limit per minute may have refilled
// since the rig's first limiter (Redis uses its own clock); 0 in process,
// where the clock only moves when a test moves it.
func (r *rig) slack(limit int64) int64 {
	if r.srv == nil {
		return 0
	}
	return int64(time.Since(r.start).Seconds()*float64(limit)/60) + 1
}

// baseLimits are the defaults of configs with the given rates.
func baseLimits(def configs.Rate) configs.Limits {
	l := configs.Default().Limits
	l.Default = def
	return l
}

// trunc is how much lower than exact a Redis remaining count may read:
// redis_rate truncates a floating-point value (6.999… → 6).
func (r *rig) trunc() int64 {
	if r.srv == nil {
		return 0
	}
	return 1
}
