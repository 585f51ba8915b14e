package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dittocache/ditto/cache/store"
	"github.com/dittocache/ditto/cache/store/storetest"
	"github.com/dittocache/ditto/cachekey"
	"github.com/dittocache/ditto/internal/redistest"
)

// TestRedisCluster runs the suite on a real cluster of three masters and
// three replicas: keys spread over the masters, so GetMany, Purge and leases
// cross nodes.
func TestRedisCluster(t *testing.T) {
	c := redistest.StartCluster(t)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) store.Backend {
		return newRedis(t, patient(store.RedisOptions{URL: c.URL(), KeyPrefix: fmt.Sprintf("test%d|", n.Add(1))}))
	})
}

// TestRedisClusterOneSeed: Cluster with a single seed address finds every
// node from it.
func TestRedisClusterOneSeed(t *testing.T) {
	c := redistest.StartCluster(t)
	r := newRedis(t, patient(store.RedisOptions{URL: "redis://" + c.Addrs()[0], Cluster: true}))
	keys := clusterFill(t, r, "one-seed", "openai/m", 60)
	for _, m := range c.Masters(t.Context()) {
		if n := countKeys(t, m, "ditto:*"); n == 0 {
			t.Errorf("master %s holds no entry of 60", m.Addr())
		}
	}
	rs, err := r.GetMany(t.Context(), keys)
	if err != nil {
		t.Fatalf("GetMany = %v", err)
	}
	for i, res := range rs {
		if !res.Found || res.Err != nil {
			t.Errorf("GetMany[%d] = found %v, %v; want a hit", i, res.Found, res.Err)
		}
	}
}

// clusterFill stores n entries under namespace ns and route and returns
// their keys.
func clusterFill(t *testing.T, s store.Backend, ns, route string, n int) []cachekey.Key {
	t.Helper()
	keys := make([]cachekey.Key, n)
	for i := range keys {
		keys[i] = cachekey.New(ns, route, fmt.Appendf(nil, "prompt %d", i))
		e := store.Entry{Digest: keys[i].Digest, Created: time.Now(), Body: fmt.Appendf(nil, `{"n":%d}`, i)}
		if err := s.Set(t.Context(), keys[i], e, time.Hour); err != nil {
			t.Fatalf("Set(%s) = %v", keys[i], err)
		}
	}
	return keys
}

// countKeys counts the keys matching pattern on one node, with SCAN.
func countKeys(t *testing.T, s *redistest.Server, pattern string) int {
	t.Helper()
	keys, err := scanAll(t.Context(), s, pattern)
	if err != nil {
		t.Fatalf("SCAN on %s = %v", s.Addr(), err)
	}
	return len(keys)
}

func scanAll(ctx context.Context, s *redistest.Server, pattern string) ([]string, error) {
	c := s.Client()
	var (
		out    []string
		cursor uint64
	)
	for {
		keys, next, err := c.Scan(ctx, cursor, pattern, 500).Result()
		if err != nil {
			return nil, err
		}
		out = append(out, keys...)
		if next == 0 {
			return out, nil
		}
		cursor = next
	}
}

// TestRedisClusterSpreadAndPurge: entries land on all three masters, and a
// purge by namespace, by route and of everything removes them from every
// master, as SCAN on each master shows.
func TestRedisClusterSpreadAndPurge(t *testing.T) {
	c := redistest.StartCluster(t)
	r := newRedis(t, patient(store.RedisOptions{URL: c.URL()}))
	ctx := t.Context()
	const per = 90
	clusterFill(t, r, "acme", "openai/gpt-4o", per)
	clusterFill(t, r, "acme", "anthropic/claude", per)
	clusterFill(t, r, "other", "openai/gpt-4o", per)
	masters := c.Masters(ctx)
	if len(masters) != 3 {
		t.Fatalf("%d masters, want 3", len(masters))
	}
	total := 0
	for _, m := range masters {
		n := countKeys(t, m, "ditto:*")
		if n == 0 {
			t.Errorf("master %s holds no entry of %d", m.Addr(), 3*per)
		}
		total += n
	}
	if total != 3*per {
		t.Errorf("masters hold %d entries in all, want %d", total, 3*per)
	}

	tests := []struct {
		name      string
		prefix    string
		wantN     int
		wantLeft  int
		leftMatch string // SCAN pattern whose count must be 0 afterwards
	}{
		{"route", cachekey.Prefix("acme", "openai/gpt-4o"), per, 2 * per, globQuote(cachekey.Prefix("acme", "openai/gpt-4o")) + "*"},
		{"namespace", cachekey.Prefix("acme", ""), per, per, globQuote(cachekey.Prefix("acme", "")) + "*"},
		{"all", "ditto:", per, 0, "ditto:*"},
	}
	for _, tt := range tests {
		n, err := r.Purge(ctx, tt.prefix)
		if err != nil || n != tt.wantN {
			t.Errorf("Purge(%s %q) = %d, %v; want %d, nil", tt.name, tt.prefix, n, err, tt.wantN)
		}
		left := 0
		for _, m := range masters {
			if n := countKeys(t, m, tt.leftMatch); n != 0 {
				t.Errorf("after Purge(%s): master %s still holds %d matching keys", tt.name, m.Addr(), n)
			}
			left += countKeys(t, m, "ditto:*")
		}
		if left != tt.wantLeft {
			t.Errorf("after Purge(%s): %d entries left, want %d", tt.name, left, tt.wantLeft)
		}
	}
}

