package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"

	"github.com/dittocache/ditto/cachekey"
)

// Tagger is the tag index of a store: entries stored with tags (the
// X-Ditto-Tags request header) can be deleted together by tag. Memory,
// Redis and Breaker implement it, as part of Backend.
//
// Tags live in a scope (a tenant, or a shared namespace): the same tag in
// two scopes names two unrelated sets of entries, and PurgeTag of one
// never deletes the other's. An index entry records a store key, not the
// entry it was written with: once tagged, an entry stored under the same
// key goes with a purge of that tag until the index entry expires (a
// replaced answer of the same request), even if it was stored without it.
type Tagger interface {
	// Tag records that the entry stored under k carries tags in scope;
	// the index keeps the record for at least ttl, the entry's lifetime.
	// Callers call it after a successful Set.
	Tag(ctx context.Context, scope string, tags []string, k cachekey.Key, ttl time.Duration) error
	// PurgeTag deletes every entry tagged tag in scope and reports how many
	// it deleted; entries tagged while it runs may survive.
	PurgeTag(ctx context.Context, scope, tag string) (int, error)
}

// tagIndex is Memory's tag index: for each scope and tag the cache keys
// tagged with it, and for each tagged key its scope-and-tag names, so that
// an entry's eviction, expiry or deletion drops it from every set.
type tagIndex struct {
	n    atomic.Int64 // tagged keys; 0 lets deletions skip the lock
	mu   sync.Mutex
	sets map[string]map[memKey]struct{}
	keys map[memKey][]string
}

// tagName is the index name of tag in scope. Scopes are names, optionally
// with "@shared/" (never a NUL), so the pair is unambiguous.
func tagName(scope, tag string) string { return scope + "\x00" + tag }

func (x *tagIndex) add(key memKey, names []string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.sets == nil {
		x.sets, x.keys = map[string]map[memKey]struct{}{}, map[memKey][]string{}
	}
	have := x.keys[key]
	if have == nil {
		x.n.Add(1)
	}
	for _, name := range names {
		set := x.sets[name]
		if set == nil {
			set = map[memKey]struct{}{}
			x.sets[name] = set
		}
		if _, ok := set[key]; !ok {
			set[key] = struct{}{}
			have = append(have, name)
		}
	}
	x.keys[key] = have
}

// drop removes an entry's key from every set. It runs inside otter's
// atomic deletion (OnAtomicDeletion), so it must not call the cache.
func (x *tagIndex) drop(e otter.DeletionEvent[memKey, []byte]) {
	// A replaced entry keeps its key's tags: the new value is stored under
	// the same key (see Tagger).
	if e.Cause == otter.CauseReplacement || x.n.Load() == 0 {
		return
	}
	x.forget(e.Key)
}

// forget removes key from every set.
func (x *tagIndex) forget(key memKey) {
	x.mu.Lock()
	defer x.mu.Unlock()
	names, ok := x.keys[key]
	if !ok {
		return
	}
	delete(x.keys, key)
	x.n.Add(-1)
	for _, name := range names {
		if set := x.sets[name]; set != nil {
			delete(set, key)
			if len(set) == 0 {
				delete(x.sets, name)
			}
		}
	}
}

// members returns the keys tagged name.
func (x *tagIndex) members(name string) []memKey {
	x.mu.Lock()
	defer x.mu.Unlock()
	set := x.sets[name]
	out := make([]memKey, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	return out
}

// Tag indexes the entry stored under k; the index drops it when the cache
// does (eviction, expiry, deletion), so ttl is not needed.
func (m *Memory) Tag(ctx context.Context, scope string, tags []string, k cachekey.Key, _ time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory tag: %w", err)
	}
	if len(tags) == 0 {
		return nil
	}
	names := make([]string, len(tags))
	for i, t := range tags {
		names[i] = tagName(scope, t)
	}
	key := m.key(k)
	m.tags.add(key, names)
	// An entry evicted between Set and here left no deletion to clean up
	// after it: forget it now (a later eviction finds it indexed).
	if _, ok := m.c.GetEntryQuietly(key); !ok {
		m.tags.forget(key)
	}
	return nil
}

