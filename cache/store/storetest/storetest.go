// Package storetest is the conformance suite every store.Backend passes.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dittocache/ditto/cache/store"
	"github.com/dittocache/ditto/cachekey"
)

// Run exercises the store.Backend contract. newStore must return an empty
// store that is not shared with other calls, and arrange its own cleanup
// (t.Cleanup); Run never closes it. Subtests do not run in parallel.
func Run(t *testing.T, newStore func(t *testing.T) store.Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Backend)
	}{
		{"Miss", testMiss},
		{"RoundTrip", testRoundTrip},
		{"Overwrite", testOverwrite},
		{"TTLExpiry", testTTLExpiry},
		{"InvalidTTL", testInvalidTTL},
		{"Delete", testDelete},
		{"SharedStoreKey", testSharedStoreKey},
		{"PurgeNamespace", testPurgeNamespace},
		{"PurgeRoute", testPurgeRoute},
		{"PurgeGlobCharacters", testPurgeGlob},
		{"PurgeMany", testPurgeMany},
		{"PurgeEmptyPrefix", testPurgeEmpty},
		{"Concurrent", testConcurrent},
		{"LargeBody", testLargeBody},
		{"EmptyBody", testEmptyBody},
		{"NotAliased", testNotAliased},
		{"CancelledContext", testCancelled},
		{"Ping", testPing},
		{"GetMany", testGetMany},
		{"Lease", testLease},
		{"GetOrLease", testGetOrLease},
		{"Status", testStatus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

// hour is the TTL of entries that must outlive the test.
const hour = time.Hour

func key(ns, route, canonical string) cachekey.Key {
	return cachekey.New(ns, route, []byte(canonical))
}

func entry(k cachekey.Key, body string) store.Entry {
	return store.Entry{
		Digest:  k.Digest,
		Created: time.Date(2025, 3, 1, 12, 30, 45, 123456789, time.UTC),
		Fresh:   time.Hour + time.Nanosecond,
		Meta:    []byte("meta:" + body[:min(len(body), 8)]),
		Body:    []byte(body),
	}
}

func mustSet(t *testing.T, s store.Backend, k cachekey.Key, e store.Entry, ttl time.Duration) {
	t.Helper()
	if err := s.Set(t.Context(), k, e, ttl); err != nil {
		t.Fatalf("Set(%s) = %v, want nil", k, err)
	}
}

func mustGet(t *testing.T, s store.Backend, k cachekey.Key) (store.Entry, bool) {
	t.Helper()
	e, ok, err := s.Get(t.Context(), k)
	if err != nil {
		t.Fatalf("Get(%s) = %v, want nil error", k, err)
	}
	return e, ok
}

func wantEntry(t *testing.T, s store.Backend, k cachekey.Key, want store.Entry) {
	t.Helper()
	got, ok := mustGet(t, s, k)
	if !ok {
		t.Fatalf("Get(%s) missed, want hit", k)
	}
	if got.Digest != want.Digest {
		t.Errorf("Get(%s).Digest = %x, want %x", k, got.Digest, want.Digest)
	}
	if !got.Created.Equal(want.Created) {
		t.Errorf("Get(%s).Created = %v, want %v", k, got.Created, want.Created)
	}
	if got.Fresh != want.Fresh {
		t.Errorf("Get(%s).Fresh = %v, want %v", k, got.Fresh, want.Fresh)
	}
	if !bytes.Equal(got.Meta, want.Meta) {
		t.Errorf("Get(%s).Meta = %q, want %q", k, got.Meta, want.Meta)
	}
	if !bytes.Equal(got.Body, want.Body) {
		t.Errorf("Get(%s).Body = %.80q (%d bytes), want %.80q (%d bytes)", k, got.Body, len(got.Body), want.Body, len(want.Body))
	}
}

func wantMiss(t *testing.T, s store.Backend, k cachekey.Key) {
	t.Helper()
	if _, ok := mustGet(t, s, k); ok {
		t.Errorf("Get(%s) hit, want miss", k)
	}
}

func testMiss(t *testing.T, s store.Backend) {
	e, ok, err := s.Get(t.Context(), key("ns", "openai/gpt-4o-mini", "absent"))
	if err != nil || ok || e.Body != nil || !e.Created.IsZero() || e.Digest != [32]byte{} {
		t.Errorf("Get(absent) = %+v, %v, %v; want zero Entry, false, nil", e, ok, err)
	}
}

func testRoundTrip(t *testing.T, s store.Backend) {
	k := key("acme", "openai/gpt-4o-mini", `{"messages":[]}`)
	want := entry(k, `{"id":"chatcmpl-1","object":"chat.completion"}`)
	mustSet(t, s, k, want, hour)
	wantEntry(t, s, k, want)

	// The zero Created time round-trips as zero.
	k2 := key("acme", "openai/gpt-4o-mini", "zero-created")
	want2 := store.Entry{Digest: k2.Digest, Body: []byte("{}")}
	mustSet(t, s, k2, want2, hour)
	got, _ := mustGet(t, s, k2)
	if !got.Created.IsZero() {
		t.Errorf("Get(zero Created).Created = %v, want zero time", got.Created)
	}
}

func testOverwrite(t *testing.T, s store.Backend) {
	k := key("ns", "r", "c")
	mustSet(t, s, k, entry(k, "first, and longer than the second"), hour)
	second := entry(k, "second")
	second.Created = second.Created.Add(time.Minute)
	second.Digest[0] ^= 0xff
	mustSet(t, s, k, second, hour)
	wantEntry(t, s, k, second)
}

func testTTLExpiry(t *testing.T, s store.Backend) {
	short, long := key("ns", "r", "short"), key("ns", "r", "long")
	mustSet(t, s, short, entry(short, "short-lived"), 50*time.Millisecond)
	mustSet(t, s, long, entry(long, "long-lived"), hour)
	// Poll: never assert exact timing.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := mustGet(t, s, short); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("entry with a 50ms TTL still present after 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	wantEntry(t, s, long, entry(long, "long-lived"))

	// Overwriting replaces the TTL too.
	mustSet(t, s, long, entry(long, "now short"), 50*time.Millisecond)
	deadline = time.Now().Add(5 * time.Second)
	for {
		if _, ok := mustGet(t, s, long); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("overwritten entry kept its old 1h TTL")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testInvalidTTL(t *testing.T, s store.Backend) {
	k := key("ns", "r", "c")
	for _, ttl := range []time.Duration{0, -time.Second} {
		if err := s.Set(t.Context(), k, entry(k, "x"), ttl); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Set(ttl %v) = %v, want ErrInvalid", ttl, err)
		}
	}
	wantMiss(t, s, k)
}

func testDelete(t *testing.T, s store.Backend) {
	k, other := key("ns", "r", "a"), key("ns", "r", "b")
	mustSet(t, s, k, entry(k, "a"), hour)
	mustSet(t, s, other, entry(other, "b"), hour)
	if err := s.Delete(t.Context(), k); err != nil {
		t.Fatalf("Delete = %v, want nil", err)
	}
	wantMiss(t, s, k)
	wantEntry(t, s, other, entry(other, "b"))
	if err := s.Delete(t.Context(), k); err != nil {
		t.Errorf("Delete(missing) = %v, want nil", err)
	}
}

// testSharedStoreKey checks that keys with the same store key string (their
// 64-bit hashes collide) share one slot: the last write wins, and a reader
// of the other key gets an entry whose digest is not its own.
func testSharedStoreKey(t *testing.T, s store.Backend) {
	zero := func([]byte) uint64 { return 0 }
	a := cachekey.Derive(zero, "ns", "r", []byte("a"))
	b := cachekey.Derive(zero, "ns", "r", []byte("b"))
	mustSet(t, s, a, entry(a, "a"), hour)
	mustSet(t, s, b, entry(b, "b"), hour)
	wantEntry(t, s, a, entry(b, "b"))
	other := cachekey.Derive(zero, "ns", "r2", []byte("a")) // another route: another slot
	wantMiss(t, s, other)
}

// fill stores one entry per (namespace, route) pair and returns the keys.
func fill(t *testing.T, s store.Backend, pairs [][2]string) []cachekey.Key {
	t.Helper()
	keys := make([]cachekey.Key, len(pairs))
	for i, p := range pairs {
		keys[i] = key(p[0], p[1], fmt.Sprint(i))
		mustSet(t, s, keys[i], entry(keys[i], p[0]+" "+p[1]), hour)
	}
	return keys
}

// purge runs Purge and checks the count and which keys survive.
func purge(t *testing.T, s store.Backend, prefix string, keys []cachekey.Key, gone func(cachekey.Key) bool) {
	t.Helper()
	var want int // entries present now that must go
	for _, k := range keys {
		if _, ok := mustGet(t, s, k); ok && gone(k) {
			want++
		}
	}
	n, err := s.Purge(t.Context(), prefix)
	if err != nil || n != want {
		t.Errorf("Purge(%q) = %d, %v; want %d, nil", prefix, n, err, want)
	}
	for _, k := range keys {
		_, ok := mustGet(t, s, k)
		if ok == gone(k) {
			t.Errorf("after Purge(%q): Get(%s) hit = %v, want %v", prefix, k, ok, !gone(k))
		}
	}
}

func testPurgeNamespace(t *testing.T, s store.Backend) {
	keys := fill(t, s, [][2]string{
		{"acme", "openai/gpt-4o"}, {"acme", "anthropic/claude"}, {"acme", "openai/gpt-4o"},
		{"acme2", "openai/gpt-4o"}, {"ac", "openai/gpt-4o"}, {"other", "openai/gpt-4o"},
		{"acme:sub", "openai/gpt-4o"}, // ':' is escaped, so not under "acme"
	})
	purge(t, s, cachekey.Prefix("acme", ""), keys, func(k cachekey.Key) bool { return k.Namespace == "acme" })
}

func testPurgeRoute(t *testing.T, s store.Backend) {
	keys := fill(t, s, [][2]string{
		{"acme", "openai/gpt-4o"}, {"acme", "openai/gpt-4o"}, {"acme", "openai/gpt-4o-mini"},
		{"acme", "anthropic/claude"}, {"other", "openai/gpt-4o"},
	})
	purge(t, s, cachekey.Prefix("acme", "openai/gpt-4o"), keys, func(k cachekey.Key) bool {
		return k.Namespace == "acme" && k.Route == "openai/gpt-4o"
	})
}

func testPurgeGlob(t *testing.T, s store.Backend) {
	keys := fill(t, s, [][2]string{
		{"t*", "r"}, {"t?", "r"}, {"tx", "r"}, {"t[x]", "r"}, {`t\`, "r"}, {"t", "r"},
	})
	purge(t, s, cachekey.Prefix("t*", ""), keys, func(k cachekey.Key) bool { return k.Namespace == "t*" })
	purge(t, s, cachekey.Prefix("t[x]", ""), keys, func(k cachekey.Key) bool {
		return k.Namespace == "t*" || k.Namespace == "t[x]"
	})
}

func testPurgeMany(t *testing.T, s store.Backend) {
	const n = 1200 // more than one SCAN batch
	var pairs [][2]string
	for i := range n {
		pairs = append(pairs, [2]string{"bulk", fmt.Sprintf("route/%d", i%7)})
	}
	pairs = append(pairs, [2]string{"keep", "route/0"})
	keys := fill(t, s, pairs)
	purge(t, s, cachekey.Prefix("bulk", ""), keys, func(k cachekey.Key) bool { return k.Namespace == "bulk" })
}

func testPurgeEmpty(t *testing.T, s store.Backend) {
	k := key("ns", "r", "c")
	mustSet(t, s, k, entry(k, "x"), hour)
	if _, err := s.Purge(t.Context(), ""); !errors.Is(err, store.ErrInvalid) {
		t.Errorf(`Purge("") = %v, want ErrInvalid`, err)
	}
	wantEntry(t, s, k, entry(k, "x"))
}

func testConcurrent(t *testing.T, s store.Backend) {
	const workers, ops, keys = 8, 100, 16
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	report := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for w := range workers {
		wg.Go(func() {
			for i := range ops {
				k := key("ns", "r", fmt.Sprint((w+i)%keys))
				// Every writer of k writes the same body, so any hit must match.
				want := entry(k, "body of "+k.String())
				if (w+i)%3 == 0 {
					if err := s.Set(t.Context(), k, want, hour); err != nil {
						report(fmt.Errorf("Set: %w", err))
					}
					continue
				}
				got, ok, err := s.Get(t.Context(), k)
				if err != nil {
					report(fmt.Errorf("Get: %w", err))
				} else if ok && (!bytes.Equal(got.Body, want.Body) || got.Digest != k.Digest) {
					report(fmt.Errorf("Get(%s) = %q, want %q", k, got.Body, want.Body))
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
}

func testLargeBody(t *testing.T, s store.Backend) {
	k := key("ns", "r", "large")
	body := bytes.Repeat([]byte(`{"content":"0123456789abcdef"}`), (1<<20)/30+1)[:1<<20]
	mustSet(t, s, k, store.Entry{Digest: k.Digest, Created: time.Now(), Body: body}, hour)
	got, ok := mustGet(t, s, k)
	if !ok || !bytes.Equal(got.Body, body) {
		t.Errorf("Get(1 MiB) = hit %v, %d bytes; want hit, %d equal bytes", ok, len(got.Body), len(body))
	}
}

func testEmptyBody(t *testing.T, s store.Backend) {
	for _, body := range [][]byte{nil, {}} {
		k := key("ns", "r", fmt.Sprintf("empty-%v", body == nil))
		mustSet(t, s, k, store.Entry{Digest: k.Digest, Body: body}, hour)
		got, ok := mustGet(t, s, k)
		if !ok || len(got.Body) != 0 || got.Digest != k.Digest {
			t.Errorf("Get(empty body %#v) = %+v, %v; want a hit with an empty body", body, got, ok)
		}
	}
}

func testNotAliased(t *testing.T, s store.Backend) {
	k := key("ns", "r", "alias")
	body := []byte("original")
	e := store.Entry{Digest: k.Digest, Body: body}
	mustSet(t, s, k, e, hour)
	copy(body, "MUTATED!") // the store must have copied
	got, _ := mustGet(t, s, k)
	if string(got.Body) != "original" {
		t.Fatalf("after mutating the caller's slice, Get = %q, want %q", got.Body, "original")
	}
	// Appending to a returned body must not write into the store.
	_ = append(got.Body, "-appended"...)
	again, _ := mustGet(t, s, k)
	if string(again.Body) != "original" {
		t.Errorf("after appending to a returned body, Get = %q, want %q", again.Body, "original")
	}
	if len(got.Body) > 0 && &got.Body[0] == &body[0] {
		t.Error("Get returned the caller's slice")
	}
}

func testCancelled(t *testing.T, s store.Backend) {
	k := key("ns", "r", "cancelled")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	// Many times: a batching store must not let an ended context race
	// the reply.
	for range 200 {
		if _, _, err := s.Get(ctx, k); err == nil {
			t.Error("Get(cancelled ctx) = nil error, want an error")
			break
		}
	}
	if err := s.Set(ctx, k, entry(k, "x"), hour); err == nil {
		t.Error("Set(cancelled ctx) = nil, want an error")
	}
	if err := s.Delete(ctx, k); err == nil {
		t.Error("Delete(cancelled ctx) = nil, want an error")
	}
	if _, err := s.Purge(ctx, cachekey.Prefix("ns", "")); err == nil {
		t.Error("Purge(cancelled ctx) = nil error, want an error")
	}
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping(cancelled ctx) = nil, want an error")
	}
	// The store still works afterwards.
	mustSet(t, s, k, entry(k, "x"), hour)
	wantEntry(t, s, k, entry(k, "x"))
}

func testPing(t *testing.T, s store.Backend) {
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping = %v, want nil", err)
	}
}

// testGetMany: one result per key, in order, hits and misses mixed, and the
// same entries Get returns.
func testGetMany(t *testing.T, s store.Backend) {
	var keys []cachekey.Key
	for i := range 5 {
		keys = append(keys, key("ns", "openai/m", fmt.Sprintf("many-%d", i)))
	}
	for i, k := range keys {
		if i%2 == 0 {
			mustSet(t, s, k, entry(k, fmt.Sprintf("body-%d", i)), hour)
		}
	}
	got, err := s.GetMany(t.Context(), keys)
	if err != nil {
		t.Fatalf("GetMany = %v, want nil", err)
	}
	if len(got) != len(keys) {
		t.Fatalf("GetMany returned %d results for %d keys", len(got), len(keys))
	}
	for i, r := range got {
		if r.Err != nil {
			t.Errorf("GetMany[%d].Err = %v", i, r.Err)
		}
		if want := i%2 == 0; r.Found != want {
			t.Errorf("GetMany[%d].Found = %v, want %v", i, r.Found, want)
			continue
		}
		if r.Found && string(r.Entry.Body) != fmt.Sprintf("body-%d", i) {
			t.Errorf("GetMany[%d].Body = %q, want body-%d", i, r.Entry.Body, i)
		}
		if r.Found && r.Entry.Digest != keys[i].Digest {
			t.Errorf("GetMany[%d].Digest = %x, want the key's", i, r.Entry.Digest)
		}
	}
	if got, err := s.GetMany(t.Context(), nil); err != nil || len(got) != 0 {
		t.Errorf("GetMany(nil) = %v, %v; want no results, nil", got, err)
	}
}

// testLease: a store shared between replicas grants a key's lease to one
// holder at a time; an unshared one always grants it. Release may be
// called after the lease is gone.
func testLease(t *testing.T, s store.Backend) {
	k := key("ns", "openai/m", "lease")
	release, ok, err := s.Lease(t.Context(), k, time.Minute)
	if err != nil || !ok {
		t.Fatalf("Lease = %v, %v; want acquired", ok, err)
	}
	_, again, err := s.Lease(t.Context(), k, time.Minute)
	if err != nil {
		t.Fatalf("second Lease = %v", err)
	}
	if shared := s.Status().Shared; again == shared {
		t.Errorf("second Lease acquired = %v on a store with Shared = %v", again, shared)
	}
	release()
	release()
	if _, ok, err := s.Lease(t.Context(), k, time.Minute); err != nil || !ok {
		t.Errorf("Lease after release = %v, %v; want acquired", ok, err)
	}
	if _, _, err := s.Lease(t.Context(), k, 0); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Lease(ttl 0) = %v, want ErrInvalid", err)
	}
}

// testGetOrLease: on a miss, a store that takes the lease with the lookup
// holds it until released (another caller finds it taken); a store that
// cannot only reads. A found entry is Get's and takes no lease.
func testGetOrLease(t *testing.T, s store.Backend) {
	ctx := t.Context()
	k := key("ns", "openai/m", "get or lease")
	_, found, h, err := s.GetOrLease(ctx, k, time.Minute)
	if err != nil || found {
		t.Fatalf("GetOrLease on a miss = found %v, %v; want a miss", found, err)
	}
	if h.Acquired {
		if !s.Status().Shared {
			t.Error("a store no other replica shares took a lease")
		}
		if _, _, h2, err := s.GetOrLease(ctx, k, time.Minute); err != nil || h2.Acquired {
			t.Errorf("second GetOrLease while the lease is held = acquired %v, %v; want not acquired", h2.Acquired, err)
		}
		if _, ok, err := s.Lease(ctx, k, time.Minute); err != nil || ok {
			t.Errorf("Lease while GetOrLease's lease is held = %v, %v; want not acquired", ok, err)
		}
		h.Release()
		h.Release()
	}
	release, ok, err := s.Lease(ctx, k, time.Minute)
	if err != nil || !ok {
		t.Fatalf("Lease after GetOrLease's lease was released = %v, %v; want acquired", ok, err)
	}
	release()

	want := entry(k, `{"answer":1}`)
	mustSet(t, s, k, want, hour)
	got, found, h, err := s.GetOrLease(ctx, k, time.Minute)
	if err != nil || !found || !bytes.Equal(got.Body, want.Body) || got.Digest != want.Digest {
		t.Fatalf("GetOrLease of a stored entry = %q, %v, %v; want %q", got.Body, found, err, want.Body)
	}
	if h.Acquired {
		h.Release()
		t.Error("GetOrLease of a stored entry took the lease")
	}
	release, ok, err = s.Lease(ctx, k, time.Minute)
	if err != nil || !ok {
		t.Errorf("Lease after a GetOrLease hit = %v, %v; want acquired (a hit takes no lease)", ok, err)
	} else {
		release()
	}
}

func testStatus(t *testing.T, s store.Backend) {
	if st := s.Status(); st.Kind == "" {
		t.Errorf("Status() = %+v, want a Kind", st)
	}
}
