package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dittocache/ditto/cachekey"
)

// DefaultLeaseTTL is how long a Redis fill lease outlives its holder: the
// lease key's TTL, which a live holder keeps renewing.
const DefaultLeaseTTL = 2 * time.Second

// leaseSuffix marks lease keys; they share the entry's prefix so purges
// remove them too.
const leaseSuffix = ":lease"

// releaseScript deletes the lease only if it still holds our token, so a
// lease that expired and was taken by another replica is left alone.
var releaseScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)

// setReleaseScript writes the entry (KEYS[1], value ARGV[1], ARGV[2] ms)
// and releases the fill lease (KEYS[2]) when it still holds our token
// (ARGV[3]): SetRelease in one command, so it can share the batched
// pipelines (standalone and Sentinel only: the two keys may live in
// different Cluster slots). The release happens even when Redis refuses
// the SET (OOM under noeviction: DEL is allowed), and the reply is then
// the SET's error.
var setReleaseScript = redis.NewScript(`local ok = redis.pcall("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
if redis.call("GET", KEYS[2]) == ARGV[3] then redis.call("DEL", KEYS[2]) end
return ok`)

// renewScript extends the lease to ARGV[2] ms only if it still holds our
// token; 0 says the lease is lost (expired, or taken by another replica).
// PEXPIRE is not refused at maxmemory, so a full Redis keeps leases alive.
var renewScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end return 0`)

// getOrLeaseScript is a lookup that takes the fill lease on a miss: it
// reads the entry (KEYS[1]) and, only when there is none, takes its lease
// (KEYS[2]) with SET NX PX (token ARGV[1], ARGV[2] ms). It replies with
// the entry when it exists, else 1 when the lease was taken and 0 when
// another holder has it. A hit takes no lease and writes nothing.
var getOrLeaseScript = redis.NewScript(`local v = redis.call("GET", KEYS[1])
if v then return v end
if redis.call("SET", KEYS[2], ARGV[1], "NX", "PX", ARGV[2]) then return 1 end
return 0`)

// getOrLeaseTTLScript is getOrLeaseScript replying {entry, PTTL} to a hit,
// for Tiered, whose L1 keeps an entry no longer than Redis does.
var getOrLeaseTTLScript = redis.NewScript(`local v = redis.call("GET", KEYS[1])
if v then return {v, redis.call("PTTL", KEYS[1])} end
if redis.call("SET", KEYS[2], ARGV[1], "NX", "PX", ARGV[2]) then return 1 end
return 0`)

// GetOrLease reads k's entry as Get does and, when there is none, takes
// k's fill lease as Lease does, in one round trip (getOrLeaseScript): a
// miss that will fill costs two round trips (this and SetRelease) instead
// of three. On a Cluster, where the lease key may live in another slot
// than the entry, and while writes are paused after an OOM reply, it is
// Get and takes no lease.
func (r *Redis) GetOrLease(ctx context.Context, k cachekey.Key, ttl time.Duration) (Entry, bool, Held, error) {
	e, found, _, h, err := r.getOrLease(ctx, k, ttl, false)
	return e, found, h, err
}

// getOrLease is GetOrLease; withTTL also reports a found entry's remaining
// TTL (0 when unknown or unlimited), for Tiered's L1.
func (r *Redis) getOrLease(ctx context.Context, k cachekey.Key, ttl time.Duration, withTTL bool) (e Entry, found bool, pttl time.Duration, h Held, err error) {
	if ttl <= 0 {
		return Entry{}, false, 0, Held{}, fmt.Errorf("redis get or lease: ttl %v: %w", ttl, ErrInvalid)
	}
	if r.cc != nil || r.writable("redis lease") != nil {
		e, found, err = r.Get(ctx, k)
		return e, found, 0, Held{}, err
	}
	keyTTL := min(ttl, r.leaseTTL)
	octx, cancel := r.op(ctx)
	defer cancel()
	entryKey := r.key(k)
	key := entryKey + leaseSuffix
	token := r.token()
	taken := time.Now()
	script := getOrLeaseScript
	if withTTL {
		script = getOrLeaseTTLScript
	}
	res, err := r.script(octx, script, []string{entryKey, key}, token, keyTTL.Milliseconds())
	if err != nil {
		if redis.IsOOMError(err) {
			// Only the lease's SET writes, and only on a miss: there is
			// no entry, and no lease until the cool-down ends.
			_ = r.writeFailed("redis lease", err)
			return Entry{}, false, 0, Held{}, nil
		}
		r.failed(err)
		return Entry{}, false, 0, Held{}, fmt.Errorf("redis get or lease: %w", err)
	}
	var body string
	switch v := res.(type) {
	case int64:
		if v == 1 {
			return Entry{}, false, 0, Held{Acquired: true, l: r.held(ctx, key, token, ttl, keyTTL, taken)}, nil
		}
		return Entry{}, false, 0, Held{}, nil
	case string: // getOrLeaseScript's hit
		body = v
	case []any: // getOrLeaseTTLScript's hit: {entry, PTTL}
		if len(v) == 2 {
			body, _ = v[0].(string)
			if ms, ok := v[1].(int64); ok && ms > 0 {
				pttl = time.Duration(ms) * time.Millisecond
			}
		}
	}
	if body != "" {
		e, err := r.decode([]byte(body))
		if err != nil {
			return Entry{}, false, 0, Held{}, fmt.Errorf("redis get or lease: %w", err)
		}
		return e, true, pttl, Held{}, nil
	}
	return Entry{}, false, 0, Held{}, fmt.Errorf("redis get or lease: unexpected reply %T: %w", res, ErrCorrupt)
}

// script runs s as Script.Run does (EVALSHA, EVAL when Redis lacks it),
// the EVALSHA autopipelined when the store batches lookups.
func (r *Redis) script(ctx context.Context, s *redis.Script, keys []string, args ...any) (any, error) {
	if r.ap == nil {
		return s.Run(ctx, r.c, keys, args...).Result()
	}
	cmd := r.ap.EvalSha(ctx, s.Hash(), keys, args...)
	res, err := cmd.Result()
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		return s.Run(ctx, r.c, keys, args...).Result() // loads it
	}
	return res, err
}

// token returns a fill lease's token: unique among every lease any
// replica takes (a random per-process prefix and a counter), so a holder
// releases or renews only its own lease. It need not be secret: whoever
// can write to the Redis can delete a lease anyway.
func (r *Redis) token() string {
	var b [len(r.tokenBase) + 13]byte
	n := copy(b[:], r.tokenBase[:])
	return string(strconv.AppendUint(b[:n], r.tokens.Add(1), 36))
}

// held returns the lease just taken under key with token, renewed by a
// heartbeat while ttl (the whole fill's bound) is longer than keyTTL.
func (r *Redis) held(ctx context.Context, key, token string, ttl, keyTTL time.Duration, taken time.Time) *redisLease {
	l := &redisLease{r: r, ctx: context.WithoutCancel(ctx), key: key, token: token, stop: func() {}}
	if ttl > keyTTL {
		l.stop = r.startHeartbeat(key, token, taken.Add(ttl))
	}
	return l
}

// Lease takes the fill lease of k with SET NX PX and a unique token.
//
// ttl bounds how long the caller may hold the lease in all (the longest a
// fill may take). The key itself lives only LeaseTTL (or ttl, if shorter):
// while the lease is held, a heartbeat goroutine renews it every LeaseTTL/3
// (PEXPIRE, only while the token still matches), so a replica that dies
// holding the lease blocks the others for at most LeaseTTL, not for ttl.
// The heartbeat stops on release, when ttl has passed since the lease was
// taken, when the lease is found lost, and when the store is closed.
// release is safe to call more than once and from any goroutine.
func (r *Redis) Lease(ctx context.Context, k cachekey.Key, ttl time.Duration) (func(), bool, error) {
	l, _, err := r.take(ctx, k, ttl, false)
	if err != nil || l == nil {
		return nil, false, err
	}
	return l.release, true, nil
}

// LeaseGet takes the lease as Lease does and reads k's entry in the same
// pipeline: SET NX PX then GET, one round trip (in a Cluster the two keys
// may live on two nodes, which go-redis calls in parallel).
func (r *Redis) LeaseGet(ctx context.Context, k cachekey.Key, ttl time.Duration) (Held, Entry, bool, error) {
	l, get, err := r.take(ctx, k, ttl, true)
	if err != nil {
		return Held{}, Entry{}, false, err
	}
	h := Held{}
	if l != nil {
		h = Held{Acquired: true, l: l}
	}
	b, gerr := get.Bytes()
	if gerr != nil {
		if !errors.Is(gerr, redis.Nil) {
			r.failed(gerr)
		}
		return h, Entry{}, false, nil
	}
	e, derr := r.decode(b)
	if derr != nil {
		return h, Entry{}, false, nil
	}
	return h, e, true, nil
}

// take sends SET NX PX for k's lease key, followed by a GET of k when get
// is set. l is nil when another holder has the lease.
func (r *Redis) take(ctx context.Context, k cachekey.Key, ttl time.Duration, get bool) (l *redisLease, g *redis.StringCmd, err error) {
	if ttl <= 0 {
		return nil, nil, fmt.Errorf("redis lease: ttl %v: %w", ttl, ErrInvalid)
	}
	if err := r.writable("redis lease"); err != nil {
		return nil, nil, err
	}
	keyTTL := min(ttl, r.leaseTTL)
	octx, cancel := r.op(ctx)
	defer cancel()
	token := r.token()
	entryKey := r.key(k)
	key := entryKey + leaseSuffix
	taken := time.Now()
	var set *redis.BoolCmd
	if get {
		_, _ = r.c.Pipelined(octx, func(p redis.Pipeliner) error {
			set = p.SetNX(octx, key, token, keyTTL)
			g = p.Get(octx, entryKey)
			return nil
		})
	} else {
		set = r.c.SetNX(octx, key, token, keyTTL)
	}
	ok, err := set.Result()
	if err != nil {
		return nil, nil, r.writeFailed("redis lease", err)
	}
	if !ok {
		return nil, g, nil
	}
	return r.held(ctx, key, token, ttl, keyTTL, taken), g, nil
}

// redisLease is a lease held on Redis.
type redisLease struct {
	r          *Redis
	ctx        context.Context // the taker's values, without its cancellation
	key, token string
	stop       func() // ends the heartbeat
	ended      atomic.Bool
}

// end claims the lease's release: true for the first caller only, after
// the heartbeat has stopped.
func (l *redisLease) end() bool {
	if !l.ended.CompareAndSwap(false, true) {
		return false
	}
	l.stop()
	return true
}

func (l *redisLease) release() {
	if !l.end() {
		return
	}
	ctx, cancel := context.WithTimeout(l.ctx, time.Second)
	defer cancel()
	_ = releaseScript.Run(ctx, l.r.c, []string{l.key}, l.token).Err() // best effort: it expires anyway
}

// SetRelease writes e as Set does and releases h's lease in one round
// trip: one script (setReleaseScript) in the batched pipelines when the
// store autopipelines, else a pipeline of SET PX and the release script
// (two nodes in parallel in a Cluster). Should Redis have lost a script
// (a restart, SCRIPT FLUSH), it is sent again with EVAL.
func (r *Redis) SetRelease(ctx context.Context, k cachekey.Key, e Entry, ttl time.Duration, h Held) error {
	l, ok := h.l.(*redisLease)
	if !ok || l.r != r || ttl <= 0 || r.writable("redis set") != nil || !l.end() {
		err := r.Set(ctx, k, e, ttl)
		h.Release()
		return err
	}
	ttl = (ttl + time.Millisecond - 1).Truncate(time.Millisecond)
	octx, cancel := r.op(ctx)
	defer cancel()
	if r.ap != nil {
		if _, err := r.script(octx, setReleaseScript, []string{r.key(k), l.key}, r.encode(e), ttl.Milliseconds(), l.token); err != nil {
			return r.writeFailed("redis set", err)
		}
		return nil
	}
	var (
		set *redis.StatusCmd
		rel *redis.Cmd
	)
	_, _ = r.c.Pipelined(octx, func(p redis.Pipeliner) error {
		set = p.Set(octx, r.key(k), r.encode(e), ttl)
		rel = p.EvalSha(octx, releaseScript.Hash(), []string{l.key}, l.token)
		return nil
	})
	if err := rel.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		rctx, rcancel := context.WithTimeout(l.ctx, time.Second)
		_ = releaseScript.Run(rctx, r.c, []string{l.key}, l.token).Err() // best effort
		rcancel()
	}
	if err := set.Err(); err != nil {
		return r.writeFailed("redis set", err)
	}
	return nil
}

// startHeartbeat renews the lease key every LeaseTTL/3 until the returned
// stop is called, until, the lease is lost or the store closes. It is a
// timer, not a goroutine: a fill shorter than LeaseTTL/3 (most of them)
// costs one timer set and stopped, and a renewal runs on the timer's
// goroutine only when it is due. stop does not wait for a renewal under
// way: one that runs after the release finds another token (or none) and
// changes nothing, as renewScript checks the token. After Close it starts
// nothing, and Close waits for a renewal under way: the lease then simply
// expires.
func (r *Redis) startHeartbeat(key, token string, until time.Time) (stop func()) {
	r.hbMu.Lock()
	closed := r.closed
	r.hbMu.Unlock()
	if closed {
		return func() {}
	}
	h := &heartbeat{r: r, key: key, token: token, until: until, renewed: time.Now()}
	r.beating.Add(1)
	h.mu.Lock()
	h.t = time.AfterFunc(r.leaseTTL/3, h.beat)
	h.mu.Unlock()
	return h.stop
}

// heartbeat is one held lease's renewal timer.
type heartbeat struct {
	r          *Redis
	key, token string
	until      time.Time

	mu      sync.Mutex
	t       *time.Timer
	renewed time.Time // the last renewal that Redis acknowledged
	stopped bool
}

// stop ends the renewals; safe to call more than once.
func (h *heartbeat) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return
	}
	h.stopped = true
	h.t.Stop()
	h.r.beating.Add(-1)
}

// beat renews the lease once and sets the timer for the next renewal,
// unless the lease was released, held for its whole ttl, lost, or the
// store closed.
func (h *heartbeat) beat() {
	r := h.r
	r.hbMu.Lock()
	if r.closed {
		r.hbMu.Unlock()
		h.stop()
		return
	}
	r.wg.Add(1)
	r.hbMu.Unlock()
	defer r.wg.Done()
	if !h.renew() {
		h.stop()
		return
	}
	h.mu.Lock()
	if !h.stopped {
		h.t.Reset(r.leaseTTL / 3)
	}
	h.mu.Unlock()
}

// renew sends one renewal; false ends the heartbeat.
func (h *heartbeat) renew() bool {
	r := h.r
	h.mu.Lock()
	stopped, renewed := h.stopped, h.renewed
	h.mu.Unlock()
	now := time.Now()
	if stopped || now.After(h.until) {
		return false // released, or held for the whole ttl: let it expire
	}
	ctx, cancel := context.WithTimeout(context.Background(), min(r.opTime, r.leaseTTL/3))
	n, err := renewScript.Run(ctx, r.c, []string{h.key}, h.token, r.leaseTTL.Milliseconds()).Int64()
	cancel()
	switch {
	case err == nil && n == 0:
		return false // lost: expired or taken over
	case err == nil:
		h.mu.Lock()
		h.renewed = now
		h.mu.Unlock()
	case now.Sub(renewed) > r.leaseTTL:
		return false // unreachable for longer than the key lives: it is gone
	}
	return true
}
