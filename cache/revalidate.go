package cache

import (
	"context"
	"time"

	"github.com/dittocache/ditto/cache/store"
)

// revalidateTimeout bounds a background refresh: nobody waits for it, so
// it must not hold a provider connection forever.
const revalidateTimeout = 10 * time.Minute

// revalidating reports whether a's stale candidate may be served now while
// it is refreshed: within StaleWhileRevalidate past its fresh lifetime,
// and acceptable to the request's max-age.
func (e *Engine) revalidating(a *Answer) bool {
	st := a.stale
	if st == nil || e.o.StaleWhileRevalidate <= 0 || !a.r.Policy.Store || a.r.Policy.Shadow {
		return false
	}
	return a.sAge-st.Fresh <= e.o.StaleWhileRevalidate
}

// revalidate refreshes r's entry in the background: a flight nobody
// follows (so one per key in this process: a request that misses
// meanwhile joins it), which through the store's fill lease is also one
// per key across replicas (a replica that finds the lease taken waits for
// the other's answer instead of calling the provider).
func (e *Engine) revalidate(ctx context.Context, r *Request) {
	bg := *r // the caller's Request holds its Answer; the refresh has its own
	bg.Stream, bg.Sink, bg.Started = false, nil, e.now()
	bg.Policy.Lookup = false
	f, leader := e.flights.enter(ctx, flightKey(r.Key))
	if !leader {
		f.leave() // a refresh (or a miss) is already running
		return
	}
	go func() {
		defer f.cancel()
		defer f.leave()
		fctx, cancel := context.WithTimeout(f.ctx, revalidateTimeout)
		defer cancel()
		e.fill(fctx, f, &bg, true, f.publish, store.Held{})
		if e.obs.Revalidated != nil {
			st := f.state(0)
			e.obs.Revalidated(r.Model, st.err)
		}
	}()
}
