package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dittocache/ditto/cachekey"
)

// leaseSuffix marks lease keys; they share the entry's prefix so purges
// remove them too.
const leaseSuffix = ":lease"

// releaseScript deletes the lease only if it still holds our token, so a
// lease that expired and was taken by another replica is left alone.
var releaseScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)

// Lease takes the fill lease with SET NX PX and a random token.
func (r *Redis) Lease(ctx context.Context, k cachekey.Key, ttl time.Duration) (func(), bool, error) {
	if ttl <= 0 {
		return nil, false, fmt.Errorf("redis lease: ttl %v: %w", ttl, ErrInvalid)
	}
	if err := r.writable("redis lease"); err != nil {
		return nil, false, err
	}
	ctx, cancel := r.op(ctx)
	defer cancel()
	var b [16]byte
	rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	key := r.key(k) + leaseSuffix
	ok, err := r.c.SetNX(ctx, key, token, ttl).Result()
	if err != nil {
		return nil, false, r.writeFailed("redis lease", err)
	}
	if !ok {
		return nil, false, nil
	}
	release := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = releaseScript.Run(ctx, r.c, []string{key}, token).Err() // best effort: it expires anyway
	}
	return release, true, nil
}
