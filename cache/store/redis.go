package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dittocache/ditto/cachekey"
	"github.com/dittocache/ditto/internal/redact"
	"github.com/dittocache/ditto/internal/redisbatch"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Defaults applied by NewRedis. They are small on purpose: a cache call that
// cannot finish in about a round trip should fail so the gateway can serve
// from the provider instead (see docs/reliability.md).
const (
	DefaultDialTimeout  = 250 * time.Millisecond
	DefaultReadTimeout  = 100 * time.Millisecond
	DefaultWriteTimeout = 100 * time.Millisecond
	DefaultPoolTimeout  = 100 * time.Millisecond
	DefaultMinIdleConns = 2
	// DefaultOperationTimeout is a few round trips on a loaded network.
	DefaultOperationTimeout = 150 * time.Millisecond
	// DefaultFullCoolDown is how long writes are skipped after Redis
	// refused one for lack of memory.
	DefaultFullCoolDown = time.Second
)

// RedisOptions configures NewRedis. The zero value of every field except URL
// selects a fail-open-friendly default. A non-zero field overrides the same
// setting given as a URL query parameter.
type RedisOptions struct {
	// URL selects the deployment (required; the password is never logged
	// nor put in errors):
	//   - redis://[user:pass@]host:port[/db] or rediss:// (TLS): standalone
	//     (see redis.ParseURL);
	//   - ...?master_name=NAME[&addr=host:port...]: Sentinel; the URL hosts
	//     are sentinels (see redis.ParseFailoverURL);
	//   - ...?addr=host:port[&addr=...]: Cluster seeds (see
	//     redis.ParseClusterURL), as is any URL when Cluster is set.
	URL string
	// Cluster forces Cluster mode for a URL with a single seed address.
	Cluster bool
	// DialTimeout bounds each connection attempt. Default DefaultDialTimeout.
	DialTimeout time.Duration
	// ReadTimeout bounds each socket read. Default DefaultReadTimeout.
	ReadTimeout time.Duration
	// WriteTimeout bounds each socket write. Default DefaultWriteTimeout.
	WriteTimeout time.Duration
	// PoolTimeout bounds the wait for a free connection when all are busy.
	// Default DefaultPoolTimeout.
	PoolTimeout time.Duration
	// PoolSize is the connection pool size (per node). Default go-redis's:
	// 10 per GOMAXPROCS.
	PoolSize int
	// MinIdleConns is how many idle connections to keep dialled (per
	// node). Default DefaultMinIdleConns.
	MinIdleConns int
	// MaxRetries is how many times a failed command is retried. Default 0:
	// no retries, because a retry doubles the time a dead Redis costs and
	// the Breaker handles outages.
	MaxRetries int
	// KeyPrefix is prepended to every store key, to share one Redis
	// database between deployments. Default "".
	KeyPrefix string
	// OperationTimeout bounds each store operation as a whole (a lookup,
	// a write, a lease), whatever the caller's deadline, so a slow Redis
	// costs a request at most this much before it is served from the
	// provider. Default DefaultOperationTimeout. Purge is bounded by its
	// caller's context only.
	OperationTimeout time.Duration
	// FullCoolDown is how long the store skips writes (Set and Lease
	// return ErrFull at once) after Redis refused one with OOM (maxmemory
	// with the noeviction policy), so a full Redis is not sent doomed
	// writes on every miss; reads go on. Default DefaultFullCoolDown.
	FullCoolDown time.Duration
	// LeaseTTL is the TTL of a fill lease's key: how long a lease outlives
	// a holder that died. A live holder renews it every LeaseTTL/3 until it
	// releases the lease (see Lease). Default DefaultLeaseTTL.
	LeaseTTL time.Duration
	// NoAutoPipeline sends every command on its own connection round
	// trip. By default (standalone and Sentinel, not Cluster) lookups and
	// fill writes of concurrent requests share pipelines (go-redis's
	// AutoPipeliner through internal/redisbatch): a
	// command waits for no timer, only for the batch already on the wire,
	// and each call still honours OperationTimeout.
	NoAutoPipeline bool
	// EntryKey, when set, seals every value written with an HMAC-SHA256
	// under it (SealEntry) and refuses every value read without a valid
	// seal (ErrCorrupt: a miss, overwritten by the next fill), so writers
	// of a shared Redis that lack the key cannot inject answers. Values
	// written without it are refused with it and vice versa.
	EntryKey []byte
}

