package store

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dittocache/ditto/cachekey"
	"github.com/dittocache/ditto/internal/redistest"
)

// roundTrips counts what a client sends: one per command or pipeline,
// leaving out the handshake of a connection the pool opens.
type roundTrips struct{ n atomic.Int64 }

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() != "hello" && cmd.Name() != "client" { // a new pooled connection's handshake
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

func countedRedis(t *testing.T) (*Redis, *roundTrips) {
	t.Helper()
	srv := redistest.Start(t)
	r, err := NewRedis(t.Context(), RedisOptions{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	h := &roundTrips{}
	r.c.(*redis.Client).AddHook(h)
	// Load the release script once so the count below is the steady state
	// (a fresh Redis answers the first EVALSHA with NOSCRIPT).
	if err := releaseScript.Load(t.Context(), r.c).Err(); err != nil {
		t.Fatal(err)
	}
	h.n.Store(0)
	return r, h
}

// TestRedisMissRoundTrips pins the miss path's cost on Redis, the figure
// benchmarks/RESULTS.md reports: lookup (GET), lease and re-read (SET NX +
// GET, one pipeline), write and release (SET + EVALSHA, one pipeline) —
// three round trips; a hit is one.
func TestRedisMissRoundTrips(t *testing.T) {
	r, h := countedRedis(t)
	ctx := t.Context()
	k := cachekey.New("ns", "openai/m", []byte("round trips"))

	if _, ok, err := r.Get(ctx, k); err != nil || ok {
		t.Fatalf("Get on an empty store = %v, %v", ok, err)
	}
	held, _, found, err := r.LeaseGet(ctx, k, time.Minute)
	if err != nil || !held.Acquired || found {
		t.Fatalf("LeaseGet = acquired %v, found %v, %v; want the lease and no entry", held.Acquired, found, err)
	}
	e := Entry{Digest: k.Digest, Created: time.Now(), Body: []byte(`{"ok":true}`)}
	if err := r.SetRelease(ctx, k, e, time.Minute, held); err != nil {
		t.Fatal(err)
	}
	if got := h.n.Load(); got != 3 {
		t.Errorf("a miss took %d round trips, want 3", got)
	}
	if n, err := r.c.Exists(ctx, r.key(k)+leaseSuffix).Result(); err != nil || n != 0 {
		t.Errorf("lease key still there after SetRelease (exists=%d, %v)", n, err)
	}

	h.n.Store(0)
	got, ok, err := r.Get(ctx, k)
	if err != nil || !ok || string(got.Body) != `{"ok":true}` {
		t.Fatalf("Get after SetRelease = %q, %v, %v", got.Body, ok, err)
	}
	if n := h.n.Load(); n != 1 {
		t.Errorf("a hit took %d round trips, want 1", n)
	}
}

// TestRedisLeaseGetContention: of callers racing for one key's lease, one
// acquires it; the others see it held, and once the holder's SetRelease
// lands, their next LeaseGet returns the entry (and may take the free
// lease, which they must release).
func TestRedisLeaseGetContention(t *testing.T) {
	r, _ := countedRedis(t)
	ctx := t.Context()
	k := cachekey.New("ns", "openai/m", []byte("contention"))

	const callers = 8
	var (
		wg       sync.WaitGroup
		acquired atomic.Int32
		mu       sync.Mutex
		holders  []Held
	)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, _, found, err := r.LeaseGet(ctx, k, time.Minute)
			if err != nil || found {
				t.Errorf("LeaseGet = found %v, %v", found, err)
				return
			}
			if h.Acquired {
				acquired.Add(1)
				mu.Lock()
				holders = append(holders, h)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if n := acquired.Load(); n != 1 {
		t.Fatalf("%d of %d callers acquired the lease, want 1", n, callers)
	}
	e := Entry{Digest: k.Digest, Created: time.Now(), Body: []byte(`"answer"`)}
	if err := r.SetRelease(ctx, k, e, time.Minute, holders[0]); err != nil {
		t.Fatal(err)
	}
	h, got, found, err := r.LeaseGet(ctx, k, time.Minute)
	defer h.Release()
	if err != nil || !found || string(got.Body) != `"answer"` {
		t.Fatalf("a waiter's LeaseGet after the fill = %q, found %v, %v", got.Body, found, err)
	}
	if !h.Acquired {
		t.Error("the released lease was not free for the next caller")
	}
}

// TestRedisSetReleaseAfterScriptFlush: a Redis that lost the release
// script (restart, SCRIPT FLUSH) still gets the entry and the lease freed.
func TestRedisSetReleaseAfterScriptFlush(t *testing.T) {
	r, _ := countedRedis(t)
	ctx := t.Context()
	k := cachekey.New("ns", "openai/m", []byte("noscript"))
	h, _, _, err := r.LeaseGet(ctx, k, time.Minute)
	if err != nil || !h.Acquired {
		t.Fatalf("LeaseGet = %v, %v", h.Acquired, err)
	}
	if err := r.c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := r.SetRelease(ctx, k, Entry{Digest: k.Digest, Created: time.Now(), Body: []byte(`1`)}, time.Minute, h); err != nil {
		t.Fatal(err)
	}
	if n, _ := r.c.Exists(ctx, r.key(k)+leaseSuffix).Result(); n != 0 {
		t.Error("lease key left behind after NOSCRIPT")
	}
	if _, ok, _ := r.Get(ctx, k); !ok {
		t.Error("entry not written")
	}
}
