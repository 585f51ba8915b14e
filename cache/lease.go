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
// provider": the lease is an optimisation, never a dependency. Each try
// takes the lease and re-reads the entry in one round trip (LeaseGet); an
// acquired lease is returned in held, to be released with the entry's
// write (SetRelease) or by held.Release when the fill ends.
func (e *Engine) awaitFill(ctx context.Context, r *Request) (entry store.Entry, held store.Held, found bool) {
	if !e.shared || e.o.FillWait <= 0 {
		return store.Entry{}, store.Held{}, false
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
		h, entry, ok, err := e.st.LeaseGet(ctx, r.Key, e.o.LeaseTTL)
		if err != nil {
			e.obs.storeError("lease", err)
			return store.Entry{}, store.Held{}, false
		}
		// The answer may have landed since our lookup or last poll.
		if e.usableFill(entry, ok, r) {
			if h.Acquired {
				h.Release()
			} else if e.obs.Coalesced != nil {
				e.obs.Coalesced(r.Model)
			}
			return entry, store.Held{}, true
		}
		if h.Acquired {
			return store.Entry{}, h, false
		}
		if endWait == nil && e.obs.Wait != nil {
			endWait = e.obs.Wait(ctx) // waiting on another replica: trace the wait
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return store.Entry{}, store.Held{}, false
		}
		wait = min(wait*3/2, fillPollMax)
		if entry, ok := e.fetchFill(ctx, r); ok {
			if e.obs.Coalesced != nil {
				e.obs.Coalesced(r.Model)
			}
			return entry, store.Held{}, true
		}
		if e.now().After(deadline) {
			return store.Entry{}, store.Held{}, false
		}
	}
}

// fetchFill reads r's entry, accepting it only if usableFill does.
func (e *Engine) fetchFill(ctx context.Context, r *Request) (store.Entry, bool) {
	entry, ok, err := e.st.Get(ctx, r.Key)
	if err != nil || !e.usableFill(entry, ok, r) {
		return store.Entry{}, false
	}
	return entry, true
}

// usableFill accepts a read entry only if it is verified and was written
// after the request arrived: an older entry is the one the request already
// decided not to use (stale, too old for max-age, or a no-cache refresh),
// never another replica's fill.
func (e *Engine) usableFill(entry store.Entry, ok bool, r *Request) bool {
	return ok && !entry.Created.Before(r.Started) && e.verify(entry, r)
}
