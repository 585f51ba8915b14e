package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/dittocache/ditto/cachekey"
	"github.com/maypok86/otter/v2"
)

// DefaultMemoryBytes is the capacity NewMemory uses when given maxBytes <= 0.
const DefaultMemoryBytes = 64 << 20

// An entry lives in one allocation:
//
//	[0:32]  digest
//	[32:40] created, Unix nanoseconds (0 = zero time)
//	duration ttl (read by the expiry calculator)
//	duration fresh lifetime
//	uvarint scope length s
//	uvarint meta length m
//	scope (s bytes): the store key between keyHead and the hash, for Purge
//	meta (m bytes)
//	body (the rest)
//
// where a duration is a uvarint (see durationBits). One buffer instead of
// a struct with a separate body keeps the per-entry overhead to the otter
// node and one map slot. Varints keep the header to 48 bytes for lifetimes
// in whole seconds below 2^20 (12 days), so a 1 KiB body with its meta and
// a scope of up to about 40 bytes fits the 1152-byte size class.
const memFixedLen = 40

// memEntryOverhead approximates the heap bytes each entry costs beyond its
// buffer's capacity, which Set rounds up to the allocator's size class:
// otter's node (96 bytes: links, expiry, key and slice headers) and its
// share of the hash table (17 to 34 bytes as the table fills, 29 measured
// by BenchmarkMemoryOverhead).
const memEntryOverhead = 125

// memKey keys the cache: the store key's 64-bit hash and a seeded hash of
// its namespace and route. Both words live inline in otter's node, where a
// store key string was a second allocation per entry (64 bytes for a
// typical tenant and route). Two store keys share a memKey only if their
// 64-bit hashes collide and so do the scope hashes of their different
// namespaces or routes (about 2^-64); like keys whose hashes collide in
// Redis, they then share a slot, and the digest check makes it a miss.
type memKey struct {
	hash  uint64 // cachekey.Key.Hash
	scope uint64 // maphash of namespace and route
}

// keyHead starts every store key ("ditto:v1:"): the purge prefix of the
// empty namespace without its closing separator. Entries keep the rest of
// their store key but the hash, and Purge rebuilds the whole key from it.
var keyHead = strings.TrimSuffix(cachekey.Prefix("", ""), ":")

// hashHexLen is the length of the hex hash that ends a store key.
const hashHexLen = 16

// Memory is the embedded store: an in-process cache bounded in bytes, with a
// TTL per entry. When full it evicts the entries least likely to be used
// again (otter's W-TinyLFU). It is safe for concurrent use.
type Memory struct {
	c    *otter.Cache[memKey, []byte]
	seed maphash.Seed // of memKey.scope
	tags tagIndex     // tags.go
}

// NewMemory returns an empty Memory holding at most about maxBytes bytes of
// entries and bookkeeping (about 200 bytes per entry); maxBytes <= 0 selects
// DefaultMemoryBytes. An entry larger than the whole capacity is evicted
// right away.
func NewMemory(maxBytes int64) *Memory {
	if maxBytes <= 0 {
		maxBytes = DefaultMemoryBytes
	}
	m := &Memory{seed: maphash.MakeSeed()}
	m.c = otter.Must(&otter.Options[memKey, []byte]{
		MaximumWeight:    uint64(maxBytes),
		Weigher:          memWeight,
		OnAtomicDeletion: m.tags.drop,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[memKey, []byte]) time.Duration {
			p := memFixedLen
			return memDuration(e.Value, &p)
		}),
	})
	return m
}

func memWeight(_ memKey, buf []byte) uint32 {
	w := uint64(cap(buf)) + memEntryOverhead
	return uint32(min(w, math.MaxUint32))
}

// key returns the cache key of k without allocating.
func (m *Memory) key(k cachekey.Key) memKey {
	return memKey{hash: k.Hash, scope: maphash.Comparable(m.seed, [2]string{k.Namespace, k.Route})}
}

