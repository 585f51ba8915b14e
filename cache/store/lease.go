package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
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

// renewScript extends the lease to ARGV[2] ms only if it still holds our
// token; 0 says the lease is lost (expired, or taken by another replica).
// PEXPIRE is not refused at maxmemory, so a full Redis keeps leases alive.
var renewScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end return 0`)

// Lease takes the fill lease of k with SET NX PX and a random token.
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
	if ttl <= 0 {
		return nil, false, fmt.Errorf("redis lease: ttl %v: %w", ttl, ErrInvalid)
	}
	if err := r.writable("redis lease"); err != nil {
		return nil, false, err
	}
	keyTTL := min(ttl, r.leaseTTL)
	ctx, cancel := r.op(ctx)
	defer cancel()
	var b [16]byte
	rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	key := r.key(k) + leaseSuffix
	taken := time.Now()
	ok, err := r.c.SetNX(ctx, key, token, keyTTL).Result()
	if err != nil {
		return nil, false, r.writeFailed("redis lease", err)
	}
	if !ok {
		return nil, false, nil
	}
	stop := func() {}
	if ttl > keyTTL {
		stop = r.startHeartbeat(key, token, taken.Add(ttl))
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			stop()
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			defer cancel()
			_ = releaseScript.Run(ctx, r.c, []string{key}, token).Err() // best effort: it expires anyway
		})
	}
	return release, true, nil
}

// startHeartbeat renews the lease key every LeaseTTL/3 until the returned
// stop is called, until, the lease is lost or the store closes. stop waits
// for the goroutine to end (at most one renewal, bounded by the operation
// timeout). After Close it starts nothing: the lease then simply expires.
func (r *Redis) startHeartbeat(key, token string, until time.Time) (stop func()) {
	quit := make(chan struct{})
	finished := make(chan struct{})
	r.hbMu.Lock()
	if r.closed {
		r.hbMu.Unlock()
		return func() {}
	}
	r.wg.Add(1)
	r.hbMu.Unlock()
	go func() {
		defer r.wg.Done()
		defer close(finished)
		r.heartbeat(key, token, until, quit)
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(quit) })
		<-finished
	}
}

func (r *Redis) heartbeat(key, token string, until time.Time, quit <-chan struct{}) {
	every := r.leaseTTL / 3
	ms := r.leaseTTL.Milliseconds()
	t := time.NewTicker(every)
	defer t.Stop()
	renewed := time.Now()
	for {
		select {
		case <-quit:
			return
		case <-r.done:
			return
		case now := <-t.C:
			if now.After(until) {
				return // held for the whole ttl: let it expire
			}
			ctx, cancel := context.WithTimeout(context.Background(), min(r.opTime, every))
			n, err := renewScript.Run(ctx, r.c, []string{key}, token, ms).Int64()
			cancel()
			switch {
			case err == nil && n == 0:
				return // lost: expired or taken over
			case err == nil:
				renewed = now
			case now.Sub(renewed) > r.leaseTTL:
				return // unreachable for longer than the key lives: it is gone
			}
		}
	}
}