// globQuote escapes SCAN MATCH metacharacters (the test prefixes have none
// but ':' is literal anyway); kept for clarity of the patterns above.
func globQuote(s string) string {
	return strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`).Replace(s)
}

// TestRedisClusterGetManyAcrossSlots: one GetMany over keys of every master,
// hits and misses mixed, answers in order.
func TestRedisClusterGetManyAcrossSlots(t *testing.T) {
	c := redistest.StartCluster(t)
	r := newRedis(t, patient(store.RedisOptions{URL: c.URL()}))
	ctx := t.Context()
	var keys []cachekey.Key
	nodes := map[*redistest.Server]bool{}
	for i := range 40 {
		k := cachekey.New("ns", "openai/m", fmt.Appendf(nil, "q%d", i))
		keys = append(keys, k)
		nodes[c.MasterFor(ctx, k.String())] = true
		if i%2 == 0 {
			if err := r.Set(ctx, k, store.Entry{Digest: k.Digest, Body: fmt.Appendf(nil, "%d", i)}, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(nodes) != 3 {
		t.Fatalf("40 keys on %d masters, want 3", len(nodes))
	}
	rs, err := r.GetMany(ctx, keys)
	if err != nil {
		t.Fatalf("GetMany = %v", err)
	}
	for i, res := range rs {
		if res.Err != nil || res.Found != (i%2 == 0) {
			t.Errorf("GetMany[%d] = found %v, %v; want found %v", i, res.Found, res.Err, i%2 == 0)
		}
		if res.Found && string(res.Entry.Body) != fmt.Sprint(i) {
			t.Errorf("GetMany[%d].Body = %q, want %d", i, res.Entry.Body, i)
		}
	}
}

// TestRedisClusterLeaseAcrossStores: two replicas' stores on one cluster
// share each key's lease, whatever master holds it.
func TestRedisClusterLeaseAcrossStores(t *testing.T) {
	c := redistest.StartCluster(t)
	a := newRedis(t, patient(store.RedisOptions{URL: c.URL()}))
	b := newRedis(t, patient(store.RedisOptions{URL: c.URL()}))
	ctx := t.Context()
	for i := range 12 {
		k := cachekey.New("ns", "openai/m", fmt.Appendf(nil, "lease %d", i))
		release, ok, err := a.Lease(ctx, k, time.Minute)
		if err != nil || !ok {
			t.Fatalf("a.Lease(%d) = %v, %v; want acquired", i, ok, err)
		}
		if _, ok, err := b.Lease(ctx, k, time.Minute); err != nil || ok {
			t.Errorf("b.Lease(%d) while a holds it = %v, %v; want not acquired", i, ok, err)
		}
		release()
		relB, ok, err := b.Lease(ctx, k, time.Minute)
		if err != nil || !ok {
			t.Errorf("b.Lease(%d) after release = %v, %v; want acquired", i, ok, err)
			continue
		}
		relB()
	}
}

// TestRedisClusterFailover kills the master serving some keys under a steady
// stream of operations: its replica is promoted, the store follows it (it
// reloads the slot map on transport errors rather than after go-redis's 60 s
// refresh), the breaker closes again, and entries written after the failover
// are readable. It logs how long each step took.
func TestRedisClusterFailover(t *testing.T) {
	c := redistest.StartCluster(t)
	r := newRedis(t, store.RedisOptions{URL: c.URL()})
	var (
		mu          sync.Mutex
		transitions []string
	)
	b := store.NewBreaker(r, store.BreakerOptions{OnStateChange: func(_, from, to string) {
		mu.Lock()
		transitions = append(transitions, from+"->"+to)
		mu.Unlock()
	}})
	ctx := t.Context()

	// Keys on the victim's slots, and keys elsewhere.
	var victim *redistest.Server
	var onVictim, elsewhere []cachekey.Key
	for i := 0; len(onVictim) < 8 || len(elsewhere) < 8; i++ {
		k := cachekey.New("ns", "openai/m", fmt.Appendf(nil, "steady %d", i))
		m := c.MasterFor(ctx, k.String())
		if victim == nil {
			victim = m
		}
		if m == victim {
			onVictim = append(onVictim, k)
		} else {
			elsewhere = append(elsewhere, k)
		}
	}
	all := append(append([]cachekey.Key(nil), onVictim...), elsewhere...)
	for _, k := range all {
		eventually(t, func() error { return b.Set(ctx, k, store.Entry{Digest: k.Digest, Body: []byte("before")}, time.Hour) })
	}

	loadCtx, stopLoad := context.WithCancel(ctx)
	var (
		wg       sync.WaitGroup
		ops      atomic.Int64
		failures atomic.Int64
	)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; loadCtx.Err() == nil; i++ {
				k := all[(w*7+i)%len(all)]
				var err error
				if i%4 == 0 {
					err = b.Set(loadCtx, k, store.Entry{Digest: k.Digest, Body: []byte("steady")}, time.Hour)
				} else {
					_, _, err = b.Get(loadCtx, k)
				}
				ops.Add(1)
				if err != nil && !errors.Is(err, context.Canceled) {
					failures.Add(1)
				}
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	time.Sleep(200 * time.Millisecond)

	killed := time.Now()
	c.Kill(victim)
	failover := c.WaitFailover(victim)
	clusterOK := killed.Add(failover)

	// The store follows: a write and a read on the victim's slots succeed.
	k := onVictim[0]
	want := store.Entry{Digest: k.Digest, Created: time.Now(), Body: []byte("after failover")}
	var followed time.Time
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if err := b.Set(ctx, k, want, time.Hour); err != nil {
			continue
		}
		if got, ok, err := b.Get(ctx, k); err == nil && ok && string(got.Body) == string(want.Body) {
			followed = time.Now()
			break
		}
	}
	if followed.IsZero() {
		stopLoad()
		wg.Wait()
		t.Fatalf("store did not follow the failover within 20 s of cluster_state:ok (breaker %q)", b.State())
	}
	failedBefore := failures.Load()
	time.Sleep(500 * time.Millisecond) // steady load on the new topology
	stopLoad()
	wg.Wait()
	t.Logf("master killed: cluster ok after %v; store answered on its slots %v later (%v after the kill); %d of %d operations failed, %d of them after the store followed",
		failover.Round(time.Millisecond), followed.Sub(clusterOK).Round(time.Millisecond),
		followed.Sub(killed).Round(time.Millisecond), failures.Load(), ops.Load(), failures.Load()-failedBefore)

	// Entries written after the failover are readable, on every master.
	for _, k := range all {
		e := store.Entry{Digest: k.Digest, Body: []byte("written after")}
		eventually(t, func() error {
			if err := b.Set(ctx, k, e, time.Hour); err != nil {
				return fmt.Errorf("Set(%s) after failover = %w", k, err)
			}
			if got, ok, err := b.Get(ctx, k); err != nil || !ok || string(got.Body) != "written after" {
				return fmt.Errorf("Get(%s) after failover = %q, %v, %v; want the entry written after", k, got.Body, ok, err)
			}
			return nil
		})
	}
	wantClosed(t, b)
	mu.Lock()
	t.Logf("breaker transitions: %v", transitions)
	mu.Unlock()
}

// eventually retries f for up to 5 s (a loaded machine times out a call now
// and then, and the breaker then stays open for a second) and fails the
// test with f's last error.
func eventually(t *testing.T, f func() error) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err = f(); err == nil {
			return
		}
	}
	t.Error(err)
}

// wantClosed waits up to 5 s for b to close, probing with Ping.
func wantClosed(t *testing.T, b *store.Breaker) {
	t.Helper()
	eventually(t, func() error {
		_ = b.Ping(t.Context())
		if st := b.State(); st != "closed" {
			return fmt.Errorf("breaker after failover = %q, want closed", st)
		}
		return nil
	})
}

// patient gives o timeouts for a loaded machine, for tests of behaviour
// rather than of timing.
func patient(o store.RedisOptions) store.RedisOptions {
	o.ReadTimeout, o.WriteTimeout, o.OperationTimeout = time.Second, time.Second, 3*time.Second
	return o
}
