package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/dittocache/ditto/cache/store"
	"github.com/dittocache/ditto/cache/store/storetest"
	"github.com/dittocache/ditto/cachekey"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Backend {
		m := store.NewMemory(64 << 20)
		t.Cleanup(func() { _ = m.Close() })
		return m
	})
}

func TestMemoryBreaker(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Backend {
		b := store.NewBreaker(store.NewMemory(64<<20), store.BreakerOptions{})
		t.Cleanup(func() { _ = b.Close() })
		return b
	})
}

// TestMemoryBounded checks that the store stays near its byte budget and
// still serves recent entries.
func TestMemoryBounded(t *testing.T) {
	const maxBytes, body, n = 1 << 20, 2048, 2000 // 4 MiB written into 1 MiB
	m := store.NewMemory(maxBytes)
	defer m.Close()
	ctx := t.Context()
	keys := make([]cachekey.Key, n)
	for i := range keys {
		keys[i] = cachekey.New("ns", "r", fmt.Append(nil, i))
		if err := m.Set(ctx, keys[i], store.Entry{Digest: keys[i].Digest, Body: make([]byte, body)}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	m.CleanUp() // settle the asynchronous eviction before counting
	hits := 0
	for _, k := range keys {
		if _, ok, _ := m.Get(ctx, k); ok {
			hits++
		}
	}
	// Eviction is asynchronous and approximate: allow 25% slack.
	if limit := maxBytes / body * 5 / 4; hits == 0 || hits > limit {
		t.Errorf("%d of %d entries of %d bytes kept in %d bytes, want 1..%d", hits, n, body, maxBytes, limit)
	}
}

func ExampleMemory() {
	ctx := context.Background()
	m := store.NewMemory(32 << 20)
	defer m.Close()

	k := cachekey.New("acme", "openai/gpt-4o-mini", []byte(`{"messages":[]}`))
	_ = m.Set(ctx, k, store.Entry{Digest: k.Digest, Created: time.Now(), Body: []byte(`{"object":"chat.completion"}`)}, time.Hour)

	e, ok, err := m.Get(ctx, k)
	fmt.Println(ok, err, e.Digest == k.Digest, string(e.Body))
	n, _ := m.Purge(ctx, cachekey.Prefix("acme", ""))
	fmt.Println("purged", n)
	// Output:
	// true <nil> true {"object":"chat.completion"}
	// purged 1
}

// BenchmarkMemoryOverhead reports the heap bytes each entry costs beyond its
// payload, the body and meta the caller asked to store (key, header, otter
// node, map slot, allocator rounding), as overhead-B/entry and as a
// percentage of the mean payload. Body sizes are drawn uniformly from
// [lo, hi), as real answers are not powers of two; every entry carries 40
// bytes of meta, about what the gateway's encodeMeta writes, under a key with
// a tenant namespace and a route, as the gateway derives them, for the
// gateway's default lifetimes (fresh for 24h, kept 1h more for
// stale-if-error). weigher-%
// is the weigher's total as a percentage of the heap the entries cost: it
// should stay near 100 for the store's byte bound to hold.
func BenchmarkMemoryOverhead(b *testing.B) {
	for _, r := range [][2]int{{1024, 1025}, {976, 977}, {1024, 2048}, {2048, 4096}, {1024, 4096}} {
		b.Run(fmt.Sprintf("body=%d-%d", r[0], r[1]), func(b *testing.B) {
			const n, metaLen = 20000, 40
			rng := rand.New(rand.NewPCG(1, 2))
			keys := make([]cachekey.Key, n)
			sizes := make([]int, n)
			total := 0
			for i := range keys {
				keys[i] = cachekey.New(fmt.Sprintf("tenant-%d", i%50), "openai/gpt-4o-mini", fmt.Append(nil, i))
				sizes[i] = r[0] + rng.IntN(r[1]-r[0])
				total += sizes[i] + metaLen
			}
			body, meta := make([]byte, r[1]), make([]byte, metaLen)
			ctx := context.Background()
			for b.Loop() {
				m := store.NewMemory(1 << 30)
				before := heapAlloc()
				for i, k := range keys {
					_ = m.Set(ctx, k, store.Entry{Digest: k.Digest, Created: time.Now(), Fresh: 24 * time.Hour, Meta: meta, Body: body[:sizes[i]]}, 25*time.Hour)
				}
				after := heapAlloc()
				runtime.KeepAlive(keys)
				overhead := (float64(after) - float64(before) - float64(total)) / n
				b.ReportMetric(overhead, "overhead-B/entry")
				b.ReportMetric(100*overhead*n/float64(total), "overhead-%")
				m.CleanUp()
				b.ReportMetric(100*float64(m.WeightedSize())/(float64(after)-float64(before)), "weigher-%")
				_ = m.Close()
			}
		})
	}
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func BenchmarkMemoryGet(b *testing.B) {
	ctx := context.Background()
	m := store.NewMemory(64 << 20)
	defer m.Close()
	k := cachekey.New("acme", "openai/gpt-4o-mini", []byte("bench"))
	_ = m.Set(ctx, k, store.Entry{Digest: k.Digest, Body: make([]byte, 2048)}, time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, _ := m.Get(ctx, k); !ok {
			b.Fatal("miss")
		}
	}
}

func BenchmarkMemorySet(b *testing.B) {
	ctx := context.Background()
	m := store.NewMemory(64 << 20)
	defer m.Close()
	k := cachekey.New("acme", "openai/gpt-4o-mini", []byte("bench"))
	e := store.Entry{Digest: k.Digest, Body: make([]byte, 2048)}
	b.ReportAllocs()
	for b.Loop() {
		_ = m.Set(ctx, k, e, time.Hour)
	}
}
