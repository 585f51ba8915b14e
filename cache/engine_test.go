package cache_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dittocache/ditto/cache"
	"github.com/dittocache/ditto/cache/store"
	"github.com/dittocache/ditto/cachekey"
	"github.com/dittocache/ditto/internal/redistest"
	"github.com/dittocache/ditto/normalize"
)

// answer is a complete one-choice answer saying text.
func answer(text string) *normalize.Response {
	return &normalize.Response{ID: "chatcmpl-1", Created: 1, Model: "m",
		Choices: []normalize.Choice{{Message: normalize.Message{Role: "assistant", Content: []normalize.Part{{Type: "text", Text: text}}}, FinishReason: "stop"}},
		Usage:   &normalize.Usage{PromptTokens: 3, CompletionTokens: 2, TotalTokens: 5}}
}

// filler counts provider calls and answers each with text, after gate is
// closed (nil: at once).
type filler struct {
	calls atomic.Int64
	text  string
	err   error
	gate  chan struct{}
}

func (f *filler) fill(ctx context.Context, publish func(*normalize.Chunk)) (*normalize.Response, error) {
	f.calls.Add(1)
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if f.err != nil {
		return nil, f.err
	}
	s := f.text
	publish(&normalize.Chunk{Choices: []normalize.ChunkChoice{{Delta: normalize.Delta{Role: "assistant", Content: &s}}}})
	return answer(f.text), nil
}

var policy = cache.Policy{Lookup: true, Store: true, MaxAge: -1, TTL: time.Hour}

func key(s string) cachekey.Key { return cachekey.New("tenant", "openai/m", []byte(s)) }

func newEngine(t *testing.T, o cache.Options) (*cache.Engine, *store.Memory) {
	t.Helper()
	m := store.NewMemory(1 << 20)
	t.Cleanup(func() { m.Close() })
	return cache.New(m, o), m
}

// serve asks e for k and waits for the complete answer.
func serve(t *testing.T, e *cache.Engine, r *cache.Request) (*cache.Answer, *normalize.Response) {
	t.Helper()
	a, err := e.Serve(context.Background(), r)
	if err != nil {
		t.Fatalf("Serve = %v", err)
	}
	defer a.Close()
	if err := a.Wait(context.Background()); err != nil {
		t.Fatalf("Wait = %v", err)
	}
	if a.Err() != nil {
		return a, nil
	}
	resp, err := a.Response()
	if err != nil {
		t.Fatalf("Response = %v", err)
	}
	return a, resp
}

func TestMissThenHit(t *testing.T) {
	e, _ := newEngine(t, cache.Options{Coalesce: true})
	f := &filler{text: "hello"}
	r := func() *cache.Request {
		return &cache.Request{Key: key("q"), Policy: policy, Fill: cache.FillFunc(f.fill)}
	}
	a, resp := serve(t, e, r())
	if a.Status != cache.Miss || !a.Stored || resp.Choices[0].Message.Text() != "hello" {
		t.Fatalf("first: %v stored=%v %v, want MISS stored hello", a.Status, a.Stored, resp)
	}
	a, resp = serve(t, e, r())
	if a.Status != cache.Hit || resp.Choices[0].Message.Text() != "hello" || f.calls.Load() != 1 {
		t.Fatalf("second: %v %v after %d calls, want HIT hello after 1", a.Status, resp, f.calls.Load())
	}
	sum, err := a.Summary()
	if err != nil || sum.Usage.TotalTokens != 5 || sum.Choices[0].FinishReason != "stop" {
		t.Errorf("Summary = %+v, %v", sum, err)
	}
}

func TestCoalescedFollowersShareOneCall(t *testing.T) {
	e, _ := newEngine(t, cache.Options{Coalesce: true})
	f := &filler{text: "shared", gate: make(chan struct{})}
	var coalesced atomic.Int64
	e2 := cache.New(e.Store(), cache.Options{Coalesce: true, Observer: cache.Observer{Coalesced: func(string) { coalesced.Add(1) }}})
	const n = 20
	var wg sync.WaitGroup
	statuses := make(chan cache.Status, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := e2.Serve(context.Background(), &cache.Request{Key: key("same"), Policy: policy, Stream: true, Fill: cache.FillFunc(f.fill)})
			if err != nil {
				t.Error(err)
				return
			}
			defer a.Close()
			for {
				_, done, err := a.Next(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				if done {
					break
				}
			}
			statuses <- a.Status
		}()
	}
	waitFor(t, func() bool { return e2.Followers(key("same")) == n })
	close(f.gate)
	wg.Wait()
	close(statuses)
	count := map[cache.Status]int{}
	for s := range statuses {
		count[s]++
	}
	if f.calls.Load() != 1 || count[cache.Miss] != 1 || count[cache.Coalesced] != n-1 || coalesced.Load() != n-1 {
		t.Errorf("calls %d, statuses %v, observed %d coalesced; want 1 call, 1 MISS, %d COALESCED", f.calls.Load(), count, coalesced.Load(), n-1)
	}
}

