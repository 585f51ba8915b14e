package cache

import (
	"context"
	"time"

	"github.com/dittocache/ditto/cache/store"
	"github.com/dittocache/ditto/normalize"
)

// Status is how a request was answered; String gives the X-Ditto-Cache
// value.
type Status uint8

// Statuses.
const (
	// Miss: the request made the provider call (possibly for others too).
	Miss Status = iota
	// Hit: answered from a fresh stored entry.
	Hit
	// Stale: the provider failed and a stored entry past its fresh
	// lifetime answered (stale-if-error).
	Stale
	// Coalesced: the request shared another identical request's provider
	// call, in this process or on another replica.
	Coalesced
	// Bypass: the policy skipped the lookup (no-cache, no-store, or a
	// route with caching off).
	Bypass
)

var statusNames = [...]string{Miss: "MISS", Hit: "HIT", Stale: "STALE", Coalesced: "COALESCED", Bypass: "BYPASS"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "UNKNOWN"
}

// Answer is the engine's answer to one request. A Hit or Stale answer
// carries its stored Entry; any other follows a flight: read it with Next
// (a stream) or Wait (a complete answer). Close must be called once the
// caller stops reading. An Answer is used by one goroutine.
type Answer struct {
	// Status is how the request is answered. It becomes final once the
	// flight is done (another replica's fill makes a Miss Coalesced; a
	// failed fill with a stale entry makes it Stale).
	Status Status
	// Entry is the stored answer: set for Hit and Stale, and once a
	// flight is done.
	Entry store.Entry
	// Age is the entry's age (Hit, Stale).
	Age time.Duration
	// Stored reports that the flight's answer was written to the store.
	Stored bool
	// FillErr is the provider failure a Stale answer stands in for.
	FillErr error
	// Revalidating reports a Stale answer served at once while a refresh
	// runs in the background (stale-while-revalidate).
	Revalidating bool
	// ShadowHit reports, on a shadow-mode route, that the request would
	// have been a hit.
	ShadowHit bool
	// Replayed reports the recorded answer of an idempotent request
	// (Engine.Replay).
	Replayed bool

	e      *Engine
	r      *Request
	f      *flight
	pos    int  // chunks of f already returned
	seen   bool // Next returned at least one chunk
	resp   *normalize.Response
	err    error
	done   bool
	stale  *store.Entry
	sAge   time.Duration
	held   store.Held // the fill lease the lookup took, for the fill
	wait   func()     // ends the Observer's wait, nil when not waiting
	closed bool
}

// Serve answers r: from the store when it holds a fresh, verified entry
// the policy accepts; else by joining or starting the flight for r's
// key. It fails only with ErrNotCached (only-if-cached and nothing
// usable stored); provider failures are reported by the Answer.
func (e *Engine) Serve(ctx context.Context, r *Request) (*Answer, error) {
	if r.Started.IsZero() {
		r.Started = e.now()
	}
	a := &r.answer
	*a = Answer{e: e, r: r}
	if !r.Policy.Cacheable() {
		a.Status = Bypass
		e.bypass(ctx, a)
		return a, nil
	}
	if r.Policy.Lookup {
		entry, age, ok := e.lookup(ctx, a)
		switch {
		case ok && r.Policy.Shadow:
			// Shadow mode: count what would have hit, then answer as if
			// the cache were off.
			a.ShadowHit = true
			if e.obs.ShadowHit != nil {
				e.obs.ShadowHit(r.Model)
			}
		case ok:
			a.Status, a.Entry, a.Age, a.done = Hit, entry, age, true
			return a, nil
		case e.revalidating(a):
			a.Status, a.Entry, a.Age, a.done, a.Revalidating = Stale, *a.stale, a.sAge, true, true
			e.revalidate(ctx, r)
			return a, nil
		}
	}
	if r.Policy.OnlyIfCached {
		return nil, ErrNotCached
	}
	if !r.Policy.Lookup {
		a.Status = Bypass // no-cache: a forced refresh
	}
	e.join(ctx, a)
	return a, nil
}

