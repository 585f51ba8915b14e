package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
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

func newRedis(t *testing.T, opts store.RedisOptions) *store.Redis {
	t.Helper()
	r, err := store.NewRedis(t.Context(), opts)
	if err != nil {
		t.Fatalf("NewRedis = %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func TestRedis(t *testing.T) {
	srv := redistest.Start(t)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) store.Backend {
		// One server; a fresh KeyPrefix gives each subtest an empty store.
		return newRedis(t, store.RedisOptions{URL: srv.URL(), KeyPrefix: fmt.Sprintf("test%d|", n.Add(1))})
	})
}

// TestRedisNoAutoPipeline runs the suite with every command on its own
// round trip (cache.redis.autopipeline: false).
func TestRedisNoAutoPipeline(t *testing.T) {
	srv := redistest.Start(t)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) store.Backend {
		return newRedis(t, store.RedisOptions{URL: srv.URL(), NoAutoPipeline: true, KeyPrefix: fmt.Sprintf("test%d|", n.Add(1))})
	})
}

// TestRedisLookupsArePipelined checks that concurrent lookups share
// pipelines: 64 goroutines × 50 Gets reach Redis over far fewer
// connection reads than commands (INFO stats: total_reads_processed),
// and one by one without autopipelining.
func TestRedisLookupsArePipelined(t *testing.T) {
	for _, tc := range []struct {
		name string
		no   bool
	}{{"autopipeline", false}, {"off", true}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			r := newRedis(t, store.RedisOptions{URL: srv.URL(), NoAutoPipeline: tc.no})
			const workers, each = 64, 50
			got := srv.ReadsDuring(workers, each, func(w, i int) bool {
				_, _, err := r.Get(context.Background(), cachekey.Key{Namespace: "t", Route: "m", Hash: uint64(w*each + i)})
				if err != nil {
					t.Error(err)
				}
				return err == nil
			})
			t.Logf("%d Gets, %d reads by Redis", workers*each, got)
			if tc.no && got < workers*each {
				t.Errorf("without autopipelining: %d reads for %d Gets, want one each", got, workers*each)
			}
			if !tc.no && got > workers*each/2 {
				t.Errorf("autopipelined: %d reads for %d Gets, want at most half", got, workers*each)
			}
		})
	}
}

func TestRedisBreaker(t *testing.T) {
	srv := redistest.Start(t)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) store.Backend {
		r := newRedis(t, store.RedisOptions{URL: srv.URL(), KeyPrefix: fmt.Sprintf("test%d|", n.Add(1))})
		return store.NewBreaker(r, store.BreakerOptions{})
	})
}

