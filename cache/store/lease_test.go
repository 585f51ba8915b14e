package store

import (
	"context"
	"testing"
	"time"

	"github.com/dittocache/ditto/cachekey"
	"github.com/dittocache/ditto/internal/redistest"
)

func TestRedisLease(t *testing.T) {
	srv := redistest.Start(t)
	r, err := NewRedis(context.Background(), RedisOptions{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	k := cachekey.New("t", "openai/gpt-4o", []byte("x"))
	release, ok, err := r.Lease(ctx, k, time.Minute)
	if err != nil || !ok {
		t.Fatalf("first Lease = %v, %v; want acquired", ok, err)
	}
	if _, ok, _ := r.Lease(ctx, k, time.Minute); ok {
		t.Fatal("second Lease acquired a held lease")
	}
	release()
	release2, ok, err := r.Lease(ctx, k, time.Minute)
	if err != nil || !ok {
		t.Fatalf("Lease after release = %v, %v", ok, err)
	}
	// A stale release (the first holder's) must not free the new holder's lease.
	release()
	if _, ok, _ := r.Lease(ctx, k, time.Minute); ok {
		t.Fatal("a stale release freed another holder's lease")
	}
	release2()
	// Purges remove leases with their entries.
	r.Lease(ctx, k, time.Minute)
	if n, err := r.Purge(ctx, cachekey.Prefix("t", "")); err != nil || n != 1 {
		t.Errorf("Purge = %d, %v; want the lease deleted", n, err)
	}
	b := NewBreaker(r, BreakerOptions{})
	if _, ok, err := b.Lease(ctx, k, time.Minute); err != nil || !ok {
		t.Errorf("Breaker.Lease = %v, %v", ok, err)
	}
}
