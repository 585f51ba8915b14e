package store_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dittocache/ditto/cache/store"
	"github.com/dittocache/ditto/cachekey"
	"github.com/dittocache/ditto/internal/redistest"
)

type taggedStore interface {
	store.Backend
	store.Tagger
}

// runTags checks the tag index of a store: a tag purge deletes exactly the
// entries stored with the tag in the scope, across namespaces of that
// scope, and no other scope's.
func runTags(t *testing.T, newStore func(t *testing.T) taggedStore) {
	t.Run("PurgeTag", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		set := func(ns, prompt, scope string, tags ...string) cachekey.Key {
			k := cachekey.New(ns, "openai/m", []byte(prompt))
			e := store.Entry{Digest: k.Digest, Created: time.Now(), Body: []byte(`{"p":"` + prompt + `"}`)}
			if err := s.Set(ctx, k, e, time.Hour); err != nil {
				t.Fatalf("Set = %v", err)
			}
			if err := s.Tag(ctx, scope, tags, k, time.Hour); err != nil {
				t.Fatalf("Tag = %v", err)
			}
			return k
		}
		a1 := set("acme", "one", "acme", "docs", "v2")
		a2 := set("acme/sub", "two", "acme", "docs")
		a3 := set("acme", "three", "acme", "v2")
		a4 := set("acme", "four", "acme")
		b1 := set("beta", "one", "beta", "docs")

		n, err := s.PurgeTag(ctx, "acme", "docs")
		if err != nil || n != 2 {
			t.Fatalf("PurgeTag(acme, docs) = %d, %v; want 2", n, err)
		}
		for k, want := range map[cachekey.Key]bool{a1: false, a2: false, a3: true, a4: true, b1: true} {
			if _, ok, err := s.Get(ctx, k); ok != want || err != nil {
				t.Errorf("Get(%s) = found %v, %v; want found %v", k, ok, err, want)
			}
		}
		// Purged entries are not counted twice; an unknown tag deletes nothing.
		if n, err := s.PurgeTag(ctx, "acme", "docs"); err != nil || n != 0 {
			t.Errorf("second PurgeTag(acme, docs) = %d, %v; want 0", n, err)
		}
		if n, err := s.PurgeTag(ctx, "acme", "nope"); err != nil || n != 0 {
			t.Errorf("PurgeTag(acme, nope) = %d, %v; want 0", n, err)
		}
		if n, err := s.PurgeTag(ctx, "acme", "v2"); err != nil || n != 1 {
			t.Errorf("PurgeTag(acme, v2) = %d, %v; want 1 (a3)", n, err)
		}
		if n, err := s.PurgeTag(ctx, "beta", "docs"); err != nil || n != 1 {
			t.Errorf("PurgeTag(beta, docs) = %d, %v; want 1", n, err)
		}
		if _, ok, _ := s.Get(ctx, a4); !ok {
			t.Error("untagged entry a4 was deleted")
		}
	})
	t.Run("DeletedEntry", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		k := cachekey.New("acme", "openai/m", []byte("gone"))
		if err := s.Set(ctx, k, store.Entry{Digest: k.Digest, Body: []byte("{}")}, time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := s.Tag(ctx, "acme", []string{"t"}, k, time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
		if n, err := s.PurgeTag(ctx, "acme", "t"); err != nil || n != 0 {
			t.Errorf("PurgeTag after Delete = %d, %v; want 0", n, err)
		}
	})
}

func TestMemoryTags(t *testing.T) {
	runTags(t, func(t *testing.T) taggedStore {
		m := store.NewMemory(64 << 20)
		t.Cleanup(func() { _ = m.Close() })
		return m
	})
}

