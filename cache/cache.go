// Package cache is Ditto's cache engine, independent of any transport: it
// looks a request's key up in a store, verifies what it finds, and fills a
// miss through one flight per distinct request in flight (joined by every
// identical request, in this process and, through a store lease, on other
// replicas), storing only complete answers before anyone is told.
//
// The HTTP edge (package gateway) decodes a request in its client's dialect,
// derives its key ([Key]) and cache [Policy], hands the engine a [Request]
// with a [Fill] function that calls the provider, and renders the [Answer]
// in that dialect. The engine knows canonical answers (package normalize)
// and stored entries (package cache/store), never HTTP, providers or
// dialects. What it does is reported through an [Observer].
package cache

import (
	"context"
	"errors"
	"time"

	"github.com/dittocache/ditto/cache/store"
	"github.com/dittocache/ditto/cachekey"
	"github.com/dittocache/ditto/normalize"
)

// Store is what the engine needs from a cache backend; store.Memory,
// store.Redis and store.Breaker implement it (see store.Backend for the
// contract of each method).
type Store interface {
	Get(ctx context.Context, k cachekey.Key) (store.Entry, bool, error)
	GetMany(ctx context.Context, ks []cachekey.Key) ([]store.Result, error)
	Set(ctx context.Context, k cachekey.Key, e store.Entry, ttl time.Duration) error
	Delete(ctx context.Context, k cachekey.Key) error
	Purge(ctx context.Context, prefix string) (int, error)
	Lease(ctx context.Context, k cachekey.Key, ttl time.Duration) (release func(), acquired bool, err error)
	LeaseGet(ctx context.Context, k cachekey.Key, ttl time.Duration) (h store.Held, e store.Entry, found bool, err error)
	GetOrLease(ctx context.Context, k cachekey.Key, ttl time.Duration) (e store.Entry, found bool, h store.Held, err error)
	SetRelease(ctx context.Context, k cachekey.Key, e store.Entry, ttl time.Duration, h store.Held) error
	Ping(ctx context.Context) error
	Status() store.Status
	Tag(ctx context.Context, scope string, tags []string, k cachekey.Key, ttl time.Duration) error
	PurgeTag(ctx context.Context, scope, tag string) (int, error)
	Close() error
}

var _ Store = store.Backend(nil)

// Sentinel errors of the engine.
var (
	// ErrNotCached answers a request whose policy forbids calling the
	// provider (Cache-Control: only-if-cached) when nothing usable is
	// stored.
	ErrNotCached = errors.New("cache: no cached answer and only-if-cached")
	// ErrIncomplete is a fill that ended without a complete answer (a
	// choice without a finish reason); nothing is stored.
	ErrIncomplete = errors.New("cache: incomplete answer")
)

// Options configures New. The zero value is a working engine that neither
// coalesces nor keeps stale entries.
type Options struct {
	// Coalesce joins identical misses in flight into one fill.
	Coalesce bool
	// FillWait is how long a miss waits for another replica that holds
	// the store's fill lease of the same key before calling the provider
	// itself; 0 turns cross-replica coalescing off. It applies only to
	// stores other replicas share (store.Status.Shared).
	FillWait time.Duration
	// LeaseTTL is the fill lease's lifetime in the store; a store that
	// renews the lease while its holder lives keeps it shorter than
	// FillWait. 0: FillWait.
	LeaseTTL time.Duration
	// StaleIfError is how long entries are kept past their fresh lifetime
	// to answer when the provider fails. 0: not kept.
	StaleIfError time.Duration
	// StaleWhileRevalidate is how long past its fresh lifetime an entry is
	// served at once (Stale, Revalidating) while one background refresh
	// per key replaces it — one per key in this process, and across
	// replicas through the store's fill lease. It is bounded by what the
	// store keeps (StaleIfError). 0: off.
	StaleWhileRevalidate time.Duration
	// ServeStale reports whether a failed fill may be answered with a
	// stale entry (provider errors and timeouts, not invalid requests).
	// Nil: never.
	ServeStale func(err error) bool
	// Codec turns answers into stored entries and back. Nil: ChatCodec.
	Codec Codec
	// Observer receives the engine's events. Zero: none.
	Observer Observer
	// Now is the clock. Nil: time.Now.
	Now func() time.Time
}

// Engine is the cache engine. It is safe for concurrent use.
type Engine struct {
	st      Store
	shared  bool
	o       Options
	codec   Codec
	obs     Observer
	now     func() time.Time
	flights flightGroup
	once    onceState
}