// lookup reads and verifies r's entry. Store errors, entries that fail the
// codec's check and digest mismatches are misses: a cache failure never
// fails a request. An entry past its fresh lifetime is kept in a.stale in
// case the provider fails.
func (e *Engine) lookup(ctx context.Context, a *Answer) (store.Entry, time.Duration, bool) {
	r := a.r
	var done func(bool, error)
	if e.obs.Lookup != nil {
		ctx, done = e.obs.Lookup(ctx)
	}
	var (
		entry store.Entry
		ok    bool
		err   error
	)
	if e.leasing(r) && !r.ExpectHit {
		// A miss will fill under the store's lease: take it with the
		// lookup, saving the fill a round trip.
		entry, ok, a.held, err = e.st.GetOrLease(ctx, r.Key, e.o.LeaseTTL)
	} else {
		entry, ok, err = e.st.Get(ctx, r.Key)
	}
	if err == nil && ok {
		ok = e.verify(entry, r)
	}
	if done != nil {
		done(ok, err)
	}
	if err != nil {
		e.obs.storeError("get", err)
		return store.Entry{}, 0, false
	}
	if !ok {
		return store.Entry{}, 0, false
	}
	age := max(e.now().Sub(entry.Created), 0)
	if r.Policy.MaxAge >= 0 && age > r.Policy.MaxAge {
		return store.Entry{}, 0, false
	}
	if entry.Fresh > 0 && age > entry.Fresh {
		a.stale, a.sAge = &entry, age
		return store.Entry{}, 0, false
	}
	return entry, age, true
}

// leasing reports whether a miss of r fills under the store's fill lease
// (awaitFill): the store is shared, cross-replica coalescing is on and r's
// answer is stored; and r may call the provider at all.
func (e *Engine) leasing(r *Request) bool {
	return e.shared && e.o.FillWait > 0 && r.Policy.Store && !r.Policy.OnlyIfCached
}

// verify accepts an entry only if it was made for r's exact request (the
// digest: a 64-bit collision or an entry copied under the wrong key is a
// miss) and, in a store others can write to (Status().Shared), its body is
// one the codec accepts. A store only this process writes holds what this
// engine's codec encoded, so its entries are not parsed again on every hit.
func (e *Engine) verify(entry store.Entry, r *Request) bool {
	if entry.Digest != r.Key.Digest {
		if e.obs.Mismatch != nil {
			e.obs.Mismatch()
		}
		return false
	}
	if !e.shared {
		return true
	}
	if err := e.codec.Check(entry.Body); err != nil {
		e.obs.storeError("decode", err)
		return false
	}
	return true
}

// bypass serves a request nobody else may share, on its own goroutine and
// context: no lookup, no store, no flight group.
func (e *Engine) bypass(ctx context.Context, a *Answer) {
	f := newFlight()
	a.f = f
	publish := f.publish
	if a.r.Sink != nil && a.r.Stream {
		publish = a.r.Sink // nobody else follows: the flight need not keep them
		ctx = a.r.here(ctx)
	}
	e.fill(ctx, f, a.r, false, publish, store.Held{})
}

// here is the context of a fill running on r's caller's goroutine.
func (r *Request) here(ctx context.Context) context.Context {
	if r.Here != nil {
		return r.Here(ctx)
	}
	return ctx
}

