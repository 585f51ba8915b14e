package store_test

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dittocache/ditto/cache/store"
	"github.com/dittocache/ditto/cache/store/storetest"
	"github.com/dittocache/ditto/cachekey"
	"github.com/dittocache/ditto/internal/redistest"
)

// newTiered opens a Tiered store on url with prefix and waits until its
// subscription is confirmed.
func newTiered(t *testing.T, url, prefix string, opts store.TieredOptions) *store.Tiered {
	t.Helper()
	r, err := store.NewRedis(t.Context(), store.RedisOptions{URL: url, KeyPrefix: prefix})
	if err != nil {
		t.Fatalf("NewRedis = %v", err)
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = 1 << 20
	}
	s, err := store.NewTiered(r, opts)
	if err != nil {
		_ = r.Close()
		t.Fatalf("NewTiered = %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	waitFor(t, "subscription", s.Live)
	return s
}

// waitFor polls cond for up to 5 s and returns how long it took.
func waitFor(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

// body returns what s holds for k ("" for a miss), failing on errors.
func body(t *testing.T, s store.Backend, k cachekey.Key) string {
	t.Helper()
	e, ok, err := s.Get(t.Context(), k)
	if err != nil {
		t.Fatalf("Get = %v", err)
	}
	if !ok {
		return ""
	}
	return string(e.Body)
}

func set(t *testing.T, s store.Backend, k cachekey.Key, b string, ttl time.Duration) {
	t.Helper()
	if err := s.Set(t.Context(), k, store.Entry{Digest: k.Digest, Body: []byte(b)}, ttl); err != nil {
		t.Fatalf("Set = %v", err)
	}
}

func TestTiered(t *testing.T) {
	srv := redistest.Start(t)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) store.Backend {
		return newTiered(t, srv.URL(), fmt.Sprintf("tiered%d|", n.Add(1)), store.TieredOptions{})
	})
}

// TestTieredReplicas runs two Tiered stores on one Redis, as two gateway
// replicas: B's L1 must follow A's writes, deletions and purges.
func TestTieredReplicas(t *testing.T) {
	srv := redistest.Start(t)
	a := newTiered(t, srv.URL(), "", store.TieredOptions{})
	b := newTiered(t, srv.URL(), "", store.TieredOptions{})
	k := cachekey.New("ns", "openai/m", []byte("replicas"))
	ctx := t.Context()

	// fill puts v in B's L1 and proves B serves it from there: the Redis
	// key is deleted behind Tiered's back (no invalidation) and B still
	// answers.
	fill := func(v string) {
		t.Helper()
		// A's own invalidation may reach B after B's first fill and drop
		// it, so B reads until a fill survives.
		set(t, a, k, v, time.Hour)
		raw := store.MarshalEntry(store.Entry{Digest: k.Digest, Body: []byte(v)})
		waitFor(t, "B serves "+v+" from L1", func() bool {
			if body(t, b, k) != v {
				return false
			}
			if err := srv.Client().Del(ctx, k.String()).Err(); err != nil {
				t.Fatal(err)
			}
			ok := body(t, b, k) == v
			if err := srv.Client().Set(ctx, k.String(), raw, time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
			return ok
		})
	}

	fill("v1")
	set(t, a, k, "v2", time.Hour)
	d := waitFor(t, "overwrite reaches B", func() bool { return body(t, b, k) == "v2" })
	t.Logf("overwrite on A seen by B after %v", d)

	fill("v3")
	if err := a.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	d = waitFor(t, "delete reaches B", func() bool { return body(t, b, k) == "" })
	t.Logf("delete on A seen by B after %v", d)

	fill("v4")
	if _, err := a.Purge(ctx, cachekey.Prefix("ns", "")); err != nil {
		t.Fatal(err)
	}
	d = waitFor(t, "purge reaches B", func() bool { return body(t, b, k) == "" })
	t.Logf("purge on A seen by B after %v", d)

	fill("v5")
	if err := a.Tag(ctx, "ns", []string{"faq"}, k, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := a.PurgeTag(ctx, "ns", "faq"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "tag purge reaches B", func() bool { return body(t, b, k) == "" })
}

// TestTieredTTL checks that L1 never outlives the Redis entry: both the
// writer's L1 (the TTL given to Set) and a reader's (the PTTL read with
// the hit) expire with it, long before MaxTTL.
func TestTieredTTL(t *testing.T) {
	srv := redistest.Start(t)
	opts := store.TieredOptions{MaxTTL: time.Hour}
	a := newTiered(t, srv.URL(), "", opts)
	b := newTiered(t, srv.URL(), "", opts)
	k := cachekey.New("ns", "openai/m", []byte("ttl"))
	set(t, a, k, "short", 300*time.Millisecond)
	if body(t, b, k) != "short" || body(t, a, k) != "short" {
		t.Fatal("entry not readable after Set")
	}
	for name, s := range map[string]*store.Tiered{"writer": a, "reader": b} {
		d := waitFor(t, name+" expiry", func() bool { return body(t, s, k) == "" })
		t.Logf("%s: expired after %v more", name, d)
	}
}

// TestTieredGetOrLease: a lookup that misses L1 reads Redis and, on a hit,
// fills L1 for the entry's remaining Redis TTL (so a value deleted behind
// the stores' back is still served from L1, until that TTL ends); on a
// miss it takes the fill lease, which the other replica then finds held.
func TestTieredGetOrLease(t *testing.T) {
	srv := redistest.Start(t)
	opts := store.TieredOptions{MaxTTL: time.Hour}
	a := newTiered(t, srv.URL(), "", opts)
	b := newTiered(t, srv.URL(), "", opts)
	ctx := t.Context()
	k := cachekey.New("ns", "openai/m", []byte("get or lease"))
	_, found, h, err := a.GetOrLease(ctx, k, time.Minute)
	if err != nil || found || !h.Acquired {
		t.Fatalf("a.GetOrLease on a miss = found %v, acquired %v, %v; want the lease", found, h.Acquired, err)
	}
	if _, found, h2, err := b.GetOrLease(ctx, k, time.Minute); err != nil || found || h2.Acquired {
		t.Errorf("b.GetOrLease while a holds the lease = found %v, acquired %v, %v; want neither", found, h2.Acquired, err)
	}
	// The fill is written by a store without L1, so that no invalidation
	// message races b's L1 fill below.
	w, err := store.NewRedis(ctx, store.RedisOptions{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.SetRelease(ctx, k, store.Entry{Digest: k.Digest, Body: []byte("filled")}, 300*time.Millisecond, h); err != nil {
		t.Fatal(err)
	}
	if _, _, hw, err := w.GetOrLease(ctx, cachekey.New("ns", "openai/m", []byte("get or lease")), time.Minute); err != nil || hw.Acquired {
		t.Fatalf("the lease after the fill's release: acquired %v, %v; want an entry and no lease", hw.Acquired, err)
	}
	e, found, h, err := b.GetOrLease(ctx, k, time.Minute)
	if err != nil || !found || h.Acquired || string(e.Body) != "filled" {
		t.Fatalf("b.GetOrLease after the fill = %q, found %v, acquired %v, %v; want the entry", e.Body, found, h.Acquired, err)
	}
	if err := srv.Client().Del(ctx, k.String()).Err(); err != nil {
		t.Fatal(err)
	}
	if got := body(t, b, k); got != "filled" {
		t.Errorf("b after the Redis key was deleted behind its back = %q, want L1's %q", got, "filled")
	}
	waitFor(t, "L1 expiry at the Redis TTL", func() bool { return body(t, b, k) == "" })
}

// TestTieredBytes checks the byte bound: far more bytes are written than
// L1 may hold; its weight stays within MaxBytes and it still serves some.
func TestTieredBytes(t *testing.T) {
	srv := redistest.Start(t)
	const max = 64 << 10
	s := newTiered(t, srv.URL(), "", store.TieredOptions{MaxBytes: max})
	big := string(bytes.Repeat([]byte("x"), 4<<10))
	keys := make([]cachekey.Key, 200) // 800 KiB
	for i := range keys {
		keys[i] = cachekey.New("ns", "openai/m", fmt.Append(nil, i))
		set(t, s, keys[i], big, time.Hour)
	}
	if w := s.L1Weight(); w > max {
		t.Fatalf("L1 weight %d > MaxBytes %d", w, max)
	}
	// Redis forgets everything; what still answers came from L1.
	if err := srv.Client().FlushAll(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	hits := 0
	for _, k := range keys {
		if body(t, s, k) == big {
			hits++
		}
	}
	if hits == 0 || hits*len(big) > max {
		t.Fatalf("L1 served %d entries of %d bytes; bound %d", hits, len(big), max)
	}
	t.Logf("L1 kept %d of %d entries", hits, len(keys))
}

// TestTieredSubscriptionLoss kills the invalidation subscription: a
// replica must stop serving (and clear) L1, since it may have missed
// invalidations, and use L1 again once resubscribed.
func TestTieredSubscriptionLoss(t *testing.T) {
	srv := redistest.Start(t)
	s := newTiered(t, srv.URL(), "", store.TieredOptions{})
	raw := srv.Client()
	ctx := t.Context()
	k := cachekey.New("ns", "openai/m", []byte("loss"))
	set(t, s, k, "v", time.Hour)
	// A deletion no replica hears about: Redis is empty, L1 holds "v".
	if err := raw.Del(ctx, k.String()).Err(); err != nil {
		t.Fatal(err)
	}
	if got := body(t, s, k); got != "v" {
		t.Fatalf("before the kill: %q, want v from L1", got)
	}
	if err := raw.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	d := waitFor(t, "L1 dropped", func() bool { return body(t, s, k) == "" })
	t.Logf("subscription loss: stale L1 entry gone after %v", d)
	waitFor(t, "resubscribed", s.Live)
	set(t, s, k, "again", time.Hour)
	if err := raw.Del(ctx, k.String()).Err(); err != nil {
		t.Fatal(err)
	}
	if got := body(t, s, k); got != "again" {
		t.Fatalf("after resubscribing: %q, want again from L1", got)
	}
}
