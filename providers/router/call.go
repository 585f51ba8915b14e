package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
)

// Call gets a complete answer for req on route r: the route first, retried
// on transient failures, then each fallback route in order. With stream
// set it streams, passing each chunk to publish as it arrives; nothing is
// retried once a chunk has been published (clients have seen part of an
// answer). req is never modified (it may be shared): a copy carries each
// route's upstream model.
//
// A request carrying the client's own provider key (providers.WithClientKey)
// never falls back to another provider. A fallback's answer is returned as
// the answer to r (the caller stores it
// under r's key, so identical requests are served from the cache instead
// of retrying a failing primary); its Model names the model that answered.
func (rt *Router) Call(ctx context.Context, r Route, req *normalize.Request, stream bool, publish func(*normalize.Chunk)) (*normalize.Response, error) {
	var lastErr error
	for i, route := range rt.chain(r) {
		prov, ok := rt.providers[route.Provider]
		if !ok {
			continue
		}
		if _, own := providers.ClientKey(ctx); own && route.Provider != r.Provider {
			// A caller's own key is for its route's provider: Ditto's key
			// must not pay for its fallbacks elsewhere.
			continue
		}
		q := req
		if q.Model != route.UpstreamModel {
			cp := *req
			cp.Model = route.UpstreamModel
			q = &cp
		}
		for attempt := 0; ; attempt++ {
			done, err := rt.breakers.allow(ctx, route.Key())
			if err != nil {
				// The route kept failing: straight to the next fallback.
				lastErr = err
				break
			}
			resp, published, err := rt.attempt(ctx, r, route, prov, q, stream, publish)
			err = classify(err)
			done(err)
			if err == nil {
				if i > 0 {
					rt.log.Info("answered by fallback", "route", r.Model, "fallback", route.Key())
					if rt.obs.Fallback != nil {
						rt.obs.Fallback(r, route)
					}
				}
				return resp, nil
			}
			lastErr = err
			if published || ctx.Err() != nil {
				return nil, err
			}
			wait, retry := rt.retryWait(err, attempt)
			if !retry {
				break
			}
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return nil, err
			}
		}
		if !Fallbackable(lastErr) {
			return nil, lastErr
		}
	}
	if lastErr == nil {
		lastErr = errNoProvider(r.Model)
	}
	return nil, lastErr
}

// attempt makes one provider call. published reports whether any chunk
// was passed on (then the answer cannot be retried).
func (rt *Router) attempt(ctx context.Context, r, route Route, prov providers.Provider, req *normalize.Request, stream bool,
	publish func(*normalize.Chunk)) (resp *normalize.Response, published bool, err error) {
	if rt.obs.Attempt != nil {
		var done func(*normalize.Response, error)
		ctx, done = rt.obs.Attempt(ctx, r, route, req)
		defer func() { done(resp, err) }()
	}
	if !stream {
		cctx, cancel := context.WithTimeout(ctx, rt.up.TotalTimeout)
		defer cancel()
		resp, err = prov.Complete(cctx, req)
		return resp, false, err
	}
	// A stream that stalls longer than the idle timeout is cut, so waiting
	// clients get an error event instead of hanging forever.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idle := rt.up.StreamIdleTimeout
	watchdog := time.AfterFunc(idle, func() { cancel(ErrStalled) })
	defer watchdog.Stop()
	st, err := prov.Stream(ctx, req)
	if err != nil {
		return nil, false, stalled(ctx, err)
	}
	defer st.Close()
	var asm normalize.Assembler
	for {
		ch, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, published, stalled(ctx, err)
		}
		watchdog.Reset(idle)
		asm.Add(ch)
		publish(ch)
		published = true
	}
	resp, err = asm.Response()
	return resp, published, err
}

// stalled names a failure caused by the idle watchdog.
func stalled(ctx context.Context, err error) error {
	if context.Cause(ctx) == ErrStalled {
		return ErrStalled
	}
	return err
}

// ErrUpstream marks a failure of the provider call that is neither a
// provider's error answer (*providers.Error), an invalid request, a stall
// nor a cancellation: the provider could not be reached, or its answer
// could not be read. Errors wrapping it wrap the cause too.
var ErrUpstream = errors.New("upstream call failed")

// classify wraps the unclassified failures of one attempt in ErrUpstream,
// so the HTTP edge can tell the provider's trouble from its own.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := providers.AsError(err); ok {
		return err
	}
	var re *RouteError
	switch {
	case errors.Is(err, ErrStalled), errors.Is(err, ErrCircuitOpen), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, normalize.ErrInvalid), errors.As(err, &re):
		return err
	}
	return fmt.Errorf("%w: %w", ErrUpstream, err)
}

// retryWait decides whether a failed attempt is retried and after how long:
// exponential backoff with full jitter, or the upstream's Retry-After when it
// is within max_retry_wait (a longer one goes back to the client).
func (rt *Router) retryWait(err error, attempt int) (time.Duration, bool) {
	if attempt >= rt.up.Retries || !Retryable(err) {
		return 0, false
	}
	if pe, ok := providers.AsError(err); ok && pe.RetryAfter > 0 {
		if pe.RetryAfter > rt.up.MaxRetryWait {
			return 0, false
		}
		return pe.RetryAfter, true
	}
	ceiling := rt.up.RetryBackoff << attempt
	return time.Duration(rand.Int64N(int64(ceiling)) + 1), true
}

// Retryable reports whether the same request may succeed if sent again:
// rate limits, overload, server errors, stalls and transport failures.
// Invalid requests, auth failures and incomplete answers are not.
func Retryable(err error) bool {
	if pe, ok := providers.AsError(err); ok {
		return pe.Retryable()
	}
	if errors.Is(err, ErrStalled) {
		return true
	}
	var re *RouteError
	if errors.As(err, &re) || errors.Is(err, normalize.ErrInvalid) || errors.Is(err, ErrCircuitOpen) {
		return false
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, normalize.ErrIncomplete)
}

// Fallbackable reports whether another route may answer where this one
// failed: anything retryable, a route whose breaker is open, and
// provider-side refusals that another route may not share (unknown model,
// bad credentials, forbidden). A request the
// provider found invalid (400, 413, 422) is invalid everywhere. It is also
// what decides whether a stale entry may answer for a failed call.
func Fallbackable(err error) bool {
	if errors.Is(err, ErrCircuitOpen) {
		return true
	}
	if pe, ok := providers.AsError(err); ok {
		switch pe.Status {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
			return true
		}
	}
	return Retryable(err)
}