// Redis is a Backend on Redis (standalone, Sentinel or Cluster) through
// go-redis's UniversalClient. Values use MarshalEntry's format; keys are
// KeyPrefix + cachekey.Key.String(). It is safe for concurrent use. Wrap it
// in a Breaker to fail fast during outages.
type Redis struct {
	c  redis.UniversalClient
	cc *redis.ClusterClient // c, when it is a Cluster client
	// ap batches the single commands of concurrent callers (GET,
	// the lookup-and-lease script, the write-and-release script) into
	// shared pipelines: under load one write and one read carry many
	// requests' commands. Nil on a Cluster and with
	// RedisOptions.NoAutoPipeline.
	ap       *redisbatch.Batcher
	prefix   string
	entryKey []byte // RedisOptions.EntryKey
	opTime   time.Duration

	fullCoolDown time.Duration
	fullUntil    atomic.Int64 // Unix nanoseconds; writes are skipped before it
	leaseTTL     time.Duration
	tokenBase    [16]byte      // random, hex: every lease token's prefix
	tokens       atomic.Uint64 // lease tokens issued

	// Cluster only: see failed and follow.
	lastFailure atomic.Int64  // Unix nanoseconds of the last transport failure
	kick        chan struct{} // wakes follow; capacity 1

	// Background goroutines (follow, lease renewals) stop when done is
	// closed; wg counts them. hbMu orders starting one against Close.
	// beating counts the held leases whose heartbeat runs.
	done      chan struct{}
	beating   atomic.Int64
	hbMu      sync.Mutex
	closed    bool
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// Following a Cluster failover: after a transport failure the slot map is
// reloaded every followEvery until followFor has passed without one.
const (
	followEvery = 250 * time.Millisecond
	followFor   = 3 * time.Second
)

// NewRedis parses opts.URL, applies the defaults and returns a client. It
// returns an error only for invalid options: an unreachable Redis is not an
// error, so a replica can start during an outage (fail open); use Ping for
// readiness. ctx bounds a warm-up ping whose failure is ignored.
func NewRedis(ctx context.Context, opts RedisOptions) (*Redis, error) {
	c, err := NewClient(opts)
	if err != nil {
		return nil, fmt.Errorf("new redis: %w", err)
	}
	_ = c.Ping(ctx).Err() // warm-up only; see the doc comment
	op := opts.OperationTimeout
	if op <= 0 {
		op = DefaultOperationTimeout
	}
	full := opts.FullCoolDown
	if full <= 0 {
		full = DefaultFullCoolDown
	}
	lease := opts.LeaseTTL
	if lease <= 0 {
		lease = DefaultLeaseTTL
	}
	r := &Redis{c: c, prefix: opts.KeyPrefix, entryKey: opts.EntryKey, opTime: op, fullCoolDown: full, leaseTTL: lease, done: make(chan struct{})}
	var seed [len(r.tokenBase) / 2]byte
	rand.Read(seed[:])
	hex.Encode(r.tokenBase[:], seed[:])
	if !opts.NoAutoPipeline {
		b, err := redisbatch.New(c)
		if err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("new redis: %w", err)
		}
		r.ap = b
	}
	if cc, ok := c.(*redis.ClusterClient); ok {
		r.cc, r.kick = cc, make(chan struct{}, 1)
		r.wg.Go(r.follow)
	}
	return r, nil
}

// failed inspects an operation's error before it is returned. A transport
// failure on a Cluster may mean a master died: go-redis keeps sending that
// master's slots to the dead address until a MOVED reply or its periodic
// refresh (60 s), and a dead node sends no MOVED. So follow reloads the slot
// map until the failures stop.
func (r *Redis) failed(err error) {
	if r.cc == nil || !Transient(err) {
		return
	}
	r.lastFailure.Store(time.Now().UnixNano())
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// writable returns ErrFull, without a round trip, while a recent OOM reply
// says a write would be refused.
func (r *Redis) writable(op string) error {
	if time.Now().UnixNano() < r.fullUntil.Load() {
		return fmt.Errorf("%s: %w (writes paused after an OOM reply)", op, ErrFull)
	}
	return nil
}

// writeFailed wraps a write's error, and starts the write cool-down when
// Redis refused it for lack of memory.
func (r *Redis) writeFailed(op string, err error) error {
	if redis.IsOOMError(err) {
		r.fullUntil.Store(time.Now().Add(r.fullCoolDown).UnixNano())
		return fmt.Errorf("%s: %w: %w", op, ErrFull, err)
	}
	r.failed(err)
	return fmt.Errorf("%s: %w", op, err)
}

// follow reloads a Cluster's slot map every followEvery while transport
// failures keep coming, and for followFor after the last one: a replica is
// promoted a second or two after its master died, and while a Breaker is
// open no operation reaches the store to report the promotion, so the map
// must be fresh by the time the breaker lets a probe through. It returns
// when the store is closed.
func (r *Redis) follow() {
	for {
		select {
		case <-r.done:
			return
		case <-r.kick:
		}
		for time.Since(time.Unix(0, r.lastFailure.Load())) < followFor {
			r.cc.ReloadState(context.Background()) // asynchronous; go-redis runs one at a time
			select {
			case <-r.done:
				return
			case <-time.After(followEvery):
			}
		}
	}
}

// op bounds one operation by the operation timeout.
func (r *Redis) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.opTime)
}