// TestRedisKeyPrefix checks that the prefix, even with glob characters,
// scopes both keys and purges.
func TestRedisKeyPrefix(t *testing.T) {
	srv := redistest.Start(t)
	a := newRedis(t, store.RedisOptions{URL: srv.URL(), KeyPrefix: "dep*a:"})
	b := newRedis(t, store.RedisOptions{URL: srv.URL(), KeyPrefix: "dep-a:"})
	ctx := t.Context()
	k := cachekey.New("ns", "r", []byte("c"))
	for _, s := range []*store.Redis{a, b} {
		if err := s.Set(ctx, k, store.Entry{Digest: k.Digest, Body: []byte("x")}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.Client().Exists(ctx, "dep*a:"+k.String(), "dep-a:"+k.String()).Val(); got != 2 {
		t.Fatalf("EXISTS on the prefixed keys = %d, want 2", got)
	}
	if n, err := a.Purge(ctx, "ditto:"); n != 1 || err != nil {
		t.Errorf("Purge = %d, %v; want 1, nil", n, err)
	}
	if _, ok, err := b.Get(ctx, k); !ok || err != nil {
		t.Errorf("other prefix after Purge: Get = %v, %v; want hit", ok, err)
	}
}

// TestRedisCorrupt stores garbage and old-format values directly: Get must
// report ErrCorrupt as a miss, the breaker must not count it, and the next
// Set must overwrite it.
func TestRedisCorrupt(t *testing.T) {
	srv := redistest.Start(t)
	r := newRedis(t, store.RedisOptions{URL: srv.URL()})
	b := store.NewBreaker(r, store.BreakerOptions{Failures: 1})
	ctx := t.Context()
	old := store.MarshalEntry(store.Entry{Body: []byte("{}")})
	old[3] = 0 // an older format version
	tests := []struct {
		name string
		give []byte
	}{
		{"garbage", []byte("garbage")},
		{"empty", nil},
		{"json", []byte(`{"object":"chat.completion"}`)},
		{"old version", old},
		{"truncated", store.MarshalEntry(store.Entry{Body: []byte("hello")})[:55]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := cachekey.New("ns", "r", []byte(tt.name))
			if err := srv.Client().Set(ctx, k.String(), tt.give, time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
			e, ok, err := b.Get(ctx, k)
			if !errors.Is(err, store.ErrCorrupt) || ok || e.Body != nil {
				t.Errorf("Get(corrupt) = %+v, %v, %v; want zero, false, ErrCorrupt", e, ok, err)
			}
			if st := b.State(); st != "closed" {
				t.Errorf("breaker state after ErrCorrupt = %q, want closed", st)
			}
			want := store.Entry{Digest: k.Digest, Body: []byte("fresh")}
			if err := b.Set(ctx, k, want, time.Hour); err != nil {
				t.Fatal(err)
			}
			if got, ok, err := b.Get(ctx, k); !ok || err != nil || !bytes.Equal(got.Body, want.Body) {
				t.Errorf("Get after refill = %q, %v, %v; want %q", got.Body, ok, err, want.Body)
			}
		})
	}
}

// TestRedisNoEviction fills a Redis limited to 1 MB with noeviction: a
// write fails with an OOM error wrapping ErrFull, the writes that follow
// fail fast with ErrFull without reaching Redis, reads of stored entries
// still hit, the breaker stays closed, and writes resume after the
// cool-down once Redis has room.
func TestRedisNoEviction(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	r := newRedis(t, store.RedisOptions{URL: srv.URL(), FullCoolDown: 300 * time.Millisecond})
	b := store.NewBreaker(r, store.BreakerOptions{Failures: 1})
	stored := cachekey.New("ns", "r", []byte("stored before"))
	if err := b.Set(ctx, stored, store.Entry{Digest: stored.Digest, Body: []byte("kept")}, time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, kv := range [][2]string{{"maxmemory", "1mb"}, {"maxmemory-policy", "noeviction"}} {
		if err := c.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			t.Fatal(err)
		}
	}
	body := bytes.Repeat([]byte("x"), 100<<10)
	var setErr error
	for i := 0; i < 40 && setErr == nil; i++ {
		k := cachekey.New("ns", "r", fmt.Append(nil, i))
		setErr = b.Set(ctx, k, store.Entry{Digest: k.Digest, Body: body}, time.Hour)
	}
	if !errors.Is(setErr, store.ErrFull) || !strings.Contains(setErr.Error(), "OOM") {
		t.Fatalf("Set into a full noeviction Redis = %v, want an OOM error wrapping ErrFull", setErr)
	}
	sets := func() int64 {
		info := c.Info(ctx, "commandstats").Val()
		for _, line := range strings.Split(info, "\n") {
			if rest, ok := strings.CutPrefix(line, "cmdstat_set:calls="); ok {
				n, _ := strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
				return n
			}
		}
		return 0
	}
	before := sets()
	k := cachekey.New("ns", "r", []byte("during cool-down"))
	for range 20 {
		if err := b.Set(ctx, k, store.Entry{Digest: k.Digest, Body: []byte("small")}, time.Hour); !errors.Is(err, store.ErrFull) {
			t.Fatalf("Set during the cool-down = %v, want ErrFull", err)
		}
	}
	if _, _, err := b.Lease(ctx, k, time.Second); !errors.Is(err, store.ErrFull) {
		t.Errorf("Lease during the cool-down = %v, want ErrFull", err)
	}
	if _, found, h, err := b.GetOrLease(ctx, k, time.Second); err != nil || found || h.Acquired {
		t.Errorf("GetOrLease of a missing key during the cool-down = found %v, acquired %v, %v; want a plain miss", found, h.Acquired, err)
	}
	if got, ok, h, err := b.GetOrLease(ctx, stored, time.Second); err != nil || !ok || h.Acquired || string(got.Body) != "kept" {
		t.Errorf("GetOrLease of a stored entry during the cool-down = %q, %v, %v; want a hit", got.Body, ok, err)
	}
	if after := sets(); after != before {
		t.Errorf("SET calls during the cool-down: %d, want 0", after-before)
	}
	if got, ok, err := b.Get(ctx, stored); err != nil || !ok || string(got.Body) != "kept" {
		t.Errorf("Get of a stored entry on a full Redis = %q, %v, %v; want a hit", got.Body, ok, err)
	}
	if st := b.State(); st != "closed" {
		t.Errorf("breaker state after OOM = %q, want closed", st)
	}

	if err := c.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(350 * time.Millisecond) // past the cool-down
	if err := b.Set(ctx, k, store.Entry{Digest: k.Digest, Body: []byte("small")}, time.Hour); err != nil {
		t.Errorf("Set after the cool-down with room again = %v, want nil", err)
	}

	// Full again: a miss's GetOrLease, whose lease SET Redis refuses, is
	// a plain miss and starts the cool-down.
	if err := c.ConfigSet(ctx, "maxmemory", "1mb").Err(); err != nil {
		t.Fatal(err)
	}
	missing := cachekey.New("ns", "r", []byte("missing when full"))
	if _, found, h, err := b.GetOrLease(ctx, missing, time.Second); err != nil || found || h.Acquired {
		t.Errorf("GetOrLease of a missing key on a full Redis = found %v, acquired %v, %v; want a plain miss", found, h.Acquired, err)
	}
	before = sets()
	if err := b.Set(ctx, missing, store.Entry{Digest: missing.Digest, Body: []byte("small")}, time.Hour); !errors.Is(err, store.ErrFull) {
		t.Errorf("Set after GetOrLease met OOM = %v, want ErrFull (the cool-down)", err)
	}
	if after := sets(); after != before {
		t.Errorf("SET calls after GetOrLease met OOM: %d, want 0", after-before)
	}
}

// TestRedisWrongType: values of another type under many store keys (a
// shared Redis, another writer) fail those reads with a WRONGTYPE reply but
// do not open the breaker, so other cached prompts still hit.
func TestRedisWrongType(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	r := newRedis(t, store.RedisOptions{URL: srv.URL()})
	b := store.NewBreaker(r, store.BreakerOptions{Failures: 2})
	good := cachekey.New("ns", "r", []byte("good"))
	if err := b.Set(ctx, good, store.Entry{Digest: good.Digest, Body: []byte("answer")}, time.Hour); err != nil {
		t.Fatal(err)
	}
	var bad []cachekey.Key
	for i := range 20 {
		k := cachekey.New("ns", "r", fmt.Appendf(nil, "list %d", i))
		bad = append(bad, k)
		if err := c.RPush(ctx, k.String(), "not an entry").Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range bad {
		_, ok, err := b.Get(ctx, k)
		if err == nil || ok || errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "WRONGTYPE") {
			t.Errorf("Get(list) = %v, %v; want a WRONGTYPE error", ok, err)
		}
		if store.Transient(err) {
			t.Errorf("Transient(%v) = true, want false", err)
		}
	}
	rs, err := b.GetMany(ctx, append(bad[:3:3], good))
	if err != nil {
		t.Fatalf("GetMany over WRONGTYPE keys = %v, want per-key errors", err)
	}
	for i, res := range rs[:3] {
		if res.Err == nil || res.Found {
			t.Errorf("GetMany[%d] (list) = %v, %v; want its own error", i, res.Found, res.Err)
		}
	}
	if !rs[3].Found || string(rs[3].Entry.Body) != "answer" {
		t.Errorf("GetMany[3] = %v %q, want the stored answer", rs[3].Found, rs[3].Entry.Body)
	}
	if st := b.State(); st != "closed" {
		t.Fatalf("breaker after %d WRONGTYPE replies = %q, want closed", len(bad), st)
	}
	if got, ok, err := b.Get(ctx, good); err != nil || !ok || string(got.Body) != "answer" {
		t.Errorf("Get(other key) = %q, %v, %v; want a hit", got.Body, ok, err)
	}
	// The next fill overwrites the foreign value.
	if err := b.Set(ctx, bad[0], store.Entry{Digest: bad[0].Digest, Body: []byte("mine")}, time.Hour); err != nil {
		t.Errorf("Set over a list = %v, want nil", err)
	}
}

// TestRedisKilled is the kill -9 scenario of docs/reliability.md: with Redis gone
// every call fails fast and the breaker opens; after a restart Redis serves
// again within about 2 s. Bounds are generous so -race on 2 cores holds.
func TestRedisKilled(t *testing.T) {
	srv := redistest.Start(t)
	r := newRedis(t, store.RedisOptions{URL: srv.URL()})
	var (
		mu          sync.Mutex
		transitions []string
	)
	b := store.NewBreaker(r, store.BreakerOptions{
		Failures: 3,
		OnStateChange: func(_, from, to string) {
			mu.Lock()
			transitions = append(transitions, from+"->"+to)
			mu.Unlock()
		},
	})
	ctx := t.Context()
	k := cachekey.New("ns", "r", []byte("c"))
	if err := b.Set(ctx, k, store.Entry{Digest: k.Digest, Body: []byte("x")}, time.Hour); err != nil {
		t.Fatal(err)
	}

	srv.Kill()

	// Unwrapped: each call errors, bounded by the small timeouts.
	const slow = 2 * time.Second
	for i := range 3 {
		start := time.Now()
		_, _, getErr := r.Get(ctx, k)
		setErr := r.Set(ctx, k, store.Entry{}, time.Hour)
		if getErr == nil || setErr == nil {
			t.Fatalf("call %d with Redis down: Get = %v, Set = %v; want errors", i, getErr, setErr)
		}
		if d := time.Since(start); d > slow {
			t.Errorf("call %d with Redis down took %v, want < %v", i, d, slow)
		}
	}

	// Through the breaker: it opens, then fails fast with ErrUnavailable.
	var opened bool
	for i := 0; i < 10 && !opened; i++ {
		_, _, err := b.Get(ctx, k)
		if err == nil {
			t.Fatal("Get with Redis down = nil error")
		}
		opened = errors.Is(err, store.ErrUnavailable)
	}
	if !opened || b.State() != "open" {
		t.Fatalf("breaker did not open after 10 failures (state %q)", b.State())
	}

	srv.Restart()
	back := time.Now()
	var recovered time.Duration
	for deadline := back.Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, _, err := b.Get(ctx, k); err == nil {
			recovered = time.Since(back)
			break
		}
	}
	if recovered == 0 {
		t.Fatalf("no successful Get within 5s of the restart (breaker %q)", b.State())
	}
	t.Logf("first successful Get %v after Redis was back", recovered.Round(time.Millisecond))
	if recovered > 2*time.Second {
		t.Logf("warning: recovery took %v, docs/reliability.md wants <= 2s (tolerated under -race)", recovered)
	}
	if st := b.State(); st != "closed" {
		t.Errorf("breaker state after recovery = %q, want closed", st)
	}
	mu.Lock()
	defer mu.Unlock()
	want := "closed->open open->half-open"
	if got := strings.Join(transitions, " "); !strings.HasPrefix(got, want) || !strings.HasSuffix(got, "half-open->closed") {
		t.Errorf("transitions = %q, want %q ... half-open->closed", got, want)
	}
}

// TestNewRedisUnreachable: a replica must start while Redis is down.
func TestNewRedisUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	r, err := store.NewRedis(ctx, store.RedisOptions{URL: "redis://127.0.0.1:1"})
	if err != nil {
		t.Fatalf("NewRedis(unreachable) = %v, want nil", err)
	}
	defer r.Close()
	if err := r.Ping(ctx); err == nil {
		t.Error("Ping(unreachable) = nil, want an error")
	}
}