// New returns an engine over st.
func New(st Store, o Options) *Engine {
	e := &Engine{st: st, shared: st.Status().Shared, o: o, codec: o.Codec, obs: o.Observer, now: o.Now}
	if e.codec == nil {
		e.codec = ChatCodec{}
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.o.LeaseTTL <= 0 {
		e.o.LeaseTTL = e.o.FillWait
	}
	return e
}

// Store returns the engine's store.
func (e *Engine) Store() Store { return e.st }

// Codec returns the codec the engine stores answers with.
func (e *Engine) Codec() Codec { return e.codec }

// Policy is the cache behaviour one request asked for.
type Policy struct {
	Lookup       bool          // read the cache (false for no-cache, no-store)
	Store        bool          // write the answer (false for no-store)
	OnlyIfCached bool          // never call the provider
	MaxAge       time.Duration // accept entries at most this old; < 0: any age
	TTL          time.Duration // fresh lifetime of a stored answer
	// Shadow looks up and counts what would have hit (Observer.ShadowHit)
	// but answers as if the cache were off: every request makes its own
	// provider call, whose answer is stored.
	Shadow bool
}

// Cacheable reports whether the request touches the cache at all.
func (p Policy) Cacheable() bool { return p.Lookup || p.Store }

// Filler makes the provider call for a miss. Fill streams when the
// flight's first request asked for a stream, passing each chunk to publish
// as it arrives (never after returning), and returns the complete answer.
// ctx is the flight's: it carries the values of the request that started
// it (its trace span) but is cancelled only when every request following
// the flight has gone.
type Filler interface {
	Fill(ctx context.Context, publish func(*normalize.Chunk)) (*normalize.Response, error)
}

// FillFunc adapts a function to Filler.
type FillFunc func(ctx context.Context, publish func(*normalize.Chunk)) (*normalize.Response, error)

// Fill calls f.
func (f FillFunc) Fill(ctx context.Context, publish func(*normalize.Chunk)) (*normalize.Response, error) {
	return f(ctx, publish)
}

// Request is one request to the engine. A Request is served once: the
// Answer Serve returns lives inside it (one allocation per request on the
// hot path), so it must not be reused.
type Request struct {
	Key    cachekey.Key
	Policy Policy
	// Model is the model the client asked for, passed to the Observer.
	Model string
	// Stream is whether the client reads the answer as a stream: a
	// flight it starts publishes chunks as they arrive.
	Stream bool
	// Fill calls the provider. Required unless Policy.OnlyIfCached.
	Fill Filler
	// Sink, for a streaming request, receives each chunk on the caller's
	// goroutine as the fill produces it. The engine then makes the call on
	// the caller's goroutine, inside Serve, whenever this request is the
	// one that calls the provider (it starts the flight, or nobody can
	// share its call): no goroutine and no hand-off per chunk, as a
	// forwarding proxy relays. Others that join the flight meanwhile still
	// follow it (Next); the call goes on for them if this caller leaves.
	// Chunks given to Sink are not returned by Next again. A request that
	// follows another's flight gets its chunks from Next; Sink is not
	// called then.
	Sink func(*normalize.Chunk)
	// Here, when set, wraps the context of a fill that runs on the
	// caller's goroutine (see Sink), for what only that goroutine may do
	// (the gateway's flush before each provider read).
	Here func(context.Context) context.Context
	// ExpectHit says the request was answered from the cache recently
	// (the gateway's request memo knows it), so its lookup is a plain read:
	// on Redis a GET, cheaper for both sides than the script that also
	// takes the fill lease (GetOrLease). Should it miss after all, the fill
	// takes the lease in a round trip of its own (awaitFill), as a miss
	// did before lookups took it; nothing else changes.
	ExpectHit bool
	// Started is when the request arrived; an entry another replica
	// stores for it must be newer. Zero: when Serve is called.
	Started time.Time
	// Tags are indexed for the entry this request's fill stores, in
	// TagScope (its tenant or shared namespace), so PurgeTag can delete
	// it (see store.Tagger). A request that joins another's flight adds
	// none: the entry carries the tags of the request whose call made it.
	Tags     []string
	TagScope string

	answer Answer
}

// Answer is the Answer Serve returned for r (zero before Serve).
func (r *Request) Answer() *Answer { return &r.answer }

// Observer receives the engine's events; every field may be nil. Hooks
// run on the goroutine of the request (or flight) they concern and must
// be quick.
type Observer struct {
	// Lookup is called before a store lookup; the context it returns
	// (e.g. carrying a span) is used for the lookup and done is called
	// with its outcome.
	Lookup func(ctx context.Context) (context.Context, func(hit bool, err error))
	// StoreError reports a failed store operation ("get", "set",
	// "decode", "lease"), answered as a miss.
	StoreError func(op string, err error)
	// Mismatch reports a stored entry whose verification digest did not
	// match the request's key (a 64-bit collision or a misplaced entry).
	Mismatch func()
	// Coalesced reports a request for model that shares another
	// request's provider call, here or on another replica.
	Coalesced func(model string)
	// Wait is called when a request starts waiting for another request's
	// fill; the function it returns is called when the wait ends.
	Wait func(ctx context.Context) func()
	// ShadowHit reports a request for model that would have been a hit
	// had its route's shadow mode been off.
	ShadowHit func(model string)
	// Revalidated reports the end of a background refresh of a stale
	// entry (stale-while-revalidate), with its error.
	Revalidated func(model string, err error)
}

func (o *Observer) storeError(op string, err error) {
	if o.StoreError != nil && !errors.Is(err, context.Canceled) {
		o.StoreError(op, err)
	}
}

// Purge deletes every entry whose store key starts with one of prefixes
// (see NamespacePrefixes, RoutePrefixes, cachekey.Prefix) and reports how
// many it deleted. Entries of flights still running are written after it.
func (e *Engine) Purge(ctx context.Context, prefixes ...string) (int, error) {
	total := 0
	for _, p := range prefixes {
		n, err := e.st.Purge(ctx, p)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// PurgeTag deletes every entry stored with tag in scope (a tenant, or
// SharedPrefix and a shared namespace's name) and reports how many it
// deleted.
func (e *Engine) PurgeTag(ctx context.Context, scope, tag string) (int, error) {
	return e.st.PurgeTag(ctx, scope, tag)
}

// InFlight reports whether a flight for key k is running (for tests and
// diagnostics).
func (e *Engine) InFlight(k cachekey.Key) bool {
	e.flights.mu.Lock()
	defer e.flights.mu.Unlock()
	return e.flights.flights[flightKey(k)] != nil
}

// Followers reports how many requests follow the flight for key k right
// now (for tests and diagnostics).
func (e *Engine) Followers(k cachekey.Key) int {
	e.flights.mu.Lock()
	f := e.flights.flights[flightKey(k)]
	e.flights.mu.Unlock()
	if f == nil {
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.waiters
}
