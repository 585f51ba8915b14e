package cache

import (
	"context"
	"time"

	"github.com/dittocache/ditto/cache/store"
)

// Poll bounds while waiting for another replica's fill.
const (
	fillPollFirst = 20 * time.Millisecond
	fillPollMax   = 250 * time.Millisecond
)

func noop() {}

// awaitFill coordinates a miss with the other replicas sharing the store.
// The replica that takes the fill lease calls the provider; the others poll
// the store until its answer appears (found), the holder gives up or its
// lease expires (they take the lease themselves), or FillWait runs out
// (they call the provider anyway). Any store trouble means "call the
// provider": the lease is an optimisation, never a dependency. release
// must be called when the fill ends.
func (e *Engine) awaitFill(ctx context.Context, r *Request) (entry store.Entry, release func(), found bool) {
	if !e.shared || e.o.FillWait <= 0 {
		return store.Entry{}, noop, false
	}
	deadline := e.now().Add(e.o.FillWait)
	wait := fillPollFirst
	var endWait func()
	defer func() {
		if endWait != nil {
			endWait()
		}
	}()
	for {
		rel, acquired, err := e.st.Lease(ctx, r.Key, e.o.LeaseTTL)
		if err != nil {
			e.obs.storeError("lease", err)
			return store.Entry{}, noop, false
		}
		if acquired {
			// The answer may have landed between our lookup and the lease.
			if entry, ok := e.fetchFill(ctx, r); ok {
				rel()
				return entry, noop, true
			}
			return store.Entry{}, rel, false
		}
		if endWait == nil && e.obs.Wait != nil {
			endWait = e.obs.Wait(ctx) // waiting on another replica: trace the wait
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return store.Entry{}, noop, false
		}
		wait = min(wait*3/2, fillPollMax)
		if entry, ok := e.fetchFill(ctx, r); ok {
			if e.obs.Coalesced != nil {
				e.obs.Coalesced(r.Model)
			}
			return entry, noop, true
		}
		if e.now().After(deadline) {
			return store.Entry{}, noop, false
		}
	}
}

// fetchFill reads r's entry, accepting it only if it is verified and was
// written after the request arrived: an older entry is the one the request
// already decided not to use (stale, too old for max-age, or a no-cache
// refresh), never another replica's fill.
func (e *Engine) fetchFill(ctx context.Context, r *Request) (store.Entry, bool) {
	entry, ok, err := e.st.Get(ctx, r.Key)
	if err != nil || !ok || entry.Created.Before(r.Started) || !e.verify(entry, r) {
		return store.Entry{}, false
	}
	return entry, true
}
