package store_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/dittocache/ditto/cache/store"
	"github.com/dittocache/ditto/cachekey"
	"github.com/dittocache/ditto/internal/redistest"
)

// BenchmarkHotGet is parallel Get of a hot set of 64 entries (1 KiB
// bodies) on Memory, Tiered over Redis and Redis alone, in one run so the
// ratios compare like with like (benchmarks/RESULTS.md, issue 16).
func BenchmarkHotGet(b *testing.B) {
	srv := redistest.Start(b)
	keys := make([]cachekey.Key, 64)
	for i := range keys {
		keys[i] = cachekey.New("acme", "openai/gpt-4o-mini", fmt.Append(nil, "hot", i))
	}
	openRedis := func(b *testing.B) *store.Redis {
		r, err := store.NewRedis(b.Context(), store.RedisOptions{URL: srv.URL()})
		if err != nil {
			b.Fatal(err)
		}
		return r
	}
	stores := []struct {
		name string
		open func(b *testing.B) store.Backend
	}{
		{"Memory", func(*testing.B) store.Backend { return store.NewMemory(64 << 20) }},
		{"Tiered", func(b *testing.B) store.Backend {
			t, err := store.NewTiered(openRedis(b), store.TieredOptions{MaxBytes: 64 << 20})
			if err != nil {
				b.Fatal(err)
			}
			for !t.Live() {
				time.Sleep(time.Millisecond)
			}
			return t
		}},
		{"Redis", func(b *testing.B) store.Backend { return openRedis(b) }},
	}
	body := bytes.Repeat([]byte("x"), 1<<10)
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			s := st.open(b)
			defer s.Close()
			for _, k := range keys {
				if err := s.Set(b.Context(), k, store.Entry{Digest: k.Digest, Body: body}, time.Hour); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, ok, err := s.Get(b.Context(), keys[i%len(keys)]); err != nil || !ok {
						b.Errorf("Get = %v, %v", ok, err)
						return
					}
					i++
				}
			})
		})
	}
}