// NewClient builds the go-redis client NewRedis uses (standalone, Sentinel
// or Cluster from the URL; fail-open timeouts), for other Ditto parts that
// share the deployment, such as statistics. It does not contact Redis.
func NewClient(opts RedisOptions) (redis.UniversalClient, error) {
	if opts.URL == "" {
		return nil, fmt.Errorf("empty URL: %w", ErrInvalid)
	}
	u, err := url.Parse(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("invalid URL: %w", redact.URLError(err))
	}
	q := u.Query()
	switch {
	case q.Has("master_name"):
		o, err := redis.ParseFailoverURL(opts.URL)
		if err != nil {
			return nil, fmt.Errorf("invalid sentinel URL: %w", redact.URLError(err))
		}
		applyOptions(opts, poolKnobs{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout,
			&o.PoolSize, &o.MinIdleConns, &o.MaxRetries, &o.DialerRetries, &o.ContextTimeoutEnabled, &o.DisableIdentity, &o.Protocol})
		return redis.NewFailoverClient(o), nil
	case q.Has("addr") || opts.Cluster:
		o, err := redis.ParseClusterURL(opts.URL)
		if err != nil {
			return nil, fmt.Errorf("invalid cluster URL: %w", redact.URLError(err))
		}
		applyOptions(opts, poolKnobs{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout,
			&o.PoolSize, &o.MinIdleConns, &o.MaxRetries, &o.DialerRetries, &o.ContextTimeoutEnabled, &o.DisableIdentity, &o.Protocol})
		o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
		return redis.NewClusterClient(o), nil
	default:
		o, err := redis.ParseURL(opts.URL)
		if err != nil {
			return nil, fmt.Errorf("invalid URL: %w", redact.URLError(err))
		}
		applyOptions(opts, poolKnobs{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout,
			&o.PoolSize, &o.MinIdleConns, &o.MaxRetries, &o.DialerRetries, &o.ContextTimeoutEnabled, &o.DisableIdentity, &o.Protocol})
		// Maintenance notifications serve managed Redis Enterprise; "auto"
		// costs a handshake round trip on every new connection.
		o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
		return redis.NewClient(o), nil
	}
}

// poolKnobs points at the settings shared by go-redis's option structs.
type poolKnobs struct {
	dial, read, write, pool       *time.Duration
	poolSize, minIdle, maxRetries *int
	dialerRetries                 *int
	ctxTimeout, disableIdentity   *bool
	protocol                      *int
}

// applyOptions sets each knob: an explicit RedisOptions field wins, then a
// URL parameter, then the default.
func applyOptions(opts RedisOptions, k poolKnobs) {
	setDur := func(dst *time.Duration, v, def time.Duration) {
		switch {
		case v != 0:
			*dst = v
		case *dst == 0:
			*dst = def
		}
	}
	setDur(k.dial, opts.DialTimeout, DefaultDialTimeout)
	setDur(k.read, opts.ReadTimeout, DefaultReadTimeout)
	setDur(k.write, opts.WriteTimeout, DefaultWriteTimeout)
	setDur(k.pool, opts.PoolTimeout, DefaultPoolTimeout)
	if opts.PoolSize > 0 {
		*k.poolSize = opts.PoolSize
	}
	switch {
	case opts.MinIdleConns > 0:
		*k.minIdle = opts.MinIdleConns
	case *k.minIdle == 0:
		*k.minIdle = DefaultMinIdleConns
	}
	switch {
	case opts.MaxRetries > 0:
		*k.maxRetries = opts.MaxRetries
	case *k.maxRetries == 0:
		*k.maxRetries = -1 // go-redis: -1 disables retries, 0 means 3
	}
	// go-redis dials up to 5 times, 100 ms apart, per command: ≥ 400 ms
	// per call while Redis is down. One attempt; the pool re-dials itself.
	*k.dialerRetries = 1
	// Without this a caller's deadline does not stop a slow command.
	*k.ctxTimeout = true
	// CLIENT SETINFO errors on Redis < 7.2 and is an extra round trip.
	*k.disableIdentity = true
	// RESP2 unless the URL asks for another (?protocol=3): Ditto uses no
	// RESP3 feature, and go-redis checks every RESP3 reply for pending
	// push notifications (about 4% of a Redis hit's CPU).
	if *k.protocol == 0 {
		*k.protocol = 2
	}
}