func TestNewRedisInvalid(t *testing.T) {
	const canary = "s3cr3t-canary"
	tests := []string{
		"",
		"http://127.0.0.1:6379",
		"redis://user:" + canary + "@127.0.0.1:bad",
		"redis://:" + canary + "@127.0.0.1:6379/notadb",
		"redis://:" + canary + "@127.0.0.1:6379?bogus=1",
		"redis://:" + canary + "@[::1",
		"redis://:" + canary + "@127.0.0.1:6379?addr=bad&dial_timeout=x",
		"redis://:" + canary + "@127.0.0.1:26379?master_name=m&bogus=1",
		"rediss://%zz:" + canary + "@127.0.0.1",
	}
	for _, give := range tests {
		r, err := store.NewRedis(t.Context(), store.RedisOptions{URL: give})
		if err == nil {
			r.Close()
			t.Errorf("NewRedis(%q) = nil error, want an error", give)
			continue
		}
		if strings.Contains(err.Error(), canary) {
			t.Errorf("NewRedis error %q leaks the password", err)
		}
	}
}

// TestRedisKilledUnderLoad repeats the kill -9 scenario with concurrent
// callers, which exhausts go-redis's dial budget and makes its pool back off:
// no call may hang, and Redis must serve again soon after it is back.
func TestRedisKilledUnderLoad(t *testing.T) {
	srv := redistest.Start(t)
	r := newRedis(t, store.RedisOptions{URL: srv.URL(), PoolSize: 4})
	b := store.NewBreaker(r, store.BreakerOptions{})
	k := cachekey.New("ns", "r", []byte("c"))

	ctx, stop := context.WithCancel(t.Context())
	var (
		wg      sync.WaitGroup
		slowest atomic.Int64
		calls   atomic.Int64
	)
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				start := time.Now()
				_, _, _ = b.Get(ctx, k)
				if d := int64(time.Since(start)); d > slowest.Load() {
					slowest.Store(d) // racy max is fine for a report
				}
				calls.Add(1)
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	srv.Kill()
	time.Sleep(500 * time.Millisecond)
	srv.Restart()
	back := time.Now()
	var recovered time.Duration
	for deadline := back.Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, _, err := b.Get(t.Context(), k); err == nil {
			recovered = time.Since(back)
			break
		}
	}
	stop()
	wg.Wait()
	t.Logf("%d calls, slowest %v; first successful Get %v after Redis was back",
		calls.Load(), time.Duration(slowest.Load()).Round(time.Millisecond), recovered.Round(time.Millisecond))
	if recovered == 0 {
		t.Fatalf("no successful Get within 5s of the restart (breaker %q)", b.State())
	}
	if d := time.Duration(slowest.Load()); d > 2*time.Second {
		t.Errorf("slowest call took %v, want < 2s", d)
	}
}