// A leader whose client leaves does not cancel the call for its
// followers; the last one out does.
func TestLeaderLeavingKeepsTheCallForFollowers(t *testing.T) {
	e, _ := newEngine(t, cache.Options{Coalesce: true})
	f := &filler{text: "kept", gate: make(chan struct{})}
	r := &cache.Request{Key: key("leave"), Policy: policy, Stream: true, Fill: cache.FillFunc(f.fill)}
	lctx, leave := context.WithCancel(context.Background())
	leader, _ := e.Serve(lctx, r)
	follower, _ := e.Serve(context.Background(), &cache.Request{Key: key("leave"), Policy: policy, Stream: true, Fill: cache.FillFunc(f.fill)})
	leave()
	leader.Close()
	close(f.gate)
	if err := follower.Wait(context.Background()); err != nil || follower.Err() != nil {
		t.Fatalf("follower: %v, %v", err, follower.Err())
	}
	follower.Close()
	if follower.Status != cache.Coalesced || !follower.Stored {
		t.Errorf("follower: %v stored=%v, want COALESCED and the answer stored", follower.Status, follower.Stored)
	}
}

func TestStaleIfError(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { return now }
	e, _ := newEngine(t, cache.Options{StaleIfError: time.Hour, ServeStale: func(error) bool { return true }, Now: clock})
	pol := policy
	pol.TTL = time.Minute
	ok := &filler{text: "old"}
	serve(t, e, &cache.Request{Key: key("s"), Policy: pol, Fill: cache.FillFunc(ok.fill)})
	now = now.Add(2 * time.Minute) // past the fresh lifetime
	down := &filler{err: errors.New("provider down")}
	a, resp := serve(t, e, &cache.Request{Key: key("s"), Policy: pol, Fill: cache.FillFunc(down.fill)})
	if a.Status != cache.Stale || resp == nil || resp.Choices[0].Message.Text() != "old" || a.FillErr == nil || a.Age != 2*time.Minute {
		t.Fatalf("stale: %v %v age %v fillErr %v, want STALE old 2m with the error", a.Status, resp, a.Age, a.FillErr)
	}
	// Without ServeStale's consent the error stands.
	e2 := cache.New(e.Store(), cache.Options{StaleIfError: time.Hour, Now: clock})
	a, _ = serve(t, e2, &cache.Request{Key: key("s"), Policy: pol, Fill: cache.FillFunc(down.fill)})
	if a.Status == cache.Stale || a.Err() == nil {
		t.Errorf("without ServeStale: %v err %v, want the error", a.Status, a.Err())
	}
}

func TestOnlyIfCachedAndBypass(t *testing.T) {
	e, m := newEngine(t, cache.Options{Coalesce: true})
	f := &filler{text: "x"}
	only := policy
	only.OnlyIfCached = true
	if _, err := e.Serve(context.Background(), &cache.Request{Key: key("o"), Policy: only, Fill: cache.FillFunc(f.fill)}); !errors.Is(err, cache.ErrNotCached) {
		t.Fatalf("only-if-cached miss: %v, want ErrNotCached", err)
	}
	var chunks int
	a, _ := serve(t, e, &cache.Request{Key: key("o"), Policy: cache.Policy{MaxAge: -1}, Stream: true, Fill: cache.FillFunc(f.fill),
		Sink: func(*normalize.Chunk) { chunks++ }})
	if a.Status != cache.Bypass || a.Stored || chunks != 1 {
		t.Errorf("no-store: %v stored=%v chunks to the sink %d, want BYPASS, not stored, 1", a.Status, a.Stored, chunks)
	}
	if _, ok, _ := m.Get(context.Background(), key("o")); ok {
		t.Error("a no-store answer was stored")
	}
	refresh := policy
	refresh.Lookup = false
	a, _ = serve(t, e, &cache.Request{Key: key("o"), Policy: refresh, Fill: cache.FillFunc(f.fill)})
	if a.Status != cache.Bypass || !a.Stored {
		t.Errorf("no-cache: %v stored=%v, want BYPASS and stored", a.Status, a.Stored)
	}
}

