package gateway

import (
	"context"
	"time"

	"github.com/dittocache/ditto/cache/store"
	"github.com/dittocache/ditto/normalize"
)

// Poll bounds while waiting for another replica's fill.
const (
	fillPollFirst = 20 * time.Millisecond
	fillPollMax   = 250 * time.Millisecond
)

// awaitFill coordinates a miss with the other replicas sharing the store.
// The replica that takes the fill lease calls the provider; the others poll
// the store until its answer appears (found is true), the lease holder gives
// up (they take the lease themselves), or the lease time runs out (they call
// the provider anyway). Any store trouble means "call the provider": the
// lease is an optimisation, never a dependency. release must be called when
// the flight ends.
func (s *Server) awaitFill(ctx context.Context, x *exchange) (resp *normalize.Response, body []byte, release func(), found bool) {
	noop := func() {}
	l, ok := s.store.(store.Backend)
	ttl := s.cfg.Cache.FillLease
	if !ok || ttl <= 0 || !l.Status().Shared {
		return nil, nil, noop, false
	}
	deadline := s.now().Add(ttl)
	wait := fillPollFirst
	for {
		lctx, cancel := context.WithTimeout(ctx, s.cfg.Cache.OperationTimeout)
		rel, acquired, err := l.Lease(lctx, x.key, ttl)
		cancel()
		if err != nil {
			return nil, nil, noop, false
		}
		if acquired {
			// The answer may have landed between our lookup and the lease.
			if resp, body, ok := s.fetchVerified(ctx, x); ok {
				rel()
				return resp, body, noop, true
			}
			return nil, nil, rel, false
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, nil, noop, false
		}
		wait = min(wait*3/2, fillPollMax)
		if resp, body, ok := s.fetchVerified(ctx, x); ok {
			s.metrics.coalesced(x.route.Model)
			return resp, body, noop, true
		}
		if wait == fillPollFirst*3/2 {
			s.startCoalesce(x.tel) // waiting on another replica: trace the wait
		}
		if s.now().After(deadline) {
			return nil, nil, noop, false
		}
	}
}

// fetchVerified reads x's entry, accepting it only if its digest matches
// and it was written after the request arrived: an older entry is the one
// the request already decided not to use (stale, too old for max-age, or
// a no-cache refresh), never another replica's fill.
func (s *Server) fetchVerified(ctx context.Context, x *exchange) (*normalize.Response, []byte, bool) {
	gctx, cancel := context.WithTimeout(ctx, s.cfg.Cache.OperationTimeout)
	e, ok, err := s.store.Get(gctx, x.key)
	cancel()
	if err != nil || !ok || e.Digest != x.key.Digest || e.Created.Before(x.started) {
		return nil, nil, false
	}
	resp, err := normalize.ParseOpenAIResponse(e.Body)
	if err != nil {
		return nil, nil, false
	}
	return resp, e.Body, true
}