// appendStoreKey appends the store key (cachekey.Key.String) of the entry
// buf cached under key.
func appendStoreKey(dst []byte, key memKey, buf []byte) []byte {
	p := memFixedLen
	_ = memDuration(buf, &p) // ttl
	_ = memDuration(buf, &p) // fresh
	scopeLen := memUvarint(buf, &p)
	_ = memUvarint(buf, &p) // meta length
	dst = append(dst, keyHead...)
	dst = append(dst, buf[p:p+int(scopeLen)]...)
	const digits = "0123456789abcdef"
	for shift := 4 * (hashHexLen - 1); shift >= 0; shift -= 4 {
		dst = append(dst, digits[key.hash>>shift&0xf])
	}
	return dst
}

// memUvarint returns the uvarint at buf[*p:] and moves *p past it. Set wrote
// buf, so the varint is well formed.
func memUvarint(buf []byte, p *int) uint64 {
	v, n := binary.Uvarint(buf[*p:])
	*p += n
	return v
}

// uvarintLen is the length of x's uvarint encoding.
func uvarintLen(x uint64) int {
	return (bits.Len64(x|1) + 6) / 7
}

// durationBits encodes a non-negative duration exactly, in whole seconds
// when it has no fraction of one: configured lifetimes do, and 24h takes 3
// varint bytes instead of 7. The low bit tells the units apart.
func durationBits(d time.Duration) uint64 {
	if d%time.Second == 0 {
		return uint64(d/time.Second)<<1 | 1
	}
	return uint64(d) << 1
}

// memDuration returns the duration at buf[*p:] and moves *p past it.
func memDuration(buf []byte, p *int) time.Duration {
	v := memUvarint(buf, p)
	if v&1 == 1 {
		return time.Duration(v>>1) * time.Second
	}
	return time.Duration(v >> 1)
}

// Get returns the live entry stored under k. The Body is shared with the
// store: callers must not modify it.
func (m *Memory) Get(ctx context.Context, k cachekey.Key) (Entry, bool, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, false, fmt.Errorf("memory get: %w", err)
	}
	buf, ok := m.c.GetIfPresent(m.key(k))
	if !ok {
		return Entry{}, false, nil
	}
	p := memFixedLen
	_ = memDuration(buf, &p) // ttl
	fresh := memDuration(buf, &p)
	scopeLen := memUvarint(buf, &p)
	metaLen := memUvarint(buf, &p)
	meta := p + int(scopeLen)
	body := meta + int(metaLen)
	e := Entry{
		Created: fromUnixNano(int64(binary.LittleEndian.Uint64(buf[32:40]))),
		Fresh:   fresh,
		Meta:    buf[meta:body:body],
		Body:    buf[body:len(buf):len(buf)],
	}
	copy(e.Digest[:], buf[0:32])
	return e, true, nil
}

// GetMany is Get for each key: an embedded store has no round trips to
// save.
func (m *Memory) GetMany(ctx context.Context, ks []cachekey.Key) ([]Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory get: %w", err)
	}
	out := make([]Result, len(ks))
	for i, k := range ks {
		out[i].Entry, out[i].Found, out[i].Err = m.Get(ctx, k)
	}
	return out, nil
}

// Lease always grants the lease: no other replica shares this store, and
// the engine coalesces identical misses within the process itself.
func (m *Memory) Lease(ctx context.Context, _ cachekey.Key, ttl time.Duration) (func(), bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("memory lease: %w", err)
	}
	if ttl <= 0 {
		return nil, false, fmt.Errorf("memory lease: ttl %v: %w", ttl, ErrInvalid)
	}
	return func() {}, true, nil
}

// LeaseGet grants the lease, as Lease does, and reads k's entry.
func (m *Memory) LeaseGet(ctx context.Context, k cachekey.Key, ttl time.Duration) (Held, Entry, bool, error) {
	if _, _, err := m.Lease(ctx, k, ttl); err != nil {
		return Held{}, Entry{}, false, err
	}
	e, ok, _ := m.Get(ctx, k)
	return Held{Acquired: true}, e, ok, nil
}

