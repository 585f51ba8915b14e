package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dittocache/ditto/cachekey"
)

// Leaser is implemented by stores shared between gateway replicas. A fill
// lease lets one replica call the provider for a missing entry while the
// others wait for the entry to appear, so identical misses across a cluster
// cost one upstream call.
type Leaser interface {
	// Lease tries to take the fill lease for k for ttl. When acquired, the
	// caller must call release once the entry is stored (or the fill
	// failed); release only deletes the lease if it still holds it.
	Lease(ctx context.Context, k cachekey.Key, ttl time.Duration) (release func(), acquired bool, err error)
}

// leaseSuffix marks lease keys; they share the entry's prefix so purges
// remove them too.
const leaseSuffix = ":lease"

// releaseScript deletes the lease only if it still holds our token, so a
// lease that expired and was taken by another replica is left alone.
var releaseScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)

// Lease implements Leaser with SET NX PX and a random token.
func (r *Redis) Lease(ctx context.Context, k cachekey.Key, ttl time.Duration) (func(), bool, error) {
	if ttl <= 0 {
		return nil, false, fmt.Errorf("redis lease: ttl %v: %w", ttl, ErrInvalid)
	}
	var b [16]byte
	rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	key := r.key(k) + leaseSuffix
	ok, err := r.c.SetNX(ctx, key, token, ttl).Result()
	if err != nil {
		return nil, false, fmt.Errorf("redis lease: %w", err)
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

// Lease calls the backend's Lease unless the breaker is open. A backend
// without leases never grants one.
func (b *Breaker) Lease(ctx context.Context, k cachekey.Key, ttl time.Duration) (func(), bool, error) {
	l, ok := b.b.(Leaser)
	if !ok {
		return nil, false, errors.New("store: backend has no leases")
	}
	var (
		release  func()
		acquired bool
	)
	err := b.run("breaker lease", func() (err error) {
		release, acquired, err = l.Lease(ctx, k, ttl)
		return err
	})
	return release, acquired, err
}

var (
	_ Leaser = (*Redis)(nil)
	_ Leaser = (*Breaker)(nil)
)