// TestMemoryTagsEvicted: entries the cache evicts leave the index, so it
// does not grow with entries that are gone.
func TestMemoryTagsEvicted(t *testing.T) {
	m := store.NewMemory(1 << 20)
	t.Cleanup(func() { _ = m.Close() })
	ctx := t.Context()
	body := make([]byte, 4<<10)
	for i := range 2000 {
		k := cachekey.New("acme", "openai/m", fmt.Appendf(nil, "p%d", i))
		if err := m.Set(ctx, k, store.Entry{Digest: k.Digest, Body: body}, time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := m.Tag(ctx, "acme", []string{"bulk"}, k, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	m.CleanUp()
	if n := store.TaggedKeys(m); n > 400 {
		t.Errorf("index holds %d keys after eviction to a 1 MiB store of 4 KiB entries; want ≤ 400", n)
	}
	n, err := m.PurgeTag(ctx, "acme", "bulk")
	if err != nil || n == 0 || n > 400 {
		t.Errorf("PurgeTag = %d, %v; want the surviving entries (1..400)", n, err)
	}
	if k := store.TaggedKeys(m); k != 0 {
		t.Errorf("index holds %d keys after the purge; want 0", k)
	}
}

func TestMemoryBreakerTags(t *testing.T) {
	runTags(t, func(t *testing.T) taggedStore {
		b := store.NewBreaker(store.NewMemory(64<<20), store.BreakerOptions{})
		t.Cleanup(func() { _ = b.Close() })
		return b
	})
}

func TestRedisTags(t *testing.T) {
	srv := redistest.Start(t)
	var n atomic.Int64
	runTags(t, func(t *testing.T) taggedStore {
		return newRedis(t, store.RedisOptions{URL: srv.URL(), KeyPrefix: fmt.Sprintf("tags%d|", n.Add(1))})
	})
	// The tag's set lives at least as long as the entry, and is not an
	// entry a prefix purge counts.
	r := newRedis(t, store.RedisOptions{URL: srv.URL(), KeyPrefix: "ttl|"})
	k := cachekey.New("acme", "openai/m", []byte("ttl"))
	ctx := t.Context()
	if err := r.Set(ctx, k, store.Entry{Digest: k.Digest, Body: []byte("{}")}, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, ttl := range []time.Duration{90 * time.Second, 10 * time.Second} {
		if err := r.Tag(ctx, "acme", []string{"t"}, k, ttl); err != nil {
			t.Fatal(err)
		}
	}
	got, err := srv.Client().TTL(ctx, "ttl|ditto-tag:acme:t").Result()
	if err != nil || got < 89*time.Second || got > 90*time.Second {
		t.Errorf("TTL of the tag set = %v, %v; want 90s (a shorter later Tag never shortens it)", got, err)
	}
	if n, err := r.Purge(ctx, "ditto:"); err != nil || n != 1 {
		t.Errorf("Purge(ditto:) = %d, %v; want 1 (the entry, not the tag set)", n, err)
	}
}

func TestRedisBreakerTags(t *testing.T) {
	srv := redistest.Start(t)
	var n atomic.Int64
	runTags(t, func(t *testing.T) taggedStore {
		r := newRedis(t, store.RedisOptions{URL: srv.URL(), KeyPrefix: fmt.Sprintf("tags%d|", n.Add(1))})
		return store.NewBreaker(r, store.BreakerOptions{})
	})
}

// TestRedisClusterTags: tagged entries spread over every master are all
// found by their tag's set, which lives in one slot.
func TestRedisClusterTags(t *testing.T) {
	c := redistest.StartCluster(t)
	var n atomic.Int64
	runTags(t, func(t *testing.T) taggedStore {
		return newRedis(t, patient(store.RedisOptions{URL: c.URL(), KeyPrefix: fmt.Sprintf("tags%d|", n.Add(1))}))
	})
	r := newRedis(t, patient(store.RedisOptions{URL: c.URL(), KeyPrefix: "many|"}))
	keys := clusterFill(t, r, "acme", "openai/m", 60)
	for _, k := range keys {
		if err := r.Tag(t.Context(), "acme", []string{"all"}, k, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range c.Masters(t.Context()) {
		if n := countKeys(t, m, "many|ditto:*"); n == 0 {
			t.Errorf("master %s holds no entry of 60", m.Addr())
		}
	}
	if got, err := r.PurgeTag(t.Context(), "acme", "all"); err != nil || got != len(keys) {
		t.Fatalf("PurgeTag = %d, %v; want %d", got, err, len(keys))
	}
	for _, m := range c.Masters(t.Context()) {
		if n := countKeys(t, m, "many|*"); n != 0 {
			t.Errorf("master %s still holds %d keys", m.Addr(), n)
		}
	}
}
