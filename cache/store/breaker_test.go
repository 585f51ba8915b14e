package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dittocache/ditto/cache/store"
	"github.com/dittocache/ditto/cachekey"
)

// flaky is a Backend whose every call returns err and is counted.
type flaky struct {
	mu    sync.Mutex
	err   error
	calls int
}

func (f *flaky) do() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.err
}

func (f *flaky) set(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func (f *flaky) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *flaky) Get(context.Context, cachekey.Key) (store.Entry, bool, error) {
	return store.Entry{}, false, f.do()
}
func (f *flaky) Set(context.Context, cachekey.Key, store.Entry, time.Duration) error { return f.do() }
func (f *flaky) Delete(context.Context, cachekey.Key) error                          { return f.do() }
func (f *flaky) Purge(context.Context, string) (int, error)                          { return 0, f.do() }
func (f *flaky) Tag(context.Context, string, []string, cachekey.Key, time.Duration) error {
	return f.do()
}
func (f *flaky) PurgeTag(context.Context, string, string) (int, error) { return 0, f.do() }
func (f *flaky) Ping(context.Context) error                            { return f.do() }
func (f *flaky) Close() error                                          { return nil }
func (f *flaky) Status() store.Status                                  { return store.Status{Kind: "flaky", Shared: true} }
func (f *flaky) GetMany(_ context.Context, ks []cachekey.Key) ([]store.Result, error) {
	return make([]store.Result, len(ks)), f.do()
}
func (f *flaky) Lease(context.Context, cachekey.Key, time.Duration) (func(), bool, error) {
	return func() {}, true, f.do()
}
func (f *flaky) LeaseGet(context.Context, cachekey.Key, time.Duration) (store.Held, store.Entry, bool, error) {
	return store.Held{}, store.Entry{}, false, f.do()
}
func (f *flaky) GetOrLease(context.Context, cachekey.Key, time.Duration) (store.Entry, bool, store.Held, error) {
	return store.Entry{}, false, store.Held{}, f.do()
}
func (f *flaky) SetRelease(context.Context, cachekey.Key, store.Entry, time.Duration, store.Held) error {
	return f.do()
}

var errDown = errors.New("dial tcp: connection refused")

func TestBreakerOpensAndCloses(t *testing.T) {
	f := &flaky{err: errDown}
	var (
		mu  sync.Mutex
		got []string
	)
	b := store.NewBreaker(f, store.BreakerOptions{
		Failures: 3,
		CoolDown: 50 * time.Millisecond,
		OnStateChange: func(name, from, to string) {
			mu.Lock()
			got = append(got, fmt.Sprintf("%s:%s->%s", name, from, to))
			mu.Unlock()
		},
	})
	ctx := t.Context()
	k := cachekey.New("ns", "r", nil)
	for i := range 3 {
		if _, _, err := b.Get(ctx, k); !errors.Is(err, errDown) {
			t.Fatalf("call %d = %v, want the backend's error", i, err)
		}
	}
	if st := b.State(); st != "open" {
		t.Fatalf("State after 3 failures = %q, want open", st)
	}
	// Open: every method fails fast without calling the backend.
	before := f.count()
	_, _, getErr := b.Get(ctx, k)
	_, purgeErr := b.Purge(ctx, "ditto:")
	for _, err := range []error{getErr, b.Set(ctx, k, store.Entry{}, time.Hour), b.Delete(ctx, k), purgeErr, b.Ping(ctx)} {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("call while open = %v, want ErrUnavailable", err)
		}
	}
	if n := f.count() - before; n != 0 {
		t.Errorf("backend called %d times while open, want 0", n)
	}

	// After the cool-down one probe goes through; success closes.
	f.set(nil)
	deadline := time.Now().Add(5 * time.Second)
	for b.State() != "half-open" {
		if time.Now().After(deadline) {
			t.Fatalf("State = %q 5s after opening, want half-open", b.State())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := b.Ping(ctx); err != nil {
		t.Fatalf("probe = %v, want nil", err)
	}
	if st := b.State(); st != "closed" {
		t.Errorf("State after a successful probe = %q, want closed", st)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"store:closed->open", "store:open->half-open", "store:half-open->closed"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("OnStateChange calls = %v, want %v", got, want)
	}
}

func TestBreakerIgnoresHealthyErrors(t *testing.T) {
	tests := []struct {
		name string
		give error
	}{
		{"corrupt", fmt.Errorf("redis get: %w", store.ErrCorrupt)},
		{"invalid", fmt.Errorf("redis set: %w", store.ErrInvalid)},
		{"oom", fmt.Errorf("redis set: %w", replyError("OOM command not allowed when used memory > 'maxmemory'."))},
		{"wrongtype", fmt.Errorf("redis get: %w", replyError("WRONGTYPE Operation against a key holding the wrong kind of value"))},
		{"noscript", fmt.Errorf("redis lease: %w", redis.ErrNoScript)},
		{"clusterdown", replyError("CLUSTERDOWN The cluster is down")},
		{"full", fmt.Errorf("redis set: %w", store.ErrFull)},
		{"cancelled", fmt.Errorf("redis get: %w", context.Canceled)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := store.NewBreaker(&flaky{err: tt.give}, store.BreakerOptions{Failures: 1})
			for range 5 {
				if _, _, err := b.Get(t.Context(), cachekey.Key{}); !errors.Is(err, tt.give) {
					t.Fatalf("Get = %v, want %v", err, tt.give)
				}
			}
			if st := b.State(); st != "closed" {
				t.Errorf("State after 5 %s errors = %q, want closed", tt.name, st)
			}
		})
	}
}

// replyError is an error reply from Redis, as go-redis types them.
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

func TestTransient(t *testing.T) {
	tests := []struct {
		give error
		want bool
	}{
		{nil, false},
		{fmt.Errorf("redis get: %w", context.DeadlineExceeded), true},
		{fmt.Errorf("redis get: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), true},
		{fmt.Errorf("redis get: %w", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}), true},
		{fmt.Errorf("redis get: %w", io.EOF), true},
		{fmt.Errorf("redis get: %w", redis.ErrPoolTimeout), true},
		{fmt.Errorf("redis get: %w", redis.ErrPoolExhausted), true},
		{redis.ErrClosed, true},
		{fmt.Errorf("redis get: %w", context.Canceled), false},
		{fmt.Errorf("redis get: %w", store.ErrCorrupt), false},
		{fmt.Errorf("redis set: %w", store.ErrInvalid), false},
		{fmt.Errorf("redis set: %w", store.ErrFull), false},
		{fmt.Errorf("redis get: %w", replyError("WRONGTYPE Operation against a key holding the wrong kind of value")), false},
		{fmt.Errorf("redis set: %w", replyError("OOM command not allowed")), false},
		{redis.ErrNoScript, false},
		{redis.Nil, false},
	}
	for _, tt := range tests {
		if got := store.Transient(tt.give); got != tt.want {
			t.Errorf("Transient(%v) = %v, want %v", tt.give, got, tt.want)
		}
	}
}

func TestBreakerCountsDeadlines(t *testing.T) {
	b := store.NewBreaker(&flaky{err: fmt.Errorf("redis get: %w", context.DeadlineExceeded)}, store.BreakerOptions{Failures: 2})
	for range 2 {
		_, _, _ = b.Get(t.Context(), cachekey.Key{})
	}
	if st := b.State(); st != "open" {
		t.Errorf("State after 2 timeouts = %q, want open", st)
	}
}
