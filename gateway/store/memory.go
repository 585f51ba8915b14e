package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/dittocache/ditto/cachekey"
	"github.com/maypok86/otter/v2"
)

// DefaultMemoryBytes is the capacity NewMemory uses when given maxBytes <= 0.
const DefaultMemoryBytes = 64 << 20

// An entry lives in one allocation:
//
//	[0:8]   ttl in nanoseconds (read by the expiry calculator)
//	[8:16]  created, Unix nanoseconds (0 = zero time)
//	[16:48] digest
//	[48:56] fresh lifetime in nanoseconds
//	[56:64] meta length m
//	[64:64+m] meta
//	[64+m:] body
//
// One buffer instead of a struct with a separate body keeps the per-entry
// overhead to the otter node, one map slot and the key string.
const memHeaderLen = 64

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
			return time.Duration(binary.LittleEndian.Uint64(e.Value[0:8]))
		}),
	})
	return &Memory{c: c}
}

func memWeight(key string, buf []byte) uint32 {
	w := uint64(len(key)) + uint64(cap(buf)) + memEntryOverhead
	return uint32(min(w, math.MaxUint32))
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
	split := memHeaderLen + int(binary.LittleEndian.Uint64(buf[56:64]))
	e := Entry{
		Created: fromUnixNano(int64(binary.LittleEndian.Uint64(buf[8:16]))),
		Fresh:   time.Duration(binary.LittleEndian.Uint64(buf[48:56])),
		Meta:    buf[memHeaderLen:split:split],
		Body:    buf[split:len(buf):len(buf)],
	}
	copy(e.Digest[:], buf[16:48])
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
	buf := make([]byte, memHeaderLen+len(e.Meta)+len(e.Body))
	binary.LittleEndian.PutUint64(buf[0:8], uint64(ttl))
	binary.LittleEndian.PutUint64(buf[8:16], uint64(unixNano(e.Created)))
	copy(buf[16:48], e.Digest[:])
	binary.LittleEndian.PutUint64(buf[48:56], uint64(max(e.Fresh, 0)))
	binary.LittleEndian.PutUint64(buf[56:64], uint64(len(e.Meta)))
	copy(buf[memHeaderLen:], e.Meta)
	copy(buf[memHeaderLen+len(e.Meta):], e.Body)
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
