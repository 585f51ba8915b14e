package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"hash/maphash"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"

	"github.com/dittocache/ditto/cachekey"
)

const (
	// DefaultL1MaxTTL caps how long Tiered keeps an entry in process: a
	// lost invalidation (see Tiered) is stale for at most this long.
	DefaultL1MaxTTL = time.Minute
	// DefaultL1Ping is how long Tiered's subscriber waits for traffic
	// before it pings the subscription, and then for the reply before it
	// counts the subscription as lost.
	DefaultL1Ping = 5 * time.Second

	// l1Channel is the invalidation channel (after the Redis KeyPrefix).
	l1Channel = "ditto:l1:inv"
	// l1Clear, as a message's key, drops every replica's whole L1.
	l1Clear = "clear"
	// l1EntryOverhead is what an L1 entry weighs besides its key, Body and
	// Meta (the Entry header, otter's node).
	l1EntryOverhead = 128
	// l1Retry is how long the subscriber waits after a failure before it
	// resubscribes.
	l1Retry = 100 * time.Millisecond
)

// TieredOptions configures NewTiered.
type TieredOptions struct {
	// MaxBytes bounds the in-process tier (keys, bodies, metadata and a
	// fixed per-entry overhead); it must be positive.
	MaxBytes int64
	// MaxTTL caps an L1 entry's lifetime. Default DefaultL1MaxTTL.
	MaxTTL time.Duration
	// Ping is the subscription's health-check interval. Default
	// DefaultL1Ping.
	Ping time.Duration
}