// sharedMemory is a memory store that says others write to it too, as a
// Redis store does.
type sharedMemory struct{ *store.Memory }

func (s sharedMemory) Status() store.Status { st := s.Memory.Status(); st.Shared = true; return st }

// Entries that are not the request's (digest) or, in a store others write
// to, not an answer the codec wrote (someone else's bytes) are misses,
// reported, and overwritten.
func TestUntrustedEntriesAreMisses(t *testing.T) {
	var mismatches, decodeErrs atomic.Int64
	m := store.NewMemory(1 << 20)
	t.Cleanup(func() { m.Close() })
	e := cache.New(sharedMemory{m}, cache.Options{Observer: cache.Observer{
		Mismatch:   func() { mismatches.Add(1) },
		StoreError: func(op string, _ error) { decodeErrs.Add(1) },
	}})
	ctx := context.Background()
	k := key("u")
	other := key("other")
	m.Set(ctx, k, store.Entry{Digest: other.Digest, Created: time.Now(), Body: []byte(`{"id":"x"}`)}, time.Hour)
	f := &filler{text: "own"}
	a, resp := serve(t, e, &cache.Request{Key: k, Policy: policy, Fill: cache.FillFunc(f.fill)})
	if a.Status != cache.Miss || resp.Choices[0].Message.Text() != "own" || mismatches.Load() != 1 {
		t.Fatalf("misplaced entry: %v %v, %d mismatches; want MISS with its own answer, 1", a.Status, resp, mismatches.Load())
	}
	m.Set(ctx, k, store.Entry{Digest: k.Digest, Created: time.Now(), Body: []byte(`{"id":"x", not json`)}, time.Hour)
	a, _ = serve(t, e, &cache.Request{Key: k, Policy: policy, Fill: cache.FillFunc(f.fill)})
	if a.Status != cache.Miss || decodeErrs.Load() != 1 {
		t.Errorf("garbage body: %v, %d decode errors; want MISS, 1", a.Status, decodeErrs.Load())
	}
	if a, _ := serve(t, e, &cache.Request{Key: k, Policy: policy, Fill: cache.FillFunc(f.fill)}); a.Status != cache.Hit {
		t.Errorf("after the refill: %v, want HIT", a.Status)
	}
}

// An incomplete answer (a choice without a finish reason) is an error and
// never stored.
func TestIncompleteAnswersAreNotStored(t *testing.T) {
	e, m := newEngine(t, cache.Options{})
	fill := func(context.Context, func(*normalize.Chunk)) (*normalize.Response, error) {
		r := answer("cut")
		r.Choices[0].FinishReason = ""
		return r, nil
	}
	a, _ := serve(t, e, &cache.Request{Key: key("i"), Policy: policy, Fill: cache.FillFunc(fill)})
	if !errors.Is(a.Err(), cache.ErrIncomplete) || a.Stored {
		t.Errorf("incomplete: err %v stored %v, want ErrIncomplete, not stored", a.Err(), a.Stored)
	}
	if _, ok, _ := m.Get(context.Background(), key("i")); ok {
		t.Error("an incomplete answer was stored")
	}
}