// TestRedisEntryKey: with an entry key the store passes the Backend
// contract, and a value someone else wrote into the same Redis — a
// well-formed entry with a valid checksum and a matching digest — is
// refused as corrupt (a miss, not a hit), then overwritten by the next
// fill. A store without the key refuses sealed values too.
func TestRedisEntryKey(t *testing.T) {
	srv := redistest.Start(t)
	key := []byte("0123456789abcdef0123456789abcdef")
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) store.Backend {
		return newRedis(t, store.RedisOptions{URL: srv.URL(), KeyPrefix: fmt.Sprintf("sealed%d|", n.Add(1)), EntryKey: key})
	})

	ctx := t.Context()
	r := newRedis(t, store.RedisOptions{URL: srv.URL(), EntryKey: key})
	k := cachekey.New("ns", "r", []byte("injected"))
	forged := store.MarshalEntry(store.Entry{Digest: k.Digest, Body: []byte(`{"choices":[{"message":{"content":"buy now"}}]}`)})
	if err := srv.Client().Set(ctx, k.String(), forged, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if e, ok, err := r.Get(ctx, k); ok || !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("Get(forged entry) = %q, %v, %v; want a miss with ErrCorrupt", e.Body, ok, err)
	}
	h, e, ok, err := r.LeaseGet(ctx, k, time.Second)
	h.Release()
	if ok || err != nil || e.Body != nil {
		t.Errorf("LeaseGet(forged entry) = %q, %v, %v; want a miss", e.Body, ok, err)
	}
	res, err := r.GetMany(ctx, []cachekey.Key{k})
	if err != nil || res[0].Found || !errors.Is(res[0].Err, store.ErrCorrupt) {
		t.Errorf("GetMany(forged entry) = %+v, %v; want a miss with ErrCorrupt", res, err)
	}
	want := store.Entry{Digest: k.Digest, Body: []byte(`{"real":true}`)}
	if err := r.Set(ctx, k, want, time.Hour); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := r.Get(ctx, k); !ok || err != nil || !bytes.Equal(got.Body, want.Body) {
		t.Errorf("Get after the fill = %q, %v, %v; want %q", got.Body, ok, err, want.Body)
	}
	plain := newRedis(t, store.RedisOptions{URL: srv.URL()})
	if _, ok, err := plain.Get(ctx, k); ok || !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("a store without the key read a sealed value: %v, %v", ok, err)
	}
}
