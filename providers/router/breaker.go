package router

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/dittocache/ditto/providers"
)

// maxBreakers bounds the number of routes given a breaker of their own:
// wildcard routes make the route key space as large as the model names
// clients send. Routes past the bound are called without a breaker.
const maxBreakers = 4096

// ErrCircuitOpen is wrapped by every *CircuitOpenError.
var ErrCircuitOpen = errors.New("router: the route's circuit breaker is open")

// CircuitOpenError is a route that was not called because its provider
// kept failing: its breaker is open (or half-open with its one probe
// already in flight). It is fallbackable, so a fallback route or a stale
// entry may still answer.
type CircuitOpenError struct {
	Route      string        // Route.Key(): provider/upstream model
	RetryAfter time.Duration // the breaker's cool-down, an upper bound on the wait
}

func (e *CircuitOpenError) Error() string {
	return "The upstream " + e.Route + " kept failing; Ditto stops calling it for up to " +
		strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)) + " s."
}

// Unwrap makes errors.Is(err, ErrCircuitOpen) hold.
func (e *CircuitOpenError) Unwrap() error { return ErrCircuitOpen }

// Breakers holds one circuit breaker per route (provider and upstream
// model), shared by every Router built with it, so a config reload keeps
// what the breakers learnt. After Failures consecutive failed calls of a
// route (transport failures, timeouts, stalls and 5xx answers) the
// route is skipped for CoolDown: Call goes straight to its fallbacks, and
// with none left answers at once with a *CircuitOpenError. Then one call
// probes the route (half-open); its success closes the breaker, its failure
// opens it for another CoolDown. Answers that blame the request (400, 401,
// 404, …), rate limits (429: the provider is up and says when to come
// back; the call still falls back and retries) and a caller's cancellation
// never count as failures. Safe for
// concurrent use; the nil *Breakers lets every call through.
type Breakers struct {
	failures uint32
	coolDown time.Duration
	onChange func(route, from, to string)

	mu sync.Mutex
	m  map[string]*gobreaker.TwoStepCircuitBreaker[struct{}]
}

// NewBreakers returns per-route breakers opening after failures consecutive
// failures for coolDown; failures <= 0 returns nil (no breakers).
// onChange, if non-nil, is called on every transition with the states
// named as in States; it runs under the breaker's lock and must be quick.
func NewBreakers(failures int, coolDown time.Duration, onChange func(route, from, to string)) *Breakers {
	if failures <= 0 {
		return nil
	}
	if coolDown <= 0 {
		coolDown = 30 * time.Second
	}
	return &Breakers{failures: uint32(failures), coolDown: coolDown, onChange: onChange,
		m: map[string]*gobreaker.TwoStepCircuitBreaker[struct{}]{}}
}

func (b *Breakers) get(route string) *gobreaker.TwoStepCircuitBreaker[struct{}] {
	b.mu.Lock()
	defer b.mu.Unlock()
	if cb, ok := b.m[route]; ok {
		return cb
	}
	if len(b.m) >= maxBreakers {
		return nil
	}
	st := gobreaker.Settings{
		Name:        route,
		MaxRequests: 1,
		Timeout:     b.coolDown,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= b.failures },
		IsSuccessful: func(err error) bool {
			return !breakerFailure(err)
		},
		IsExcluded: func(err error) bool {
			return errors.Is(err, context.Canceled) || errors.Is(err, errCallerGone)
		},
	}
	if f := b.onChange; f != nil {
		st.OnStateChange = func(name string, from, to gobreaker.State) { f(name, from.String(), to.String()) }
	}
	cb := gobreaker.NewTwoStepCircuitBreaker[struct{}](st)
	b.m[route] = cb
	return cb
}

// errCallerGone reports a call whose caller's context ended: whatever the
// call returned says nothing about the provider.
var errCallerGone = errors.New("router: caller gone")

// noteDone is the report of a call let through without a breaker.
func noteDone(error) {}

// allow asks route's breaker for one call. done must be called with the
// call's outcome (ctx is the caller's: a failure after it ended is not
// counted).
func (b *Breakers) allow(ctx context.Context, route string) (done func(error), err error) {
	if b == nil {
		return noteDone, nil
	}
	cb := b.get(route)
	if cb == nil {
		return noteDone, nil
	}
	d, err := cb.Allow()
	if err != nil {
		return nil, &CircuitOpenError{Route: route, RetryAfter: b.coolDown}
	}
	return func(err error) {
		if err != nil && ctx.Err() != nil {
			err = errCallerGone
		}
		d(err)
	}, nil
}

// breakerFailure reports whether a failed call says the provider is in
// trouble (rather than the request being refused or rate limited: a 429
// is a healthy provider metering this key, and opening the route on it
// would turn a burst of throttling into CoolDown of outage).
func breakerFailure(err error) bool {
	if pe, ok := providers.AsError(err); ok && pe.Status == http.StatusTooManyRequests {
		return false
	}
	return err != nil && Retryable(err)
}

// States returns the state (closed, half-open, open) of every route that
// has a breaker and is not closed, sorted by route; nil when all are.
func (b *Breakers) States() []RouteState {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []RouteState
	for route, cb := range b.m {
		if st := cb.State(); st != gobreaker.StateClosed {
			out = append(out, RouteState{Route: route, State: st.String()})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Route < out[j].Route })
	return out
}

// RouteState is one route breaker's state.
type RouteState struct {
	Route string `json:"route"`
	State string `json:"state"`
}