// GetOrLease is Get: no other replica shares this store, so there is no
// lease to take.
func (m *Memory) GetOrLease(ctx context.Context, k cachekey.Key, _ time.Duration) (Entry, bool, Held, error) {
	e, ok, err := m.Get(ctx, k)
	return e, ok, Held{}, err
}

// SetRelease stores e as Set does; the lease holds nothing to release.
func (m *Memory) SetRelease(ctx context.Context, k cachekey.Key, e Entry, ttl time.Duration, h Held) error {
	err := m.Set(ctx, k, e, ttl)
	h.Release()
	return err
}

// Status reports an in-process store that no other replica sees.
func (m *Memory) Status() Status { return Status{Kind: "memory"} }

// Set stores a copy of e under k for ttl.
func (m *Memory) Set(ctx context.Context, k cachekey.Key, e Entry, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory set: %w", err)
	}
	if ttl <= 0 {
		return fmt.Errorf("memory set: ttl %v: %w", ttl, ErrInvalid)
	}
	var sb [96]byte
	scope := k.AppendScope(sb[:0]) // the store key between keyHead and the hash
	ttlBits, freshBits := durationBits(ttl), durationBits(max(e.Fresh, 0))
	n := memFixedLen + uvarintLen(ttlBits) + uvarintLen(freshBits) + uvarintLen(uint64(len(scope))) + uvarintLen(uint64(len(e.Meta))) +
		len(scope) + len(e.Meta) + len(e.Body)
	// The capacity is the allocation's size class, so the weigher counts
	// the rounding too.
	buf := slices.Grow([]byte(nil), n)[:memFixedLen]
	copy(buf[0:32], e.Digest[:])
	binary.LittleEndian.PutUint64(buf[32:40], uint64(unixNano(e.Created)))
	buf = binary.AppendUvarint(buf, ttlBits)
	buf = binary.AppendUvarint(buf, freshBits)
	buf = binary.AppendUvarint(buf, uint64(len(scope)))
	buf = binary.AppendUvarint(buf, uint64(len(e.Meta)))
	buf = append(buf, scope...)
	buf = append(buf, e.Meta...)
	buf = append(buf, e.Body...)
	m.c.Set(m.key(k), buf)
	return nil
}

// Delete removes the entry stored under k.
func (m *Memory) Delete(ctx context.Context, k cachekey.Key) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory delete: %w", err)
	}
	m.c.Invalidate(m.key(k))
	return nil
}

// Purge deletes every entry whose store key starts with prefix. It walks all
// keys, so it costs O(entries); entries written concurrently may survive.
func (m *Memory) Purge(ctx context.Context, prefix string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memory purge: %w", err)
	}
	if prefix == "" {
		return 0, fmt.Errorf("memory purge: empty prefix: %w", ErrInvalid)
	}
	var (
		n, seen int
		want    = []byte(prefix)
		sk      []byte
	)
	for key, buf := range m.c.All() {
		if seen++; seen%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return n, fmt.Errorf("memory purge: %w", err)
			}
		}
		if sk = appendStoreKey(sk[:0], key, buf); bytes.HasPrefix(sk, want) {
			if _, ok := m.c.Invalidate(key); ok {
				n++
			}
		}
	}
	return n, nil
}

// Ping reports only ctx's error: an embedded store is always reachable.
func (m *Memory) Ping(ctx context.Context) error {
	return ctx.Err()
}

// Close drops every entry and stops the cache's clean-up goroutine.
func (m *Memory) Close() error {
	m.c.InvalidateAll()
	m.c.StopAllGoroutines()
	return nil
}

// CleanUp runs pending maintenance (eviction, expiry) now. Eviction is
// otherwise asynchronous, so the store may briefly hold more than its bound.
func (m *Memory) CleanUp() { m.c.CleanUp() }
