package limits_test

import (
	"math"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/internal/limits"
	"github.com/dittocache/ditto/internal/redistest"
)

// syncLimits are limits with sync_interval long enough that no timer fires
// during a test: the tests sync by hand (SyncNow).
func syncLimits(def configs.Rate) configs.Limits {
	l := baseLimits(def)
	l.SyncInterval = time.Minute
	return l
}

// TestSyncDecidesLocally: with limits.sync_interval a tenant's first
// decision is made in Redis and the next ones on the replica's copy, with
// no round trip; one sync sends them all in one round trip, after which
// an exact replica sees every request in the shared bucket.
func TestSyncDecidesLocally(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv).(*redis.Client)
	h := &roundTrips{}
	c.AddHook(h)
	rate := configs.Rate{RequestsPerMinute: 100, TokensPerMinute: 100000}
	l := syncLimits(rate)
	l.Models = map[string]configs.Rate{"pricey": rate}
	lim := limits.New(l, configs.Budgets{}, limits.Options{Redis: c})
	req := limits.Request{Tenant: "acme", Model: "pricey", Tokens: 100}

	d := lim.Admit(ctx, req)
	if !d.Allowed || d.Degraded || h.n.Load() == 0 {
		t.Fatalf("first Admit: allowed %v degraded %v after %d round trips, want allowed through Redis", d.Allowed, d.Degraded, h.n.Load())
	}
	// A first sync with more tokens to take loads redis_rate's scripts
	// (NOSCRIPT, then EVAL, once per script); count after it.
	d.Settle(ctx, limits.Usage{InputTokens: 200})
	lim.SyncNow()
	h.n.Store(0)
	const local = 40
	for i := range local {
		d := lim.Admit(ctx, req)
		if !d.Allowed || d.Degraded {
			t.Fatalf("Admit %d on the copy: %+v", i, d)
		}
		if want := int64(100 - 2 - i); d.Requests.Remaining != want {
			t.Fatalf("Admit %d: remaining %d, want %d (the copy counts what this replica took)", i, d.Requests.Remaining, want)
		}
		d.Settle(ctx, limits.Usage{InputTokens: 100}) // exact: nothing to correct
	}
	if got := h.n.Load(); got != 0 {
		t.Fatalf("%d decisions on fresh copies made %d round trips, want 0", local, got)
	}
	lim.SyncNow()
	if got := h.n.Load(); got != 1 {
		t.Errorf("one sync of 4 buckets: %d round trips, want 1", got)
	}

	exact := limits.New(baseLimits(rate), configs.Budgets{}, limits.Options{Redis: client(t, srv)})
	e := exact.Admit(ctx, limits.Request{Tenant: "acme", Model: "other", Tokens: 100})
	// 1 + 40 from the syncing replica, 1 here; refill while the test ran
	// and redis_rate's truncation may add 1 or 2.
	if want := int64(100 - 1 - local - 1); !e.Allowed || e.Requests.Remaining < want || e.Requests.Remaining > want+2 {
		t.Errorf("exact replica after the sync: allowed %v remaining %d, want about %d", e.Allowed, e.Requests.Remaining, want)
	}
}

// TestSyncAcrossReplicas: two syncing replicas share one bucket. Each
// decides on its copy; a sync brings in the other's takings, and once both
// have synced a drained bucket refuses on both. The overspend is bounded
// by what the bucket held at the last sync.
func TestSyncAcrossReplicas(t *testing.T) {
	srv := redistest.Start(t)
	const limit = 100
	l := syncLimits(configs.Rate{RequestsPerMinute: limit})
	a := limits.New(l, configs.Budgets{}, limits.Options{Redis: client(t, srv)})
	b := limits.New(l, configs.Budgets{}, limits.Options{Redis: client(t, srv)})
	req := limits.Request{Tenant: "acme", Model: "m"}
	take := func(lim *limits.Limiter, n int) (admitted int) {
		for range n {
			if d := lim.Admit(ctx, req); d.Allowed && !d.Degraded {
				admitted++
			}
		}
		return admitted
	}
	if got := take(a, 30); got != 30 {
		t.Fatalf("replica a admitted %d of 30", got)
	}
	a.SyncNow()
	// b's first decision reads the shared bucket: a's 30 are in it.
	got := take(b, limit)
	if got < limit-30 || got > limit-30+2 {
		t.Fatalf("replica b admitted %d after a's sync, want about %d", got, limit-30)
	}
	b.SyncNow()
	// a's copy still says 70 remain until it syncs; after, it is empty.
	a.SyncNow()
	if n := take(a, 10); n > 2 { // a little refill while the test ran
		t.Errorf("replica a admitted %d after both synced a drained bucket, want at most 2", n)
	}
	// Without the syncs, a would have spent its stale copy's 70: the bound
	// the docs give (R-1 times what the bucket held at the last sync).
	exact := limits.New(baseLimits(configs.Rate{RequestsPerMinute: limit}), configs.Budgets{}, limits.Options{Redis: client(t, srv)})
	if d := exact.Admit(ctx, req); d.Allowed && d.Requests.Remaining > 2 {
		t.Errorf("shared bucket after both syncs: %d remaining, want drained", d.Requests.Remaining)
	}
}

