package store

import (
	"context"
	"errors"
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
	// Load the scripts once so the counts below are the steady state (a
	// fresh Redis answers the first EVALSHA with NOSCRIPT).
	for _, s := range []*redis.Script{releaseScript, setReleaseScript, getOrLeaseScript, getOrLeaseTTLScript} {
		if err := s.Load(t.Context(), r.c).Err(); err != nil {
			t.Fatal(err)
		}
	}
	h.n.Store(0)
	return r, h
}

// TestRedisMissRoundTrips pins the miss path's cost on Redis, the figure
// benchmarks/RESULTS.md reports: lookup and lease (GetOrLease, one script
// call), then write and release (one script, or SET + EVALSHA in one
// pipeline without autopipelining) — two round
// trips; a hit is one, and takes no lease.
func TestRedisMissRoundTrips(t *testing.T) {
	r, h := countedRedis(t)
	ctx := t.Context()
	k := cachekey.New("ns", "openai/m", []byte("round trips"))

	_, found, held, err := r.GetOrLease(ctx, k, time.Minute)
	if err != nil || !held.Acquired || found {
		t.Fatalf("GetOrLease on an empty store = found %v, acquired %v, %v; want the lease and no entry", found, held.Acquired, err)
	}
	if ttl, err := r.c.PTTL(ctx, r.key(k)+leaseSuffix).Result(); err != nil || ttl <= 0 || ttl > r.leaseTTL {
		t.Errorf("lease key TTL = %v, %v; want (0, %v]", ttl, err, r.leaseTTL)
	}
	h.n.Store(0) // the PTTL above is the test's own
	e := Entry{Digest: k.Digest, Created: time.Now(), Body: []byte(`{"ok":true}`)}
	if err := r.SetRelease(ctx, k, e, time.Minute, held); err != nil {
		t.Fatal(err)
	}
	if got := h.n.Load() + 1; got != 2 {
		t.Errorf("a miss took %d round trips, want 2", got)
	}
	if n, err := r.c.Exists(ctx, r.key(k)+leaseSuffix).Result(); err != nil || n != 0 {
		t.Errorf("lease key still there after SetRelease (exists=%d, %v)", n, err)
	}

	h.n.Store(0)
	got, ok, held, err := r.GetOrLease(ctx, k, time.Minute)
	if err != nil || !ok || held.Acquired || string(got.Body) != `{"ok":true}` || got.Digest != k.Digest {
		t.Fatalf("GetOrLease after SetRelease = %q, found %v, acquired %v, %v", got.Body, ok, held.Acquired, err)
	}
	if n := h.n.Load(); n != 1 {
		t.Errorf("a hit took %d round trips, want 1", n)
	}
	if n, err := r.c.Exists(ctx, r.key(k)+leaseSuffix).Result(); err != nil || n != 0 {
		t.Errorf("a hit left a lease key (exists=%d, %v)", n, err)
	}
}

// TestRedisGetOrLeaseHeld: while another replica holds the lease, a
// lookup neither takes it nor disturbs it; a corrupt entry is an error
// (counted, then a miss) and takes no lease.
func TestRedisGetOrLeaseHeld(t *testing.T) {
	r, _ := countedRedis(t)
	ctx := t.Context()
	k := cachekey.New("ns", "openai/m", []byte("held elsewhere"))
	if err := r.c.Set(ctx, r.key(k)+leaseSuffix, "other-replica", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	_, found, h, err := r.GetOrLease(ctx, k, time.Minute)
	if err != nil || found || h.Acquired {
		t.Fatalf("GetOrLease with the lease held elsewhere = found %v, acquired %v, %v", found, h.Acquired, err)
	}
	if v, _ := r.c.Get(ctx, r.key(k)+leaseSuffix).Result(); v != "other-replica" {
		t.Errorf("lease token = %q, want the other replica's", v)
	}

	bad := cachekey.New("ns", "openai/m", []byte("corrupt"))
	if err := r.c.Set(ctx, r.key(bad), "not an entry", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	_, found, h, err = r.GetOrLease(ctx, bad, time.Minute)
	if !errors.Is(err, ErrCorrupt) || found || h.Acquired {
		t.Errorf("GetOrLease of a corrupt value = found %v, acquired %v, %v; want ErrCorrupt, no lease", found, h.Acquired, err)
	}
	if _, _, _, err := r.GetOrLease(ctx, bad, 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("GetOrLease(ttl 0) = %v, want ErrInvalid", err)
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

// TestRedisSetReleaseAfterScriptFlush: a Redis that lost the scripts
// (restart, SCRIPT FLUSH) still answers a lookup, takes the lease, gets
// the entry and frees the lease.
func TestRedisSetReleaseAfterScriptFlush(t *testing.T) {
	r, _ := countedRedis(t)
	ctx := t.Context()
	k := cachekey.New("ns", "openai/m", []byte("noscript"))
	if err := r.c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	_, _, h, err := r.GetOrLease(ctx, k, time.Minute)
	if err != nil || !h.Acquired {
		t.Fatalf("GetOrLease after SCRIPT FLUSH = acquired %v, %v", h.Acquired, err)
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

// TestRedisSetReleaseIntoAFullRedis: when a noeviction Redis refuses the
// entry (OOM), SetRelease reports ErrFull and still frees the lease, so
// other replicas do not wait out its TTL; batched (one script) or not.
func TestRedisSetReleaseIntoAFullRedis(t *testing.T) {
	for _, no := range []bool{false, true} {
		srv := redistest.Start(t)
		ctx := t.Context()
		r, err := NewRedis(ctx, RedisOptions{URL: srv.URL(), NoAutoPipeline: no})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
		k := cachekey.New("ns", "openai/m", []byte("full"))
		_, _, h, err := r.GetOrLease(ctx, k, time.Minute)
		if err != nil || !h.Acquired {
			t.Fatalf("GetOrLease = acquired %v, %v", h.Acquired, err)
		}
		c := srv.Client()
		for _, kv := range [][2]string{{"maxmemory", "1mb"}, {"maxmemory-policy", "noeviction"}} {
			if err := c.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
				t.Fatal(err)
			}
		}
		body := make([]byte, 100<<10)
		for i := 0; ; i++ {
			if err := c.Set(ctx, "filler:"+string(rune('a'+i)), body, 0).Err(); err != nil {
				if !redis.IsOOMError(err) {
					t.Fatalf("filling Redis: %v after %d values", err, i)
				}
				break
			}
		}
		err = r.SetRelease(ctx, k, Entry{Digest: k.Digest, Created: time.Now(), Body: body}, time.Minute, h)
		if !errors.Is(err, ErrFull) {
			t.Errorf("autopipeline off %v: SetRelease into a full Redis = %v, want ErrFull", no, err)
		}
		if n, err := c.Exists(ctx, r.key(k)+leaseSuffix).Result(); err != nil || n != 0 {
			t.Errorf("autopipeline off %v: lease key left behind (exists=%d, %v)", no, n, err)
		}
		if n, _ := c.Exists(ctx, r.key(k)).Result(); n != 0 {
			t.Errorf("autopipeline off %v: an entry was written into a full Redis", no)
		}
	}
}