// Two engines (replicas) on one Redis: a miss on the second waits for the
// first's fill and is COALESCED, with one provider call.
func TestCrossReplicaFillLease(t *testing.T) {
	srv := redistest.Start(t)
	waiting := make(chan struct{}, 1)
	open := func() *cache.Engine {
		r, err := store.NewRedis(context.Background(), store.RedisOptions{URL: srv.URL()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return cache.New(r, cache.Options{Coalesce: true, FillWait: 10 * time.Second, Observer: cache.Observer{
			Wait: func(context.Context) func() { waiting <- struct{}{}; return func() {} }}})
	}
	a, b := open(), open()
	f := &filler{text: "once", gate: make(chan struct{})}
	k := key("lease")
	first, _ := a.Serve(context.Background(), &cache.Request{Key: k, Policy: policy, Stream: true, Fill: cache.FillFunc(f.fill)})
	defer first.Close()
	waitFor(t, func() bool { return f.calls.Load() == 1 }) // the first holds the lease and calls
	done := make(chan *cache.Answer)
	go func() {
		ans, _ := serve(t, b, &cache.Request{Key: k, Policy: policy, Fill: cache.FillFunc(f.fill)})
		done <- ans
	}()
	<-waiting // the second found the lease taken and waits for the fill
	close(f.gate)
	second := <-done
	if second.Status != cache.Coalesced || f.calls.Load() != 1 {
		t.Errorf("second replica: %v after %d calls, want COALESCED after 1", second.Status, f.calls.Load())
	}
}

// countingStore counts the store calls the engine makes.
type countingStore struct {
	cache.Store
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingStore) count(name string) {
	c.mu.Lock()
	c.calls[name]++
	c.mu.Unlock()
}

// take returns the calls counted so far and starts over.
func (c *countingStore) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.calls
	c.calls = map[string]int{}
	return got
}

func (c *countingStore) Get(ctx context.Context, k cachekey.Key) (store.Entry, bool, error) {
	c.count("Get")
	return c.Store.Get(ctx, k)
}

func (c *countingStore) GetOrLease(ctx context.Context, k cachekey.Key, ttl time.Duration) (store.Entry, bool, store.Held, error) {
	c.count("GetOrLease")
	return c.Store.GetOrLease(ctx, k, ttl)
}

func (c *countingStore) LeaseGet(ctx context.Context, k cachekey.Key, ttl time.Duration) (store.Held, store.Entry, bool, error) {
	c.count("LeaseGet")
	return c.Store.LeaseGet(ctx, k, ttl)
}

func (c *countingStore) Set(ctx context.Context, k cachekey.Key, e store.Entry, ttl time.Duration) error {
	c.count("Set")
	return c.Store.Set(ctx, k, e, ttl)
}

func (c *countingStore) SetRelease(ctx context.Context, k cachekey.Key, e store.Entry, ttl time.Duration, h store.Held) error {
	c.count("SetRelease")
	return c.Store.SetRelease(ctx, k, e, ttl, h)
}

// newRedisStore opens a store on a private redis-server.
func newRedisStore(t *testing.T) *store.Redis {
	t.Helper()
	r, err := store.NewRedis(context.Background(), store.RedisOptions{URL: redistest.Start(t).URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestRedisMissStoreCalls: on a shared store, a miss's lookup takes the
// fill lease (GetOrLease) and its write releases it (SetRelease): two
// round trips on Redis (store.TestRedisMissRoundTrips), where a separate
// lookup and lease took three. A hit is one GetOrLease, which takes no
// lease, so the next miss of the key is not held up.
func TestRedisMissStoreCalls(t *testing.T) {
	r := newRedisStore(t)
	st := &countingStore{Store: r, calls: map[string]int{}}
	e := cache.New(st, cache.Options{Coalesce: true, FillWait: 10 * time.Second})
	f := &filler{text: "answer"}
	a, _ := serve(t, e, &cache.Request{Key: key("calls"), Policy: policy, Fill: cache.FillFunc(f.fill)})
	if a.Status != cache.Miss || !a.Stored {
		t.Fatalf("first request: %v stored %v, want a stored MISS", a.Status, a.Stored)
	}
	if got := st.take(); len(got) != 2 || got["GetOrLease"] != 1 || got["SetRelease"] != 1 {
		t.Errorf("a miss made the store calls %v; want GetOrLease and SetRelease once each", got)
	}
	a, _ = serve(t, e, &cache.Request{Key: key("calls"), Policy: policy, Fill: cache.FillFunc(f.fill)})
	if a.Status != cache.Hit || f.calls.Load() != 1 {
		t.Fatalf("second request: %v after %d calls, want HIT after 1", a.Status, f.calls.Load())
	}
	if got := st.take(); len(got) != 1 || got["GetOrLease"] != 1 {
		t.Errorf("a hit made the store calls %v; want one GetOrLease", got)
	}

	// A request the caller expects to hit (ExpectHit: the gateway's memo
	// knows it) is looked up with a plain read; if it misses after all,
	// the fill still takes the lease, in a round trip of its own.
	a, _ = serve(t, e, &cache.Request{Key: key("calls"), Policy: policy, Fill: cache.FillFunc(f.fill), ExpectHit: true})
	if a.Status != cache.Hit {
		t.Fatalf("expected hit: %v", a.Status)
	}
	if got := st.take(); len(got) != 1 || got["Get"] != 1 {
		t.Errorf("an expected hit made the store calls %v; want one Get", got)
	}
	a, _ = serve(t, e, &cache.Request{Key: key("expired"), Policy: policy, Fill: cache.FillFunc(f.fill), ExpectHit: true})
	if a.Status != cache.Miss || !a.Stored {
		t.Fatalf("expected hit that missed: %v stored %v, want a stored MISS", a.Status, a.Stored)
	}
	if got := st.take(); len(got) != 3 || got["Get"] != 1 || got["LeaseGet"] != 1 || got["SetRelease"] != 1 {
		t.Errorf("an expected hit that missed made the store calls %v; want Get, LeaseGet and SetRelease once each", got)
	}

	// Without cross-replica coalescing a miss takes no lease: a plain
	// lookup and write.
	plain := cache.New(st, cache.Options{Coalesce: true})
	serve(t, plain, &cache.Request{Key: key("no lease"), Policy: policy, Fill: cache.FillFunc(f.fill)})
	if got := st.take(); len(got) != 2 || got["Get"] != 1 || got["Set"] != 1 {
		t.Errorf("a miss without FillWait made the store calls %v; want Get and Set once each", got)
	}
}

// TestGetOrLeaseFollowerReleases: requests of one process that miss the
// same key at once each take the lease with the lookup only if it is free;
// the one that took it but joined another's flight (a follower) releases
// it, so the flight's leader is not left waiting on its own replica's
// lease: one provider call, and the lease is free afterwards.
func TestGetOrLeaseFollowerReleases(t *testing.T) {
	r := newRedisStore(t)
	e := cache.New(r, cache.Options{Coalesce: true, FillWait: 10 * time.Second})
	f := &filler{text: "once", gate: make(chan struct{})}
	k := key("follower")
	const n = 8
	var wg sync.WaitGroup
	answers := make([]*cache.Answer, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := e.Serve(context.Background(), &cache.Request{Key: k, Policy: policy, Stream: true, Fill: cache.FillFunc(f.fill)})
			if err != nil {
				t.Errorf("Serve = %v", err)
				return
			}
			answers[i] = a
		}()
	}
	wg.Wait()
	close(f.gate)
	for _, a := range answers {
		if a == nil {
			continue
		}
		if err := a.Wait(context.Background()); err != nil || a.Err() != nil {
			t.Errorf("Wait = %v, %v", err, a.Err())
		}
		a.Close()
	}
	if got := f.calls.Load(); got != 1 {
		t.Errorf("%d provider calls for %d identical requests, want 1", got, n)
	}
	release, ok, err := r.Lease(context.Background(), k, time.Minute)
	if err != nil || !ok {
		t.Fatalf("Lease after the fill = %v, %v; want the lease free", ok, err)
	}
	release()
}

// waitFor polls cond for up to 10 s: a bound for progress, not a timing.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStaleWhileRevalidate(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	var revalidated atomic.Int64
	e, _ := newEngine(t, cache.Options{Coalesce: true, StaleIfError: time.Hour, StaleWhileRevalidate: 10 * time.Minute, Now: clock,
		Observer: cache.Observer{Revalidated: func(string, error) { revalidated.Add(1) }}})
	pol := policy
	pol.TTL = time.Minute
	old := &filler{text: "old"}
	serve(t, e, &cache.Request{Key: key("swr"), Policy: pol, Fill: cache.FillFunc(old.fill)})
	mu.Lock()
	now = now.Add(3 * time.Minute) // stale, within the revalidation window
	mu.Unlock()
	fresh := &filler{text: "new", gate: make(chan struct{})}
	for range 3 {
		a, resp := serve(t, e, &cache.Request{Key: key("swr"), Policy: pol, Fill: cache.FillFunc(fresh.fill)})
		if a.Status != cache.Stale || !a.Revalidating || resp.Choices[0].Message.Text() != "old" {
			t.Fatalf("during revalidation: %v revalidating=%v %q, want STALE old at once", a.Status, a.Revalidating, resp.Choices[0].Message.Text())
		}
	}
	close(fresh.gate)
	waitFor(t, func() bool { return revalidated.Load() == 1 })
	a, resp := serve(t, e, &cache.Request{Key: key("swr"), Policy: pol, Fill: cache.FillFunc(fresh.fill)})
	if a.Status != cache.Hit || resp.Choices[0].Message.Text() != "new" || fresh.calls.Load() != 1 {
		t.Errorf("after the refresh: %v %q after %d refreshes, want HIT new after 1", a.Status, resp.Choices[0].Message.Text(), fresh.calls.Load())
	}
	// Past the window the entry is only a stale-if-error candidate.
	mu.Lock()
	now = now.Add(30 * time.Minute)
	mu.Unlock()
	a, _ = serve(t, e, &cache.Request{Key: key("swr"), Policy: pol, Fill: cache.FillFunc(fresh.fill)})
	if a.Status != cache.Miss {
		t.Errorf("past the window: %v, want MISS", a.Status)
	}
}

func TestShadowMode(t *testing.T) {
	var shadow atomic.Int64
	e, _ := newEngine(t, cache.Options{Coalesce: true, Observer: cache.Observer{ShadowHit: func(string) { shadow.Add(1) }}})
	pol := policy
	pol.Shadow = true
	f := &filler{text: "x"}
	for i := range 3 {
		a, _ := serve(t, e, &cache.Request{Key: key("shadow"), Policy: pol, Fill: cache.FillFunc(f.fill)})
		if a.Status != cache.Miss || !a.Stored {
			t.Errorf("request %d: %v stored=%v, want MISS stored", i, a.Status, a.Stored)
		}
	}
	if f.calls.Load() != 3 || shadow.Load() != 2 {
		t.Errorf("calls %d, shadow hits %d; want 3 calls (nothing served from the cache) and 2 would-be hits", f.calls.Load(), shadow.Load())
	}
}

// hookStore runs afterGet (once) when a Get has read the store, and
// reports itself shared when told to.
type hookStore struct {
	cache.Store
	shared   bool
	afterGet func()
}

func (h *hookStore) Get(ctx context.Context, k cachekey.Key) (store.Entry, bool, error) {
	e, ok, err := h.Store.Get(ctx, k)
	if f := h.afterGet; f != nil {
		h.afterGet = nil
		f()
	}
	return e, ok, err
}

func (h *hookStore) Status() store.Status {
	s := h.Store.Status()
	s.Shared = s.Shared || h.shared
	return s
}

// A retry whose read of the record comes just before the holder records
// its answer and lets the key go gets that answer (or the conflict), not a
// claim of its own: the request would run twice.
func TestClaimSeesTheRecordLandedBeforeTheClaim(t *testing.T) {
	for _, shared := range []bool{false, true} {
		for _, sameRequest := range []bool{true, false} {
			m := store.NewMemory(1 << 20)
			t.Cleanup(func() { m.Close() })
			hs := &hookStore{Store: m, shared: shared}
			e := cache.New(hs, cache.Options{})
			f := &filler{text: "paid once"}
			serve(t, e, &cache.Request{Key: key("q"), Policy: policy, Fill: cache.FillFunc(f.fill)})
			answered, ok, err := m.Get(context.Background(), key("q"))
			if !ok || err != nil {
				t.Fatalf("the answer was not stored: %v", err)
			}
			o := cache.Once{Key: cache.RecordKey("tenant", "idempotency", "key-1"), Fingerprint: [32]byte{1}, TTL: time.Hour}
			holder, rec, err := e.Claim(context.Background(), o)
			if holder == nil || rec != nil || err != nil {
				t.Fatalf("first Claim = %v, %v, %v; want a claim", holder, rec, err)
			}
			hs.afterGet = func() { holder.Done(context.Background(), answered) }
			retry := o
			if !sameRequest {
				retry.Fingerprint = [32]byte{2}
			}
			c, rec, err := e.Claim(context.Background(), retry)
			switch {
			case c != nil:
				c.Abort()
				t.Errorf("shared %v, same request %v: the retry got a claim (the request runs again)", shared, sameRequest)
			case sameRequest && (rec == nil || err != nil || string(rec.Body) != string(answered.Body)):
				t.Errorf("shared %v: retry = %v, %v; want the recorded answer", shared, rec, err)
			case !sameRequest && !errors.Is(err, cache.ErrConflict):
				t.Errorf("shared %v, another request: err = %v, want ErrConflict", shared, err)
			}
		}
	}
}