// TestSyncRefusesLocally: a bucket the copy shows empty refuses without
// Redis, with the wait GCRA gives, and the refused reservation costs
// nothing once synced.
func TestSyncRefusesLocally(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv).(*redis.Client)
	h := &roundTrips{}
	c.AddHook(h)
	lim := limits.New(syncLimits(configs.Rate{RequestsPerMinute: 3}), configs.Budgets{}, limits.Options{Redis: c})
	req := limits.Request{Tenant: "acme", Model: "m"}
	for i := range 3 {
		if d := lim.Admit(ctx, req); !d.Allowed {
			t.Fatalf("Admit %d refused: %s", i, d.Message)
		}
	}
	h.n.Store(0)
	d := lim.Admit(ctx, req)
	if d.Allowed || d.Status != 429 || d.Type != "requests" || d.RetryAfter <= 0 || d.RetryAfter > 20*time.Second {
		t.Fatalf("fourth Admit: allowed %v status %d type %q retry %v, want 429 within 20s", d.Allowed, d.Status, d.Type, d.RetryAfter)
	}
	if got := h.n.Load(); got != 0 {
		t.Errorf("a refusal on a fresh copy made %d round trips, want 0", got)
	}
	lim.SyncNow()
	exact := limits.New(baseLimits(configs.Rate{RequestsPerMinute: 3}), configs.Budgets{}, limits.Options{Redis: client(t, srv)})
	if e := exact.Admit(ctx, req); e.Allowed {
		t.Errorf("exact replica admitted from a bucket the syncing replica drained (remaining %d)", e.Requests.Remaining)
	}
}

// TestSyncBudgets: spend charged on a syncing replica shows at once in its
// own Spend and refusals, and in the other replicas' after a sync.
func TestSyncBudgets(t *testing.T) {
	srv := redistest.Start(t)
	l := syncLimits(configs.Rate{})
	b := configs.Budgets{Default: configs.Budget{DailyUSD: 1}}
	a := limits.New(l, b, limits.Options{Redis: client(t, srv), Price: price})
	other := limits.New(baseLimits(configs.Rate{}), b, limits.Options{Redis: client(t, srv), Price: price})
	req := limits.Request{Tenant: "acme", Model: "pricey", Tokens: 10}
	// An input token of pricey costs $0.001: 400 of them are $0.40.
	for i := range 2 {
		d := a.Admit(ctx, req)
		if !d.Allowed {
			t.Fatalf("Admit %d: %s", i, d.Message)
		}
		d.Settle(ctx, limits.Usage{InputTokens: 400})
	}
	s, err := a.Spend(ctx, "acme")
	if err != nil || math.Abs(s.Day.SpentUSD-0.8) > 1e-9 {
		t.Errorf("syncing replica's own spend = %+v, %v, want $0.80", s.Day, err)
	}
	a.SyncNow()
	s, err = other.Spend(ctx, "acme")
	if err != nil || math.Abs(s.Day.SpentUSD-0.8) > 1e-9 {
		t.Errorf("other replica's spend after the sync = %+v, %v, want $0.80", s.Day, err)
	}
	d := a.Admit(ctx, req)
	d.Settle(ctx, limits.Usage{InputTokens: 400}) // $1.20 now
	if d := a.Admit(ctx, req); d.Allowed || d.Code != "insufficient_quota" {
		t.Errorf("over budget on the syncing replica: allowed %v code %q, want insufficient_quota", d.Allowed, d.Code)
	}
}

