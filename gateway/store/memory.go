package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
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
//	uvarint ttl in nanoseconds (read by the expiry calculator)
//	uvarint fresh lifetime in nanoseconds
//	uvarint meta length m
//	meta (m bytes)
//	body (the rest)
//
// One buffer instead of a struct with a separate body keeps the per-entry
// overhead to the otter node, one map slot and the key string. Varints cut
// the header from 64 bytes of fixed fields to 53 for hour-long lifetimes,
// which leaves room in a 1 KiB body's size class.
const memFixedLen = 40

// memEntryOverhead approximates the heap bytes each entry costs beyond its
// key and buffer lengths: otter's node (96 bytes: links, expiry, key and
// slice headers), its hash-table slot (about 30) and the allocator's
// rounding of the key and buffer (about 60 on average for 1–4 KB bodies).
// BenchmarkMemoryOverhead measures the real figure.
const memEntryOverhead = 192

// Memory is the embedded store: an in-process cache bounded in bytes, with a
// TTL per entry. When full it evicts the entries least likely to be used
// again (otter's W-TinyLFU). It is safe for concurrent use.
type Memory struct {
	c *otter.Cache[string, []byte]
}

// NewMemory returns an empty Memory holding at most about maxBytes bytes of
// keys, bodies and bookkeeping (about 200 bytes per entry); maxBytes <= 0 selects
// DefaultMemoryBytes. An entry larger than the whole capacity is evicted
// right away.
func NewMemory(maxBytes int64) *Memory {
	if maxBytes <= 0 {
		maxBytes = DefaultMemoryBytes
	}
	c := otter.Must(&otter.Options[string, []byte]{
		MaximumWeight: uint64(maxBytes),
		Weigher:       memWeight,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, []byte]) time.Duration {
			ttl, _ := binary.Uvarint(e.Value[memFixedLen:])
			return time.Duration(ttl)
		}),
	})
	return &Memory{c: c}
}

func memWeight(key string, buf []byte) uint32 {
	w := uint64(len(key)) + uint64(cap(buf)) + memEntryOverhead
	return uint32(min(w, math.MaxUint32))
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

// Get returns the live entry stored under k. The Body is shared with the
// store: callers must not modify it.
func (m *Memory) Get(ctx context.Context, k cachekey.Key) (Entry, bool, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, false, fmt.Errorf("memory get: %w", err)
	}
	buf, ok := m.c.GetIfPresent(k.String())
	if !ok {
		return Entry{}, false, nil
	}
	p := memFixedLen
	_ = memUvarint(buf, &p) // ttl
	fresh := memUvarint(buf, &p)
	metaLen := memUvarint(buf, &p)
	body := p + int(metaLen)
	e := Entry{
		Created: fromUnixNano(int64(binary.LittleEndian.Uint64(buf[32:40]))),
		Fresh:   time.Duration(fresh),
		Meta:    buf[p:body:body],
		Body:    buf[body:len(buf):len(buf)],
	}
	copy(e.Digest[:], buf[0:32])
	return e, true, nil
}

// Set stores a copy of e under k for ttl.
func (m *Memory) Set(ctx context.Context, k cachekey.Key, e Entry, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory set: %w", err)
	}
	if ttl <= 0 {
		return fmt.Errorf("memory set: ttl %v: %w", ttl, ErrInvalid)
	}
	fresh := uint64(max(e.Fresh, 0))
	n := memFixedLen + uvarintLen(uint64(ttl)) + uvarintLen(fresh) + uvarintLen(uint64(len(e.Meta))) + len(e.Meta) + len(e.Body)
	buf := make([]byte, memFixedLen, n)
	copy(buf[0:32], e.Digest[:])
	binary.LittleEndian.PutUint64(buf[32:40], uint64(unixNano(e.Created)))
	buf = binary.AppendUvarint(buf, uint64(ttl))
	buf = binary.AppendUvarint(buf, fresh)
	buf = binary.AppendUvarint(buf, uint64(len(e.Meta)))
	buf = append(buf, e.Meta...)
	buf = append(buf, e.Body...)
	m.c.Set(k.String(), buf)
	return nil
}

// Delete removes the entry stored under k.
func (m *Memory) Delete(ctx context.Context, k cachekey.Key) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory delete: %w", err)
	}
	m.c.Invalidate(k.String())
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
	var n, seen int
	for key := range m.c.Keys() {
		if seen++; seen%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return n, fmt.Errorf("memory purge: %w", err)
			}
		}
		if strings.HasPrefix(key, prefix) {
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
