package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dittocache/ditto/cachekey"
	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
)

// Breaker defaults.
const (
	DefaultBreakerFailures = 5
	DefaultBreakerCoolDown = time.Second
)

// BreakerOptions configures NewBreaker; the zero value selects the defaults.
type BreakerOptions struct {
	// Name labels the breaker in OnStateChange. Default "store".
	Name string
	// Failures is how many consecutive failed calls open the breaker.
	// Default DefaultBreakerFailures.
	Failures uint32
	// CoolDown is how long the breaker stays open before it lets one probe
	// call through (half-open). Default DefaultBreakerCoolDown, so the
	// breaker closes about a second after the backend recovers.
	CoolDown time.Duration
	// OnStateChange, if non-nil, is called on every transition with the
	// states as State reports them. It runs synchronously under the
	// breaker's lock: it must be quick and must not call the Breaker.
	OnStateChange func(name, from, to string)
}

// Breaker is a fail-open decorator: after Failures consecutive backend
// failures it opens, and every call returns an error wrapping ErrUnavailable
// at once, without touching the backend, for CoolDown; then one call probes
// the backend (half-open) and a success closes the breaker again.
//
// Failures are the errors Transient reports: the backend could not be
// reached in time (network errors, timeouts, an exhausted pool). A reply
// from Redis (WRONGTYPE on a key someone else wrote, OOM at maxmemory,
// NOSCRIPT, …) fails that one operation but counts as a success, as do
// misses, ErrCorrupt, ErrInvalid and ErrFull: Redis answered, so other keys
// still work and must not be refused. A caller's cancellation counts as
// neither. Breaker is safe for concurrent use.
type Breaker struct {
	b  Backend
	cb *gobreaker.CircuitBreaker[struct{}]
}

// NewBreaker wraps b. The Breaker owns b: Close closes it.
func NewBreaker(b Backend, opts BreakerOptions) *Breaker {
	if opts.Name == "" {
		opts.Name = "store"
	}
	if opts.Failures == 0 {
		opts.Failures = DefaultBreakerFailures
	}
	if opts.CoolDown <= 0 {
		opts.CoolDown = DefaultBreakerCoolDown
	}
	st := gobreaker.Settings{
		Name:        opts.Name,
		MaxRequests: 1,
		Timeout:     opts.CoolDown,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= opts.Failures
		},
		IsSuccessful: healthy,
		IsExcluded: func(err error) bool {
			return errors.Is(err, context.Canceled)
		},
	}
	if f := opts.OnStateChange; f != nil {
		st.OnStateChange = func(name string, from, to gobreaker.State) {
			f(name, from.String(), to.String())
		}
	}
	return &Breaker{b: b, cb: gobreaker.NewCircuitBreaker[struct{}](st)}
}

// Transient reports whether err says the store could not be reached in
// time: a network error, a timeout (the operation's or the caller's
// deadline), an exhausted connection pool. These are what open a Breaker.
// It is false for nil, for a reply from Redis (any redis.Error: WRONGTYPE,
// OOM, NOSCRIPT, CLUSTERDOWN, …, which fail one operation on a server that
// answered), for ErrCorrupt, ErrInvalid and ErrFull, and for a caller's
// cancellation.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) ||
		errors.Is(err, ErrCorrupt) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrFull) ||
		errors.Is(err, redis.Nil) {
		return false
	}
	var re redis.Error
	return !errors.As(err, &re)
}

// healthy reports whether err leaves the backend's health unquestioned.
func healthy(err error) bool { return !Transient(err) }

// State returns "closed", "open" or "half-open", for /readyz and metrics.
func (b *Breaker) State() string {
	return b.cb.State().String()
}

// run calls f through the breaker, mapping a rejection to ErrUnavailable.
func (b *Breaker) run(op string, f func() error) error {
	_, err := b.cb.Execute(func() (struct{}, error) { return struct{}{}, f() })
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return fmt.Errorf("%s: %w (%w)", op, ErrUnavailable, err)
	}
	return err
}