// Tiered is a two-tier Backend: a bounded in-process cache (L1, otter's
// W-TinyLFU weighed in bytes) in front of a Redis store (L2), which stays
// the source of truth. Get and GetMany read L1, then Redis, and fill L1
// from Redis hits; Set writes Redis, then L1. An L1 entry never outlives
// its Redis expiry: it is kept for the TTL given to Set, or for the PTTL
// Redis reports with a hit, and never longer than MaxTTL.
//
// Replicas keep their L1s coherent over Redis pub/sub: Set and Delete
// publish the key, Purge and PurgeTag publish "clear", and every Tiered
// drops what it hears. Delivery is at most once, so while the
// subscription is down (and until it is confirmed again) a Tiered neither
// reads nor fills L1, and it clears L1 whenever the subscription drops or
// is re-established: a message missed in between cannot leave a stale
// entry. Leases, Tag, Ping and Status go to Redis.
type Tiered struct {
	r      *Redis
	l1     *otter.Cache[l1Key, *Entry] // pointers: a hit copies the entry once
	seed   maphash.Seed                // of l1Key.scope
	maxTTL time.Duration
	ping   time.Duration
	ch     string
	id     string // this Tiered's sender id; it ignores its own messages

	// gen counts invalidations; a fill that raced one is dropped (see fill).
	gen  atomic.Uint64
	live atomic.Bool // the subscription is confirmed: L1 may be used

	mu     sync.Mutex    // guards ps and closed
	ps     *redis.PubSub // the current subscription
	closed bool
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// l1Key keys L1 as the embedded store keys its entries (memKey): the
// store key's 64-bit hash and a seeded hash of its namespace and route,
// both inline in otter's node, so a hit hashes two words rather than two
// strings. A collision of both makes two store keys share a slot, and the
// digest check makes it a miss. The channel is per KeyPrefix, and
// namespaces and routes hold no NUL (the message separator).
type l1Key = memKey

func (t *Tiered) keyOf(k cachekey.Key) l1Key { return t.l1KeyOf(k.Namespace, k.Route, k.Hash) }

func (t *Tiered) l1KeyOf(ns, route string, hash uint64) l1Key {
	return memKey{hash: hash, scope: maphash.Comparable(t.seed, [2]string{ns, route})}
}

// NewTiered wraps r. The subscriber goroutine starts at once; until its
// subscription is confirmed, calls go to Redis only. Close closes r too.
func NewTiered(r *Redis, opts TieredOptions) (*Tiered, error) {
	if opts.MaxBytes <= 0 {
		return nil, errors.New("new tiered: MaxBytes must be positive")
	}
	if opts.MaxTTL <= 0 {
		opts.MaxTTL = DefaultL1MaxTTL
	}
	if opts.Ping <= 0 {
		opts.Ping = DefaultL1Ping
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	t := &Tiered{r: r, seed: maphash.MakeSeed(), maxTTL: opts.MaxTTL, ping: opts.Ping, ch: r.prefix + l1Channel, id: hex.EncodeToString(id[:])}
	t.l1 = otter.Must(&otter.Options[l1Key, *Entry]{
		MaximumWeight: uint64(opts.MaxBytes),
		Weigher: func(_ l1Key, e *Entry) uint32 {
			return uint32(min(len(e.Body)+len(e.Meta)+l1EntryOverhead, 1<<31))
		},
		// put shortens this to the entry's remaining Redis TTL.
		ExpiryCalculator: otter.ExpiryWriting[l1Key, *Entry](opts.MaxTTL),
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	t.wg.Go(func() { t.subscribe(ctx) })
	return t, nil
}

// put stores e in L1 for min(ttl, MaxTTL), unless an invalidation arrived
// since g was read (then it drops what it stored).
func (t *Tiered) put(key l1Key, e Entry, ttl time.Duration, g uint64) {
	if ttl <= 0 || !t.live.Load() {
		return
	}
	ttl = min(ttl, t.maxTTL)
	t.l1.Set(key, &e)
	if ttl < t.maxTTL {
		t.l1.SetExpiresAfter(key, ttl)
	}
	// An invalidation handler bumps gen before it deletes: either it
	// deletes after our Set, or we see its bump here.
	if t.gen.Load() != g || !t.live.Load() {
		t.l1.Invalidate(key)
	}
}

// lookup returns key's L1 entry when L1 may be used.
func (t *Tiered) lookup(key l1Key) (*Entry, bool) {
	if !t.live.Load() {
		return nil, false
	}
	return t.l1.GetIfPresent(key)
}

// Get reads L1, then Redis; a Redis hit fills L1 for its remaining TTL.
func (t *Tiered) Get(ctx context.Context, k cachekey.Key) (Entry, bool, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, false, err
	}
	if e, ok := t.lookup(t.keyOf(k)); ok {
		return *e, true, nil
	}
	rs, err := t.GetMany(ctx, []cachekey.Key{k})
	if err != nil {
		return Entry{}, false, err
	}
	return rs[0].Entry, rs[0].Found, rs[0].Err
}

// GetMany serves what L1 holds and fetches the rest from Redis in one
// pipeline (GET and PTTL per key), filling L1 from its hits.
func (t *Tiered) GetMany(ctx context.Context, ks []cachekey.Key) ([]Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]Result, len(ks))
	var miss []int
	for i, k := range ks {
		if e, ok := t.lookup(t.keyOf(k)); ok {
			out[i] = Result{Entry: *e, Found: true}
			continue
		}
		miss = append(miss, i)
	}
	if len(miss) == 0 {
		return out, nil
	}
	g := t.gen.Load()
	mk := make([]cachekey.Key, len(miss))
	for j, i := range miss {
		mk[j] = ks[i]
	}
	rs, ttls, err := t.r.getMany(ctx, mk, true)
	if err != nil {
		return nil, err
	}
	for j, i := range miss {
		out[i] = rs[j]
		if rs[j].Found {
			t.put(t.keyOf(mk[j]), rs[j].Entry, ttls[j], g)
		}
	}
	return out, nil
}

// Set writes Redis, tells the other replicas to drop k, then fills L1.
func (t *Tiered) Set(ctx context.Context, k cachekey.Key, e Entry, ttl time.Duration) error {
	return t.write(ctx, k, e, ttl, func() error { return t.r.Set(ctx, k, e, ttl) })
}

// SetRelease writes Redis and releases h in one round trip, then
// invalidates and fills L1 as Set does.
func (t *Tiered) SetRelease(ctx context.Context, k cachekey.Key, e Entry, ttl time.Duration, h Held) error {
	return t.write(ctx, k, e, ttl, func() error { return t.r.SetRelease(ctx, k, e, ttl, h) })
}

// write runs the Redis write, then tells the other replicas to drop k
// and fills this replica's L1; a failed write only drops k here.
func (t *Tiered) write(ctx context.Context, k cachekey.Key, e Entry, ttl time.Duration, redisWrite func() error) error {
	key := t.keyOf(k)
	if err := redisWrite(); err != nil {
		t.drop(key)
		return err
	}
	// Bumping gen after the write makes a concurrent Get that read the
	// previous value drop its fill.
	g := t.drop(key)
	t.publish(ctx, invalidation(k))
	t.put(key, copyEntry(e), ttl, g)
	return nil
}

// invalidation is the message body that drops k: namespace, route and
// hex key hash, separated by NULs (handle).
func invalidation(k cachekey.Key) string {
	return k.Namespace + "\x00" + k.Route + "\x00" + strconv.FormatUint(k.Hash, 16)
}

// copyEntry copies e's Body and Meta: Set never retains the caller's.
func copyEntry(e Entry) Entry {
	e.Body = append([]byte(nil), e.Body...)
	e.Meta = append([]byte(nil), e.Meta...)
	return e
}

// Delete deletes k from Redis and from every replica's L1.
func (t *Tiered) Delete(ctx context.Context, k cachekey.Key) error {
	key := t.keyOf(k)
	err := t.r.Delete(ctx, k)
	t.drop(key)
	t.publish(ctx, invalidation(k))
	return err
}

// Purge purges Redis and clears every replica's L1.
func (t *Tiered) Purge(ctx context.Context, prefix string) (int, error) {
	n, err := t.r.Purge(ctx, prefix)
	if !errors.Is(err, ErrInvalid) {
		t.clear()
		t.publish(ctx, l1Clear)
	}
	return n, err
}

// PurgeTag purges the tag in Redis and clears every replica's L1.
func (t *Tiered) PurgeTag(ctx context.Context, scope, tag string) (int, error) {
	n, err := t.r.PurgeTag(ctx, scope, tag)
	t.clear()
	t.publish(ctx, l1Clear)
	return n, err
}

// Tag records tags in Redis's index.
func (t *Tiered) Tag(ctx context.Context, scope string, tags []string, k cachekey.Key, ttl time.Duration) error {
	return t.r.Tag(ctx, scope, tags, k, ttl)
}

// Lease takes a fill lease in Redis.
func (t *Tiered) Lease(ctx context.Context, k cachekey.Key, ttl time.Duration) (func(), bool, error) {
	return t.r.Lease(ctx, k, ttl)
}

// LeaseGet takes the fill lease and re-reads k in Redis. It runs only
// after an L1 and Redis miss, so L1 is not consulted; the entry read is
// not put in L1 (its remaining TTL is not read here), the next Get does.
func (t *Tiered) LeaseGet(ctx context.Context, k cachekey.Key, ttl time.Duration) (Held, Entry, bool, error) {
	return t.r.LeaseGet(ctx, k, ttl)
}

// GetOrLease serves k from L1 when it holds it; else it reads k and, on a
// miss, takes the fill lease in Redis in one round trip (Redis.GetOrLease),
// filling L1 from a hit as Get does.
func (t *Tiered) GetOrLease(ctx context.Context, k cachekey.Key, ttl time.Duration) (Entry, bool, Held, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, false, Held{}, err
	}
	key := t.keyOf(k)
	if e, ok := t.lookup(key); ok {
		return *e, true, Held{}, nil
	}
	if t.r.cc != nil {
		e, ok, err := t.Get(ctx, k) // GET and PTTL, which fill L1
		return e, ok, Held{}, err
	}
	g := t.gen.Load()
	e, ok, pttl, h, err := t.r.getOrLease(ctx, k, ttl, true)
	if err == nil && ok {
		t.put(key, e, pttl, g)
	}
	return e, ok, h, err
}