// join follows the flight for a's key, starting it when there is none.
func (e *Engine) join(ctx context.Context, a *Answer) {
	r := a.r
	// The lease the lookup took goes to whoever fills: this request when
	// it leads the flight, else nobody (it is released below).
	held := a.held
	a.held = store.Held{}
	start := func(f *flight, fctx context.Context) { e.fill(fctx, f, r, r.Policy.Store, f.publish, held) }
	var f *flight
	leader := true
	if !e.o.Coalesce || r.Policy.Shadow {
		// Shadow mode shares nothing: each request makes its own call,
		// as it would without a cache.
		f = solo(ctx)
	} else {
		f, leader = e.flights.enter(ctx, flightKey(r.Key))
	}
	a.f = f
	switch {
	case leader && r.Stream && r.Sink != nil:
		// The caller takes chunks as they come: the call runs here and
		// hands them over directly, while the flight keeps them for any
		// request that joins.
		here := func(f *flight, fctx context.Context) {
			e.fill(r.here(fctx), f, r, r.Policy.Store, func(c *normalize.Chunk) {
				f.publish(c)
				a.pos++
				a.seen = true
				r.Sink(c)
			}, held)
		}
		if !f.runHere(ctx, here) {
			a.closed = true // the client left while the call ran
		}
	case leader && !r.Stream:
		// Nobody needs chunks relayed while the call runs: make it here,
		// saving a goroutine and a hand-off.
		if !f.runHere(ctx, start) {
			// The client left while the call ran; it has left the flight
			// as a waiting follower would.
			a.closed = true
		}
	case leader:
		go f.run(start) // the caller relays the stream as it comes
	default:
		// An identical request of this process fills: the lease this
		// one took (between that request's lookup and ours) is not needed.
		held.Release()
		if a.Status == Miss {
			a.Status = Coalesced
		}
		if e.obs.Coalesced != nil {
			e.obs.Coalesced(r.Model)
		}
		a.startWait(ctx)
	}
}

func (a *Answer) startWait(ctx context.Context) {
	if a.e.obs.Wait != nil && a.wait == nil {
		a.wait = a.e.obs.Wait(ctx)
	}
}

func (a *Answer) endWait() {
	if a.wait != nil {
		a.wait()
		a.wait = nil
	}
}

// fill makes the provider call of flight f and stores a complete answer
// before announcing it, so a request sent after the answer was delivered
// is a hit (read-your-writes). With keep set it stores the answer and first
// coordinates with other replicas through the store's fill lease, unless
// held already holds it (taken by the lookup). The fill's chunks go to
// publish (f.publish, for f's followers, or the caller's Sink).
func (e *Engine) fill(ctx context.Context, f *flight, r *Request, keep bool, publish func(*normalize.Chunk), held store.Held) {
	defer func() { held.Release() }() // a no-op once put has released it
	if keep && !held.Acquired {
		entry, h, found := e.awaitFill(ctx, r)
		if found {
			f.finishRemote(entry)
			return
		}
		held = h
	}
	resp, err := r.Fill.Fill(ctx, publish)
	if err == nil && !complete(resp) {
		err = ErrIncomplete
	}
	if err != nil {
		f.finish(nil, emptyEntry, false, err)
		return
	}
	entry := e.entry(resp, r)
	stored := keep && e.put(ctx, r, entry, held)
	f.finish(resp, entry, stored, nil)
}

var emptyEntry store.Entry

// complete reports whether every choice of resp finished: only such
// answers are served as complete and stored.
func complete(resp *normalize.Response) bool {
	if resp == nil {
		return false
	}
	for _, c := range resp.Choices {
		if c.FinishReason == "" {
			return false
		}
	}
	return true
}

// entry renders resp as r's stored entry.
func (e *Engine) entry(resp *normalize.Response, r *Request) store.Entry {
	body, meta := e.codec.Encode(resp)
	return store.Entry{Digest: r.Key.Digest, Created: e.now(), Fresh: r.Policy.TTL, Body: body, Meta: meta}
}