// Get calls the backend's Get unless the breaker is open.
func (b *Breaker) Get(ctx context.Context, k cachekey.Key) (Entry, bool, error) {
	var (
		e  Entry
		ok bool
	)
	err := b.run("breaker get", func() (err error) {
		e, ok, err = b.b.Get(ctx, k)
		return err
	})
	return e, ok, err
}

// GetMany calls the backend's GetMany unless the breaker is open. Errors of
// single keys (corrupt values) say nothing about the backend's health.
func (b *Breaker) GetMany(ctx context.Context, ks []cachekey.Key) ([]Result, error) {
	var rs []Result
	err := b.run("breaker get many", func() (err error) {
		rs, err = b.b.GetMany(ctx, ks)
		return err
	})
	return rs, err
}

// Lease calls the backend's Lease unless the breaker is open.
func (b *Breaker) Lease(ctx context.Context, k cachekey.Key, ttl time.Duration) (func(), bool, error) {
	var (
		release  func()
		acquired bool
	)
	err := b.run("breaker lease", func() (err error) {
		release, acquired, err = b.b.Lease(ctx, k, ttl)
		return err
	})
	return release, acquired, err
}

// LeaseGet calls the backend's LeaseGet unless the breaker is open.
func (b *Breaker) LeaseGet(ctx context.Context, k cachekey.Key, ttl time.Duration) (Held, Entry, bool, error) {
	var (
		h  Held
		e  Entry
		ok bool
	)
	err := b.run("breaker lease", func() (err error) {
		h, e, ok, err = b.b.LeaseGet(ctx, k, ttl)
		return err
	})
	return h, e, ok, err
}

// GetOrLease calls the backend's GetOrLease unless the breaker is open.
func (b *Breaker) GetOrLease(ctx context.Context, k cachekey.Key, ttl time.Duration) (Entry, bool, Held, error) {
	var (
		e  Entry
		ok bool
		h  Held
	)
	err := b.run("breaker get", func() (err error) {
		e, ok, h, err = b.b.GetOrLease(ctx, k, ttl)
		return err
	})
	return e, ok, h, err
}

// SetRelease calls the backend's SetRelease unless the breaker is open,
// in which case it only releases h (best effort, as a release always is).
func (b *Breaker) SetRelease(ctx context.Context, k cachekey.Key, e Entry, ttl time.Duration, h Held) error {
	called := false
	err := b.run("breaker set", func() error {
		called = true
		return b.b.SetRelease(ctx, k, e, ttl, h)
	})
	if !called {
		h.Release()
	}
	return err
}

// Status is the backend's, with the breaker's state.
func (b *Breaker) Status() Status {
	st := b.b.Status()
	st.Breaker = b.State()
	return st
}

// Set calls the backend's Set unless the breaker is open.
func (b *Breaker) Set(ctx context.Context, k cachekey.Key, e Entry, ttl time.Duration) error {
	return b.run("breaker set", func() error { return b.b.Set(ctx, k, e, ttl) })
}

// Delete calls the backend's Delete unless the breaker is open.
func (b *Breaker) Delete(ctx context.Context, k cachekey.Key) error {
	return b.run("breaker delete", func() error { return b.b.Delete(ctx, k) })
}

// Purge calls the backend's Purge unless the breaker is open.
func (b *Breaker) Purge(ctx context.Context, prefix string) (int, error) {
	var n int
	err := b.run("breaker purge", func() (err error) {
		n, err = b.b.Purge(ctx, prefix)
		return err
	})
	return n, err
}

// Ping calls the backend's Ping unless the breaker is open, so a readiness
// check also serves as the half-open probe when there is no traffic.
func (b *Breaker) Ping(ctx context.Context) error {
	return b.run("breaker ping", func() error { return b.b.Ping(ctx) })
}

// Close closes the backend, whatever the breaker's state.
func (b *Breaker) Close() error {
	return b.b.Close()
}