// Ping pings Redis.
func (t *Tiered) Ping(ctx context.Context) error { return t.r.Ping(ctx) }

// Status reports the Redis store.
func (t *Tiered) Status() Status { return t.r.Status() }

// Close stops the subscriber, drops L1 and closes the Redis store.
func (t *Tiered) Close() error {
	var err error
	t.once.Do(func() {
		t.live.Store(false)
		t.cancel()
		t.mu.Lock()
		t.closed = true
		if t.ps != nil {
			_ = t.ps.Close() // unblocks the subscriber's read
		}
		t.mu.Unlock()
		t.wg.Wait()
		t.l1.InvalidateAll()
		t.l1.StopAllGoroutines()
		err = t.r.Close()
	})
	return err
}

// drop invalidates key in L1 and returns the new generation.
func (t *Tiered) drop(key l1Key) uint64 {
	g := t.gen.Add(1)
	t.l1.Invalidate(key)
	return g
}

// clear empties L1.
func (t *Tiered) clear() {
	t.gen.Add(1)
	t.l1.InvalidateAll()
}

// publish sends an invalidation; a lost one is bounded by MaxTTL (and by
// the subscription resets), so failures are ignored.
func (t *Tiered) publish(ctx context.Context, key string) {
	ctx, cancel := t.r.op(context.WithoutCancel(ctx))
	defer cancel()
	_ = t.r.c.Publish(ctx, t.ch, t.id+"\x00"+key).Err()
}

