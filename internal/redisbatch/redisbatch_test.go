package redisbatch_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dittocache/ditto/internal/leaktest"
	"github.com/dittocache/ditto/internal/redisbatch"
	"github.com/dittocache/ditto/internal/redistest"
)

// quiet drops go-redis's log lines (redistest dials before the server
// listens); the tests assert on errors instead.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// TestMain fails the package if a Batcher leaves a goroutine behind.
func TestMain(m *testing.M) {
	redis.SetLogger(quiet{})
	leaktest.VerifyTestMain(m)
}

var echo = redis.NewScript(`return ARGV[1]`)

func newBatcher(t *testing.T, c redis.UniversalClient) *redisbatch.Batcher {
	t.Helper()
	b, err := redisbatch.New(c)
	if err != nil || b == nil {
		t.Fatalf("New = %v, %v", b, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// Concurrent callers' commands share round trips, and each caller gets
// its own reply.
func TestConcurrentCommandsShareRoundTrips(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	b := newBatcher(t, c)
	ctx := context.Background()
	if err := echo.Load(ctx, c).Err(); err != nil {
		t.Fatal(err)
	}
	const workers, each = 64, 50
	got := srv.ReadsDuring(workers, each, func(w, i int) bool {
		want := strconv.Itoa(w*each + i)
		got, err := b.EvalSha(ctx, echo.Hash(), nil, want).Text()
		if err != nil || got != want {
			t.Errorf("EvalSha(%s) = %q, %v", want, got, err)
			return false
		}
		get := redis.NewStringCmd(ctx, "get", "k"+want)
		if err := b.Do(ctx, get); err != nil || !errors.Is(get.Err(), redis.Nil) {
			t.Errorf("GET k%s: %v, %v; want redis.Nil", want, err, get.Err())
			return false
		}
		return true
	})
	t.Logf("%d commands, %d reads by Redis", 2*workers*each, got)
	if got > workers*each {
		t.Errorf("%d reads for %d commands, want at most half", got, 2*workers*each)
	}
}

// An ended context sends nothing and always fails, even when a reply
// could be ready at once.
func TestEndedContext(t *testing.T) {
	srv := redistest.Start(t)
	b := newBatcher(t, srv.Client())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	before := srv.Reads()
	for range 500 {
		cmd := redis.NewStringCmd(ctx, "get", "k")
		if err := b.Do(ctx, cmd); !errors.Is(err, context.Canceled) {
			t.Fatalf("Do(cancelled ctx) = %v, want context.Canceled", err)
		}
		if err := b.EvalSha(ctx, echo.Hash(), nil, "x").Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("EvalSha(cancelled ctx) = %v, want context.Canceled", err)
		}
	}
	if n := srv.Reads() - before; n > 1 { // the INFO itself
		t.Errorf("%d reads by Redis for commands on an ended context", n)
	}
}

// A caller's deadline holds while Redis does not answer.
func TestDeadlineWhileRedisStalls(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client()
	b := newBatcher(t, srv.Client())
	if err := admin.Do(context.Background(), "client", "pause", 300, "all").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Do(context.Background(), "client", "unpause") })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	cmd := redis.NewStringCmd(ctx, "get", "k")
	if err := b.Do(ctx, cmd); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Do while Redis is paused = %v, want context.DeadlineExceeded", err)
	}
	if err := b.EvalSha(ctx, echo.Hash(), nil, "x").Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("EvalSha while Redis is paused = %v, want context.DeadlineExceeded", err)
	}
}

// Redis's own errors reach the caller as the command's error.
func TestRedisErrors(t *testing.T) {
	srv := redistest.Start(t)
	b := newBatcher(t, srv.Client())
	err := b.EvalSha(context.Background(), "0000000000000000000000000000000000000000", nil).Err()
	if err == nil || !redis.HasErrorPrefix(err, "NOSCRIPT") {
		t.Errorf("EvalSha(unknown script) = %v, want NOSCRIPT", err)
	}
}

// A Cluster client routes commands per slot: New declines it.
func TestClusterIsNotBatched(t *testing.T) {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	defer cc.Close()
	if b, err := redisbatch.New(cc); b != nil || err != nil {
		t.Errorf("New(cluster client) = %v, %v; want nil, nil", b, err)
	}
}