// PurgeTag deletes every entry tagged tag in scope.
func (m *Memory) PurgeTag(ctx context.Context, scope, tag string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memory purge tag: %w", err)
	}
	n := 0
	// Invalidate runs the deletion handler, which takes the index's lock:
	// members copies the set first.
	for _, key := range m.tags.members(tagName(scope, tag)) {
		if _, ok := m.c.Invalidate(key); ok {
			n++
		} else {
			m.tags.forget(key) // gone without a deletion event (see Tag)
		}
	}
	return n, nil
}

// tagKey is the Redis set of the store keys tagged tag in scope. It does
// not start with "ditto:", so no prefix purge counts it as an entry.
func (r *Redis) tagKey(scope, tag string) string {
	return r.prefix + "ditto-tag:" + scope + ":" + tag
}

// Tag adds k's store key to the set of each tag, with pipelined single-key
// commands (so they route to any Cluster slot), and makes each set live at
// least ttl: EXPIRE NX gives a new set its lifetime and EXPIRE GT only
// ever extends it (Redis 7).
func (r *Redis) Tag(ctx context.Context, scope string, tags []string, k cachekey.Key, ttl time.Duration) error {
	if len(tags) == 0 {
		return nil
	}
	if ttl <= 0 {
		return fmt.Errorf("redis tag: ttl %v: %w", ttl, ErrInvalid)
	}
	if err := r.writable("redis tag"); err != nil {
		return err
	}
	ctx, cancel := r.op(ctx)
	defer cancel()
	member := r.key(k)
	// EXPIRE counts whole seconds: round up, never below the entry's.
	ttl = (ttl + time.Second - 1).Truncate(time.Second)
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, t := range tags {
			set := r.tagKey(scope, t)
			p.SAdd(ctx, set, member)
			p.ExpireNX(ctx, set, ttl)
			p.ExpireGT(ctx, set, ttl)
		}
		return nil
	})
	if err != nil {
		return r.writeFailed("redis tag", err)
	}
	return nil
}

// PurgeTag reads the tag's set with SSCAN and UNLINKs its members, one
// command per key (in a Cluster they sit in different slots), then the
// set. The count covers entries that still existed.
func (r *Redis) PurgeTag(ctx context.Context, scope, tag string) (int, error) {
	set := r.tagKey(scope, tag)
	var (
		cursor uint64
		n      int
	)
	for {
		keys, next, err := r.c.SScan(ctx, set, cursor, "", purgeScanCount).Result()
		if err != nil {
			r.failed(err)
			return n, fmt.Errorf("redis purge tag: %w", err)
		}
		deleted, err := r.unlinkEach(ctx, keys)
		n += deleted
		if err != nil {
			r.failed(err)
			return n, fmt.Errorf("redis purge tag: %w", err)
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	if err := r.c.Unlink(ctx, set).Err(); err != nil {
		r.failed(err)
		return n, fmt.Errorf("redis purge tag: %w", err)
	}
	return n, nil
}

// unlinkEach UNLINKs keys in one pipeline and counts those that existed.
func (r *Redis) unlinkEach(ctx context.Context, keys []string) (int, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	unlinks := make([]*redis.IntCmd, len(keys))
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			unlinks[i] = p.Unlink(ctx, k)
		}
		return nil
	})
	n := 0
	for _, u := range unlinks {
		if u.Err() == nil {
			n += int(u.Val())
		}
	}
	return n, err
}

// Tag calls the backend's Tag unless the breaker is open.
func (b *Breaker) Tag(ctx context.Context, scope string, tags []string, k cachekey.Key, ttl time.Duration) error {
	return b.run("breaker tag", func() error { return b.b.Tag(ctx, scope, tags, k, ttl) })
}

// PurgeTag calls the backend's PurgeTag unless the breaker is open.
func (b *Breaker) PurgeTag(ctx context.Context, scope, tag string) (int, error) {
	var n int
	err := b.run("breaker purge tag", func() (err error) {
		n, err = b.b.PurgeTag(ctx, scope, tag)
		return err
	})
	return n, err
}