func (r *Redis) key(k cachekey.Key) string {
	return r.prefix + k.String()
}

// encode is MarshalEntry, or SealEntry with an entry key.
func (r *Redis) encode(e Entry) []byte {
	if r.entryKey != nil {
		return SealEntry(e, r.entryKey)
	}
	return MarshalEntry(e)
}

// decode is UnmarshalEntry, or OpenEntry with an entry key.
func (r *Redis) decode(b []byte) (Entry, error) {
	if r.entryKey != nil {
		return OpenEntry(b, r.entryKey)
	}
	return UnmarshalEntry(b)
}

// Get fetches and decodes the entry stored under k. The Body is read-only.
func (r *Redis) Get(ctx context.Context, k cachekey.Key) (Entry, bool, error) {
	ctx, cancel := r.op(ctx)
	defer cancel()
	b, err := r.get(ctx, r.key(k))
	if errors.Is(err, redis.Nil) {
		return Entry{}, false, nil
	}
	if err != nil {
		r.failed(err)
		return Entry{}, false, fmt.Errorf("redis get: %w", err)
	}
	e, err := r.decode(b)
	if err != nil {
		return Entry{}, false, fmt.Errorf("redis get: %w", err)
	}
	return e, true, nil
}

// get runs GET key, autopipelined when the store batches lookups.
func (r *Redis) get(ctx context.Context, key string) ([]byte, error) {
	if r.ap == nil {
		return r.c.Get(ctx, key).Bytes()
	}
	cmd := redis.NewStringCmd(ctx, "get", key)
	if err := r.ap.Do(ctx, cmd); err != nil {
		return nil, err
	}
	return cmd.Bytes()
}

// Set stores e under k with SET PX ttl; ttl is rounded up to a millisecond.
// After an OOM reply it returns ErrFull without calling Redis for
// FullCoolDown.
func (r *Redis) Set(ctx context.Context, k cachekey.Key, e Entry, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("redis set: ttl %v: %w", ttl, ErrInvalid)
	}
	ttl = (ttl + time.Millisecond - 1).Truncate(time.Millisecond)
	if err := r.writable("redis set"); err != nil {
		return err
	}
	ctx, cancel := r.op(ctx)
	defer cancel()
	if err := r.c.Set(ctx, r.key(k), r.encode(e), ttl).Err(); err != nil {
		return r.writeFailed("redis set", err)
	}
	return nil
}

// GetMany fetches every key with pipelined GETs: one round trip (one per
// node of a Cluster, which go-redis runs in parallel). A multi-key MGET
// would be CROSSSLOT in a Cluster.
func (r *Redis) GetMany(ctx context.Context, ks []cachekey.Key) ([]Result, error) {
	out, _, err := r.getMany(ctx, ks, false)
	return out, err
}