// down marks the subscription lost: L1 is cleared and not used until it
// is confirmed again.
func (t *Tiered) down() {
	t.live.Store(false)
	t.clear()
}

// subscribe keeps a subscription open until ctx is cancelled: each
// failure (a dropped connection, a ping without pong) closes it, clears L1
// and opens a new one after l1Retry.
func (t *Tiered) subscribe(ctx context.Context) {
	for {
		ps := t.open(ctx)
		if ps == nil {
			return
		}
		t.session(ctx, ps)
		t.down()
		_ = ps.Close()
		select {
		case <-ctx.Done():
			return
		case <-time.After(l1Retry):
		}
	}
}

// open starts a subscription, or returns nil once Close has begun.
func (t *Tiered) open(ctx context.Context) *redis.PubSub {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.ps = t.r.c.Subscribe(ctx, t.ch)
	return t.ps
}

// session reads ps until it fails. The server's subscribe confirmation (a
// *redis.Subscription) makes L1 usable; a quiet interval is answered with
// a PING, and a second one without any reply counts as a failure.
func (t *Tiered) session(ctx context.Context, ps *redis.PubSub) {
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, t.ping)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() || pinged || ps.Ping(ctx) != nil {
				return
			}
			pinged = true
			continue
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				t.clear()
				t.live.Store(true)
			}
		case *redis.Message:
			t.handle(m.Payload)
		}
	}
}

// handle applies one invalidation message: sender id, NUL, then "clear"
// or namespace, route and hex key hash separated by NULs.
func (t *Tiered) handle(payload string) {
	f := strings.Split(payload, "\x00")
	if f[0] == t.id {
		return
	}
	switch len(f) {
	case 2:
		if f[1] == l1Clear {
			t.clear()
		}
	case 4:
		h, err := strconv.ParseUint(f[3], 16, 64)
		if err != nil {
			return
		}
		t.drop(t.l1KeyOf(f[1], f[2], h))
	}
}