// TestSyncRedisDown: once Redis stops answering, the copies age out and
// decisions follow fail_open as in exact mode, without waiting longer than
// the limiter's timeout; the background syncs stop by themselves.
func TestSyncRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	l := baseLimits(configs.Rate{RequestsPerMinute: 1000})
	l.SyncInterval = 20 * time.Millisecond
	l.FailOpen = false
	lim := limits.New(l, configs.Budgets{}, limits.Options{Redis: client(t, srv)})
	req := limits.Request{Tenant: "acme", Model: "m"}
	if d := lim.Admit(ctx, req); !d.Allowed {
		t.Fatalf("Redis up: %s", d.Message)
	}
	srv.Kill()
	deadline := time.Now().Add(5 * time.Second)
	for {
		start := time.Now()
		d := lim.Admit(ctx, req)
		if el := time.Since(start); el > 2*time.Second {
			t.Fatalf("Admit took %v with Redis down", el)
		}
		if !d.Allowed {
			if d.Status != 503 || d.Code != "rate_limiter_unavailable" {
				t.Fatalf("Redis down, fail closed: %d %s, want 503 rate_limiter_unavailable", d.Status, d.Code)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("decisions still made on the copy 5s after Redis went away, want 503 once it aged out")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The taken request stays pending and is retried each interval; with
	// no more use the syncs go on only while something is pending, so wait
	// for the pending request's retries to be cut by the test's end: the
	// timer is not a goroutine, and a running sync is bounded by the
	// timeout (100ms).
	time.Sleep(150 * time.Millisecond)
}

// TestSyncCloseSends: Close sends what the replica took and has not yet
// synced (a replica shutting down loses nothing), and decisions after it
// are made in Redis.
func TestSyncCloseSends(t *testing.T) {
	srv := redistest.Start(t)
	rate := configs.Rate{RequestsPerMinute: 100}
	lim := limits.New(syncLimits(rate), configs.Budgets{}, limits.Options{Redis: client(t, srv)})
	req := limits.Request{Tenant: "acme", Model: "m"}
	for range 20 {
		lim.Admit(ctx, req)
	}
	lim.Close()
	lim.Close() // twice is harmless
	exact := limits.New(baseLimits(rate), configs.Budgets{}, limits.Options{Redis: client(t, srv)})
	e := exact.Admit(ctx, req)
	want := int64(100 - 20 - 1)
	if e.Requests.Remaining < want || e.Requests.Remaining > want+2 {
		t.Errorf("after Close: remaining %d in Redis, want about %d", e.Requests.Remaining, want)
	}
	if d := lim.Admit(ctx, req); d.Requests.Remaining < want-1 || d.Requests.Remaining > want+1 {
		t.Errorf("Admit after Close: remaining %d, want about %d (decided in Redis)", d.Requests.Remaining, want-1)
	}
}

// TestSyncReconfigured: a reload may turn sync_interval on or off; the
// buckets in Redis carry over either way, and what the syncing limiter
// took is sent when it is retired for one without its syncer.
func TestSyncReconfigured(t *testing.T) {
	srv := redistest.Start(t)
	rate := configs.Rate{RequestsPerMinute: 100}
	exact := limits.New(baseLimits(rate), configs.Budgets{}, limits.Options{Redis: client(t, srv)})
	req := limits.Request{Tenant: "acme", Model: "m"}
	for range 10 {
		exact.Admit(ctx, req)
	}
	syncing := exact.Reconfigured(syncLimits(rate), configs.Budgets{}, nil)
	if st := syncing.Stats(); st.Mode != "sync" || st.Backend != "redis" {
		t.Fatalf("after turning sync_interval on: %+v, want redis sync", st)
	}
	d := syncing.Admit(ctx, req) // cold copy: decided in Redis, so it sees the 10
	if want := int64(100 - 11); d.Requests.Remaining < want || d.Requests.Remaining > want+1 {
		t.Errorf("first syncing decision: remaining %d, want about %d", d.Requests.Remaining, want)
	}
	for range 9 {
		syncing.Admit(ctx, req)
	}
	back := syncing.Reconfigured(baseLimits(rate), configs.Budgets{}, nil)
	if st := back.Stats(); st.Mode != "exact" {
		t.Fatalf("after turning sync_interval off: mode %q, want exact", st.Mode)
	}
	syncing.Retire(back) // the gateway's reload does this: back has no syncer, so this one sends and stops
	d = back.Admit(ctx, req)
	if want := int64(100 - 21); d.Requests.Remaining < want || d.Requests.Remaining > want+1 {
		t.Errorf("exact again: remaining %d, want about %d (10 + 10 + this one)", d.Requests.Remaining, want)
	}
}

// TestRetireKeepsASharedSyncer: a reload that keeps sync_interval keeps the
// syncer, so retiring the old limiter must not stop it.
func TestRetireKeepsASharedSyncer(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv).(*redis.Client)
	h := &roundTrips{}
	c.AddHook(h)
	rate := configs.Rate{RequestsPerMinute: 100}
	a := limits.New(syncLimits(rate), configs.Budgets{}, limits.Options{Redis: c})
	req := limits.Request{Tenant: "acme", Model: "m"}
	a.Admit(ctx, req)
	b := a.Reconfigured(syncLimits(configs.Rate{RequestsPerMinute: 200}), configs.Budgets{}, nil)
	a.Retire(b)
	h.n.Store(0)
	b.Admit(ctx, req)
	if got := h.n.Load(); got != 0 {
		t.Errorf("a decision after retiring a limiter that shares the syncer made %d round trips, want 0 (the copy is still used)", got)
	}
}