// getMany is GetMany; withTTL also sends a PTTL per key in the same
// pipeline and returns each found key's remaining lifetime (0 when Redis
// did not report a positive one), for Tiered's L1 bound.
func (r *Redis) getMany(ctx context.Context, ks []cachekey.Key, withTTL bool) ([]Result, []time.Duration, error) {
	ctx, cancel := r.op(ctx)
	defer cancel()
	cmds := make([]*redis.StringCmd, len(ks))
	var pttls []*redis.DurationCmd
	if withTTL {
		pttls = make([]*redis.DurationCmd, len(ks))
	}
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range ks {
			cmds[i] = p.Get(ctx, r.key(k))
			if withTTL {
				pttls[i] = p.PTTL(ctx, r.key(k))
			}
		}
		return nil
	})
	out := make([]Result, len(ks))
	var ttls []time.Duration
	if withTTL {
		ttls = make([]time.Duration, len(ks))
	}
	for i, cmd := range cmds {
		b, cerr := cmd.Bytes()
		switch {
		case errors.Is(cerr, redis.Nil):
		case cerr != nil:
			var re redis.Error
			if !errors.As(cerr, &re) {
				// Not a reply from Redis: the whole call failed.
				r.failed(cerr)
				return nil, nil, fmt.Errorf("redis get many: %w", cerr)
			}
			out[i].Err = fmt.Errorf("redis get many: %w", cerr)
		default:
			e, derr := r.decode(b)
			if derr != nil {
				out[i].Err = fmt.Errorf("redis get many: %w", derr)
				continue
			}
			out[i].Entry, out[i].Found = e, true
			if withTTL {
				// -1 (no expiry) and -2 (gone since the GET) are negative.
				if d, terr := pttls[i].Result(); terr == nil && d > 0 {
					ttls[i] = d
				}
			}
		}
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		var re redis.Error
		if !errors.As(err, &re) {
			r.failed(err)
			return nil, nil, fmt.Errorf("redis get many: %w", err)
		}
	}
	return out, ttls, nil
}

// Status reports a Redis store, shared by every replica pointed at it.
func (r *Redis) Status() Status { return Status{Kind: "redis", Shared: true} }

// Delete removes the entry stored under k.
func (r *Redis) Delete(ctx context.Context, k cachekey.Key) error {
	ctx, cancel := r.op(ctx)
	defer cancel()
	if err := r.c.Unlink(ctx, r.key(k)).Err(); err != nil {
		r.failed(err)
		return fmt.Errorf("redis delete: %w", err)
	}
	return nil
}

// Purge deletes every key starting with KeyPrefix+prefix, with SCAN MATCH
// and pipelined UNLINKs, on every master of a Cluster. It does not block
// Redis, but keys written during the scan may survive, and on error the
// count covers only what was deleted.
func (r *Redis) Purge(ctx context.Context, prefix string) (int, error) {
	if prefix == "" {
		return 0, fmt.Errorf("redis purge: empty prefix: %w", ErrInvalid)
	}
	pattern := globEscape(r.prefix+prefix) + "*"
	if cc, ok := r.c.(*redis.ClusterClient); ok {
		var total atomic.Int64
		err := cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			n, err := purgeNode(ctx, node, pattern)
			total.Add(int64(n))
			return err
		})
		if err != nil {
			r.failed(err)
			return int(total.Load()), fmt.Errorf("redis purge: %w", err)
		}
		return int(total.Load()), nil
	}
	n, err := purgeNode(ctx, r.c, pattern)
	if err != nil {
		return n, fmt.Errorf("redis purge: %w", err)
	}
	return n, nil
}

// purgeScanCount is the SCAN COUNT hint and so the largest UNLINK batch.
const purgeScanCount = 500

func purgeNode(ctx context.Context, c redis.Cmdable, pattern string) (int, error) {
	var (
		cursor uint64
		n      int
	)
	for {
		keys, next, err := c.Scan(ctx, cursor, pattern, purgeScanCount).Result()
		if err != nil {
			return n, err
		}
		if len(keys) > 0 {
			// One UNLINK per key: in a Cluster, keys of one node may sit in
			// different slots, and a multi-key UNLINK would be CROSSSLOT.
			cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, k := range keys {
					p.Unlink(ctx, k)
				}
				return nil
			})
			for _, cmd := range cmds {
				if ic, ok := cmd.(*redis.IntCmd); ok && ic.Err() == nil {
					n += int(ic.Val())
				}
			}
			if err != nil {
				return n, err
			}
		}
		if next == 0 {
			return n, nil
		}
		cursor = next
	}
}

// globEscape quotes the characters SCAN MATCH treats as a pattern.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Ping sends PING.
func (r *Redis) Ping(ctx context.Context) error {
	ctx, cancel := r.op(ctx)
	defer cancel()
	if err := r.c.Ping(ctx).Err(); err != nil {
		r.failed(err)
		return fmt.Errorf("redis ping: %w", err)
	}
	return nil
}

// Close stops the store's background work and closes the client and its
// connections. Calling it again is a no-op.
func (r *Redis) Close() error {
	var err error
	r.closeOnce.Do(func() {
		r.hbMu.Lock()
		r.closed = true
		r.hbMu.Unlock()
		close(r.done)
		r.wg.Wait()
		if r.ap != nil {
			_ = r.ap.Close()
		}
		err = r.c.Close()
	})
	return err
}
