package store_test

import (
	"testing"
	"time"

	"github.com/dittocache/ditto/cache/store"
	"github.com/dittocache/ditto/cachekey"
	"github.com/dittocache/ditto/internal/redistest"
)

// acquireWithin polls s.Lease every 50 ms, as the engine's wait loop does,
// and returns how long it took to acquire the lease, or fails after limit.
func acquireWithin(t *testing.T, s store.Backend, k cachekey.Key, limit time.Duration) (time.Duration, func()) {
	t.Helper()
	start := time.Now()
	for {
		release, ok, err := s.Lease(t.Context(), k, time.Minute)
		if err != nil {
			t.Fatalf("Lease = %v", err)
		}
		if ok {
			return time.Since(start), release
		}
		if time.Since(start) > limit {
			t.Fatalf("lease not acquired within %v", limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRedisLeaseDeadHolder: a replica that dies holding a lease (it took
// the lease for the whole fill, 1 min, then stopped renewing) blocks the
// others for at most the lease TTL, not for the minute.
func TestRedisLeaseDeadHolder(t *testing.T) {
	srv := redistest.Start(t)
	k := cachekey.New("ns", "openai/m", []byte("dead holder"))
	tests := []struct {
		name string
		kill func(t *testing.T) // takes the lease and dies
	}{
		{"raw client", func(t *testing.T) {
			// What a holder leaves behind: the key with the lease TTL.
			if err := srv.Client().Set(t.Context(), k.String()+":lease", "token of the dead", store.DefaultLeaseTTL).Err(); err != nil {
				t.Fatal(err)
			}
		}},
		{"closed store", func(t *testing.T) {
			a, err := store.NewRedis(t.Context(), store.RedisOptions{URL: srv.URL()})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok, err := a.Lease(t.Context(), k, time.Minute); err != nil || !ok {
				t.Fatalf("a.Lease = %v, %v; want acquired", ok, err)
			}
			a.Close() // the process is gone: no release, no more heartbeats
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newRedis(t, store.RedisOptions{URL: srv.URL()})
			tt.kill(t)
			if _, ok, err := b.Lease(t.Context(), k, time.Minute); err != nil || ok {
				t.Fatalf("b.Lease while the dead holder's key lives = %v, %v; want not acquired", ok, err)
			}
			took, release := acquireWithin(t, b, k, store.DefaultLeaseTTL+2*time.Second)
			release()
			t.Logf("dead holder: lease taken over after %v (lease TTL %v, polling every 50 ms)", took.Round(time.Millisecond), store.DefaultLeaseTTL)
		})
	}
}

// TestRedisLeaseHeartbeat: a live holder keeps its lease well past three
// lease TTLs; on release the lease is free at once and its heartbeat stops.
func TestRedisLeaseHeartbeat(t *testing.T) {
	srv := redistest.Start(t)
	const ttl = 300 * time.Millisecond
	a := newRedis(t, store.RedisOptions{URL: srv.URL(), LeaseTTL: ttl})
	b := newRedis(t, store.RedisOptions{URL: srv.URL(), LeaseTTL: ttl})
	ctx := t.Context()
	k := cachekey.New("ns", "openai/m", []byte("live holder"))
	release, ok, err := a.Lease(ctx, k, time.Minute)
	if err != nil || !ok {
		t.Fatalf("a.Lease = %v, %v; want acquired", ok, err)
	}
	if pttl := srv.Client().PTTL(ctx, k.String()+":lease").Val(); pttl <= 0 || pttl > ttl {
		t.Errorf("lease key PTTL = %v, want in (0, %v]", pttl, ttl)
	}
	for deadline := time.Now().Add(4 * ttl); time.Now().Before(deadline); time.Sleep(ttl / 4) {
		if _, ok, err := b.Lease(ctx, k, time.Minute); err != nil || ok {
			t.Fatalf("b.Lease while a is alive = %v, %v; want not acquired", ok, err)
		}
	}
	if got := store.Heartbeats(a); got != 1 {
		t.Errorf("%d heartbeats running, want 1", got)
	}
	release()
	if got := store.Heartbeats(a); got != 0 {
		t.Errorf("%d heartbeats running after release, want 0", got)
	}
	relB, ok, err := b.Lease(ctx, k, time.Minute)
	if err != nil || !ok {
		t.Fatalf("b.Lease after release = %v, %v; want acquired", ok, err)
	}
	relB()
}

// TestRedisLeaseBoundedByTTL: the heartbeat renews only for the ttl the
// caller asked for, so a holder whose fill hangs still loses the lease.
func TestRedisLeaseBoundedByTTL(t *testing.T) {
	srv := redistest.Start(t)
	a := newRedis(t, store.RedisOptions{URL: srv.URL(), LeaseTTL: 200 * time.Millisecond})
	b := newRedis(t, store.RedisOptions{URL: srv.URL(), LeaseTTL: 200 * time.Millisecond})
	k := cachekey.New("ns", "openai/m", []byte("hung fill"))
	release, ok, err := a.Lease(t.Context(), k, 500*time.Millisecond)
	if err != nil || !ok {
		t.Fatalf("a.Lease = %v, %v; want acquired", ok, err)
	}
	defer release()
	took, relB := acquireWithin(t, b, k, 5*time.Second)
	if took < 400*time.Millisecond {
		t.Errorf("b took a live holder's lease after %v, before its 500ms ttl", took)
	}
	// A's late release must not free B's lease.
	release()
	if _, ok, _ := a.Lease(t.Context(), k, time.Minute); ok {
		t.Error("the first holder's late release freed the second holder's lease")
	}
	relB()
}

// TestRedisLeaseCloseStopsHeartbeats: held leases are renewed past their
// TTL until the store closes; after Close every heartbeat ends and the
// leases expire.
func TestRedisLeaseCloseStopsHeartbeats(t *testing.T) {
	srv := redistest.Start(t)
	const ttl = 300 * time.Millisecond // renewed every 100 ms
	r, err := store.NewRedis(t.Context(), store.RedisOptions{URL: srv.URL(), LeaseTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	keys := make([]string, 5)
	for i := range keys {
		k := cachekey.New("ns", "r", []byte{byte(i)})
		keys[i] = k.String() + ":lease"
		if _, ok, err := r.Lease(t.Context(), k, time.Minute); err != nil || !ok {
			t.Fatalf("Lease %d = %v, %v", i, ok, err)
		}
	}
	if got := store.Heartbeats(r); got != 5 {
		t.Errorf("%d heartbeats running, want 5", got)
	}
	time.Sleep(3 * ttl)
	if n := srv.Client().Exists(t.Context(), keys...).Val(); n != 5 {
		t.Fatalf("%d of 5 held leases exist after three lease TTLs, want all: the heartbeat renews them", n)
	}
	r.Close()
	// A heartbeat ends at its next beat, a third of the TTL away.
	for deadline := time.Now().Add(10 * time.Second); store.Heartbeats(r) != 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if got := store.Heartbeats(r); got != 0 {
		t.Errorf("%d heartbeats running after Close, want 0", got)
	}
	time.Sleep(2 * ttl)
	if n := srv.Client().Exists(t.Context(), keys...).Val(); n != 0 {
		t.Errorf("%d of 5 leases still exist two lease TTLs after Close, want 0: nothing renews them", n)
	}
}
