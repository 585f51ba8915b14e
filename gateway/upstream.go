package gateway

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
)

// callUpstream gets a complete answer for a flight: the route first, retried
// on transient failures, then each fallback route in order. It streams when
// the flight's first client asked for a stream. Nothing is retried once a
// chunk has been published: clients have already seen part of an answer.
//
// A fallback's answer is stored under the key of the route the client asked
// for, so identical requests are served from the cache instead of retrying
// a failing primary; its "model" field names the model that answered.
func (s *Server) callUpstream(ctx context.Context, f *flight, x *exchange, req *normalize.Request) (*normalize.Response, error) {
	routes := []Route{x.route}
	for _, name := range x.route.Fallbacks {
		fb, err := s.router.resolve(name)
		if err != nil {
			s.log.Warn("skipping unroutable fallback", "route", x.route.Model, "fallback", name)
			continue
		}
		routes = append(routes, fb)
	}
	var lastErr error
	for i, rt := range routes {
		prov, ok := s.providers[rt.Provider]
		if !ok {
			continue
		}
		r := req
		if r.Model != rt.UpstreamModel {
			cp := *req // req may be shared (request memo): never modified in place
			cp.Model = rt.UpstreamModel
			r = &cp
		}
		for attempt := 0; ; attempt++ {
			resp, published, err := s.attempt(ctx, f, x, rt, prov, r)
			if err == nil {
				if i > 0 {
					s.log.Info("answered by fallback", "route", x.route.Model, "fallback", rt.Key())
				}
				return resp, nil
			}
			lastErr = err
			if published || ctx.Err() != nil {
				return nil, err
			}
			wait, retry := s.retryWait(err, attempt)
			if !retry {
				break
			}
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return nil, err
			}
		}
		if !fallbackable(lastErr) {
			return nil, lastErr
		}
	}
	if lastErr == nil {
		lastErr = apiError(http.StatusNotFound, "invalid_request_error", "model_not_found", "model", "No configured provider serves this model.")
	}
	return nil, lastErr
}

// attempt makes one provider call. published reports whether any chunk
// reached followers (then the answer cannot be retried).
func (s *Server) attempt(ctx context.Context, f *flight, x *exchange, rt Route, prov Provider, req *normalize.Request) (resp *normalize.Response, published bool, err error) {
	start := s.now()
	ctx, span := s.startProviderSpan(ctx, x, rt, req)
	defer func() { s.metrics.upstream(x, rt, span, s.now().Sub(start), resp, err) }()
	if !x.req.Stream {
		cctx, cancel := context.WithTimeout(ctx, s.cfg.Upstream.TotalTimeout)
		defer cancel()
		resp, err = prov.Complete(cctx, req)
		return resp, false, err
	}
	// A stream that stalls longer than the idle timeout is cut, so waiting
	// clients get an error event instead of hanging forever.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idle := s.cfg.Upstream.StreamIdleTimeout
	watchdog := time.AfterFunc(idle, func() { cancel(errStreamStalled) })
	defer watchdog.Stop()
	st, err := prov.Stream(ctx, req)
	if err != nil {
		if context.Cause(ctx) == errStreamStalled {
			err = errStreamStalled
		}
		return nil, false, err
	}
	defer st.Close()
	var asm normalize.Assembler
	for {
		ch, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if context.Cause(ctx) == errStreamStalled {
				err = errStreamStalled
			}
			return nil, published, err
		}
		watchdog.Reset(idle)
		asm.Add(ch)
		f.publish(ch)
		published = true
	}
	resp, err = asm.Response()
	return resp, published, err
}

// retryWait decides whether a failed attempt is retried and after how long:
// exponential backoff with full jitter, or the upstream's Retry-After when it
// is within max_retry_wait (a longer one goes back to the client).
func (s *Server) retryWait(err error, attempt int) (time.Duration, bool) {
	if attempt >= s.cfg.Upstream.Retries || !retryable(err) {
		return 0, false
	}
	if pe, ok := providers.AsError(err); ok && pe.RetryAfter > 0 {
		if pe.RetryAfter > s.cfg.Upstream.MaxRetryWait {
			return 0, false
		}
		return pe.RetryAfter, true
	}
	ceiling := s.cfg.Upstream.RetryBackoff << attempt
	return time.Duration(rand.Int64N(int64(ceiling)) + 1), true
}

// retryable: rate limits, overload, server errors, stalls and transport
// failures. Invalid requests and auth failures are not.
func retryable(err error) bool {
	if pe, ok := providers.AsError(err); ok {
		return pe.Retryable()
	}
	if errors.Is(err, errStreamStalled) {
		return true
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status >= 500
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, normalize.ErrIncomplete)
}

// fallbackable: anything retryable, and provider-side refusals that another
// route may not share (unknown model, bad credentials, forbidden). A request
// the provider found invalid (400, 413, 422) is invalid everywhere.
func fallbackable(err error) bool {
	if pe, ok := providers.AsError(err); ok {
		switch pe.Status {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
			return true
		}
	}
	return retryable(err)
}
