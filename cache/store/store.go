// Package store holds Ditto's cache backends: an embedded in-memory store and Redis.
//
// Both backends implement [Backend]; [Breaker] wraps any Backend so that an
// unreachable store fails fast and the gateway can serve from providers
// instead (fail open). A store never interprets an entry's body and never
// verifies its digest: the gateway does both on read.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/dittocache/ditto/cachekey"
)

// Entry is one cached answer.
//
// Ownership: Set never retains or modifies the caller's Body; it copies it.
// The Body returned by Get may be shared with the store and with other
// readers, so callers must treat it as read-only. A store never modifies a
// Body it has returned.
type Entry struct {
	// Digest is the cachekey.Key.Digest of the request that produced the
	// entry. The gateway compares it with the requested key's digest and
	// treats a mismatch as a miss.
	Digest [32]byte
	// Created is when the answer was produced. Stores keep nanosecond
	// precision and return it in UTC without a monotonic reading; the zero
	// time round-trips as the zero time. Times outside the years 1678–2262
	// are not representable.
	Created time.Time
	// Fresh is how long after Created the entry may be served as a hit; 0
	// means for as long as it is stored. The store may keep it longer (the
	// gateway stores with extra time for stale-if-error).
	Fresh time.Duration
	// Body is the OpenAI chat.completion JSON rendered by the gateway. It
	// may be empty.
	Body []byte
	// Meta is small metadata the gateway keeps beside Body (what accounting
	// needs, so a hit need not parse Body). Stores keep it opaque, with the
	// same ownership rules as Body; it may be empty.
	Meta []byte
}

// Backend is the storage contract shared by [Memory], [Redis] and [Breaker]:
// the one interface the cache engine consumes (package cache declares the
// same method set). Implementations are safe for concurrent use. Every
// method takes ctx first and returns an error once ctx is done.
//
// Store keys are cachekey.Key.String(); Purge matches on that string.
type Backend interface {
	// Get returns the entry stored under k. A miss is (Entry{}, false, nil).
	// A stored value that cannot be decoded is (Entry{}, false, err) with
	// err wrapping ErrCorrupt; callers count it and treat it as a miss, and
	// the next Set overwrites it.
	Get(ctx context.Context, k cachekey.Key) (Entry, bool, error)
	// GetMany looks up every key in one round trip and returns one result
	// per key, in order. A failure of the whole call (the store is
	// unreachable) is the error; a value that cannot be decoded is that
	// key's Err, wrapping ErrCorrupt.
	GetMany(ctx context.Context, ks []cachekey.Key) ([]Result, error)
	// Set stores e under k for ttl, replacing any previous entry. ttl must be
	// positive (else ErrInvalid). Writes are best effort: a successful Set
	// may still be lost (eviction, failover). A store that is out of memory
	// returns an error wrapping ErrFull (reads keep working).
	Set(ctx context.Context, k cachekey.Key, e Entry, ttl time.Duration) error
	// Delete removes the entry stored under k; deleting a missing key is
	// not an error.
	Delete(ctx context.Context, k cachekey.Key) error
	// Purge deletes every entry whose store key starts with prefix (see
	// cachekey.Prefix) and reports how many it deleted. An empty prefix is
	// ErrInvalid; to purge all of Ditto's entries pass "ditto:".
	Purge(ctx context.Context, prefix string) (int, error)
	// Lease tries to take the fill lease of k for ttl: while a replica
	// holds it, the others wait for its answer instead of calling the
	// provider too. When acquired, the caller must call release once the
	// entry is stored or the fill failed; release only drops the lease if
	// it still holds it. A store that no other replica shares (Status
	// Shared false) always grants it.
	Lease(ctx context.Context, k cachekey.Key, ttl time.Duration) (release func(), acquired bool, err error)
	// LeaseGet takes the fill lease of k for ttl, as Lease does, and reads
	// k's entry, in one round trip: the miss path's lease and its re-check
	// of the store (the answer may have landed since the lookup). The entry
	// is read whether or not the lease is acquired; a value that cannot be
	// decoded is reported as not found. A failure of the lease is the error.
	// An acquired Held must be ended with Held.Release or SetRelease.
	LeaseGet(ctx context.Context, k cachekey.Key, ttl time.Duration) (h Held, e Entry, found bool, err error)
	// GetOrLease reads k's entry, as Get does, and, when there is none,
	// takes k's fill lease for ttl, as Lease does, in one round trip where
	// the store can: the lookup of a miss that will fill. An entry that
	// exists takes no lease, whether or not the caller can use it. A store
	// that cannot do both in one round trip only reads (h holds nothing,
	// and the caller takes the lease as usual); so does a store no other
	// replica shares. An acquired Held must be ended with Held.Release or
	// SetRelease.
	GetOrLease(ctx context.Context, k cachekey.Key, ttl time.Duration) (e Entry, found bool, h Held, err error)
	// SetRelease stores e under k for ttl, as Set does, and releases h, in
	// one round trip. h is released even when the write fails; a Held that
	// holds nothing only makes it a Set.
	SetRelease(ctx context.Context, k cachekey.Key, e Entry, ttl time.Duration, h Held) error
	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error
	// Status describes the store for readiness and metrics. It never
	// blocks.
	Status() Status
	// Tag and PurgeTag are the store's tag index: see Tagger.
	Tagger
	// Close releases the store's resources. The store must not be used
	// afterwards.
	Close() error
}

// Held is a fill lease taken by LeaseGet. The zero Held holds nothing.
type Held struct {
	// Acquired reports that the caller holds the lease.
	Acquired bool
	l        heldLease
}

// heldLease is a backend's own lease state.
type heldLease interface{ release() }

// Release drops the lease if it is still held; it is safe to call more
// than once and on a Held that holds nothing.
func (h Held) Release() {
	if h.l != nil {
		h.l.release()
	}
}

// funcLease is a lease whose release is a function.
type funcLease func()

func (f funcLease) release() { f() }

// Result is one key's answer from GetMany.
type Result struct {
	Entry Entry
	Found bool
	Err   error // this key's value could not be read (wraps ErrCorrupt)
}

// Status describes a store.
type Status struct {
	// Kind is "memory" or "redis".
	Kind string
	// Shared reports whether other gateway replicas see this store's
	// writes, so fill leases and cross-replica coalescing apply.
	Shared bool
	// Breaker is the circuit breaker's state ("closed", "half-open",
	// "open"), or "" when the store has none.
	Breaker string
}

var (
	// ErrCorrupt reports a stored value that cannot be decoded: garbage, a
	// truncated value, or a format version this build does not read.
	ErrCorrupt = errors.New("store: corrupt entry")
	// ErrUnavailable reports that the store is not being called because its
	// circuit breaker is open. Callers treat it as a miss (fail open).
	ErrUnavailable = errors.New("store: unavailable")
	// ErrFull reports a write the Redis store did not send because Redis
	// refused a write moments ago for lack of memory (maxmemory with the
	// noeviction policy); reads still work. It says nothing bad about the
	// store's health: a Breaker does not count it.
	ErrFull = errors.New("store: full")
	// ErrInvalid reports an invalid argument (a non-positive TTL, an empty
	// purge prefix). It is a caller bug, never a sign of store health.
	ErrInvalid = errors.New("store: invalid argument")
)

// Interface guards.
var (
	_ Backend = (*Memory)(nil)
	_ Backend = (*Redis)(nil)
	_ Backend = (*Breaker)(nil)
)

// unixNano encodes Created; the zero time is 0.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromUnixNano is the inverse of unixNano.
func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