// put writes entry, kept past its fresh lifetime for stale-if-error, and
// releases the fill lease held, if any, in the same round trip.
// Failures are reported and swallowed: the answer is served anyway.
// A tag index that cannot be written is reported as a "tag" store error.
func (e *Engine) put(ctx context.Context, r *Request, entry store.Entry, held store.Held) bool {
	ttl := r.Policy.TTL + e.o.StaleIfError
	var err error
	if held.Acquired {
		err = e.st.SetRelease(ctx, r.Key, entry, ttl, held)
	} else {
		err = e.st.Set(ctx, r.Key, entry, ttl)
	}
	if err != nil {
		e.obs.storeError("set", err)
		return false
	}
	if len(r.Tags) > 0 {
		if err := e.st.Tag(ctx, r.TagScope, r.Tags, r.Key, ttl); err != nil {
			e.obs.storeError("tag", err)
		}
	}
	return true
}

// Next returns the chunks published since the last call, waiting until
// there are some or the flight is done (done true; then Err, Response
// and Entry tell the outcome). err is only ctx's: the caller's client
// left. A flight that produced no chunks (a non-streaming fill, another
// replica's answer, or a failure before the first chunk) returns done
// with no chunks: the caller answers from Response or Err, which is then
// where a stale entry stands in for a failed fill (Status Stale).
func (a *Answer) Next(ctx context.Context) (chunks []*normalize.Chunk, done bool, err error) {
	if a.done {
		return nil, true, nil
	}
	for {
		st := a.f.state(a.pos)
		if len(st.chunks) > 0 {
			a.endWait()
			a.pos += len(st.chunks)
			a.seen = true
			return st.chunks, false, nil
		}
		if st.done {
			a.endWait()
			a.settle(st)
			return nil, true, nil
		}
		select {
		case <-st.wake:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}

// Wait blocks until the flight is done. err is only ctx's; the outcome is
// in Err, Response and Entry.
func (a *Answer) Wait(ctx context.Context) error {
	if a.done {
		return nil
	}
	if a.closed {
		return context.Cause(ctx)
	}
	st, err := a.f.wait(ctx)
	if err != nil {
		return err
	}
	a.endWait()
	a.settle(st)
	return nil
}

// settle records the flight's outcome: the one place a final status is
// decided.
func (a *Answer) settle(st flightState) {
	a.done = true
	a.Stored = st.stored
	if st.err != nil {
		if a.stale != nil && !a.seen && a.e.o.ServeStale != nil && a.e.o.ServeStale(st.err) {
			a.Status, a.Entry, a.Age, a.FillErr = Stale, *a.stale, a.sAge, st.err
			return
		}
		a.err = st.err
		return
	}
	a.resp, a.Entry = st.resp, st.entry
	if st.remote && a.Status == Miss {
		a.Status = Coalesced // another replica called the provider
	}
}

// Err is the fill's failure once the flight is done; nil on success and
// when a stale entry answers instead.
func (a *Answer) Err() error { return a.err }

// Complete reports whether the answer is done and whole: its Entry is what
// the client got.
func (a *Answer) Complete() bool { return a.done && a.err == nil && len(a.Entry.Body) > 0 }

// Response returns the complete answer: the flight's, or the stored
// entry's decoded by the engine's codec (Hit, Stale, another replica's
// fill). It must be called only when the answer is done without error.
func (a *Answer) Response() (*normalize.Response, error) {
	if a.resp != nil {
		return a.resp, nil
	}
	resp, err := a.e.codec.Decode(a.Entry)
	if err != nil {
		a.e.obs.storeError("decode", err)
		return nil, err
	}
	a.resp = resp
	return resp, nil
}

// Summary returns the accounting view of the answer (model, usage, finish
// reasons) without decoding the stored body where the codec can.
func (a *Answer) Summary() (*normalize.Response, error) {
	if a.resp != nil {
		return a.resp, nil
	}
	return a.e.codec.Summary(a.Entry)
}

// Close stops following the flight; the last request to leave an
// unfinished flight cancels its provider call. It is safe to call more
// than once.
func (a *Answer) Close() {
	a.endWait()
	if a.closed || a.f == nil {
		a.closed = true
		return
	}
	a.closed = true
	a.f.leave()
}
