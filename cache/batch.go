package cache

import (
	"context"
	"errors"

	"github.com/dittocache/ditto/cache/store"
	"github.com/dittocache/ditto/cachekey"
)

// ItemFiller fetches the entries of a batch's missing items in one
// provider call. idx are indices into the batch's keys; Fill returns one
// entry (Body and Meta; the engine sets Digest and Created) per index, in
// order.
type ItemFiller interface {
	FillItems(ctx context.Context, idx []int) ([]store.Entry, error)
}

// BatchRequest is a request made of independently cached items (an
// embeddings batch): each item has its own key and entry.
type BatchRequest struct {
	Keys   []cachekey.Key
	Policy Policy
	Model  string
	Fill   ItemFiller
	// Check validates a stored item's body read from a shared store (one
	// other processes write, such as Redis); an item that fails it is a
	// miss. Nil: any body.
	Check func(body []byte) error
}

// Item is one item's answer.
type Item struct {
	Entry  store.Entry
	Status Status // Hit, Miss (this request fetched it), Coalesced (another did), Bypass
	Stored bool
}

// Batch answers every item of r: the ones stored from the store (one round
// trip for all), the rest with ONE provider call for the items no other
// request is fetching right now, and by waiting for the flights of those
// another request is. Items repeated within the batch are fetched once.
// The provider call does not stop when the client leaves (its answers are
// stored for the next request); it is bounded by the Filler.
//
// It fails with ErrNotCached under only-if-cached when an item is missing,
// or with the provider's error.
func (e *Engine) Batch(ctx context.Context, r *BatchRequest) ([]Item, error) {
	items := make([]Item, len(r.Keys))
	missing := make([]bool, len(r.Keys))
	for i := range missing {
		missing[i] = true
	}
	if r.Policy.Lookup {
		e.lookupItems(ctx, r, items, missing)
	}
	var need []int
	for i, m := range missing {
		if m {
			need = append(need, i)
		}
	}
	if len(need) == 0 {
		return items, nil
	}
	if r.Policy.OnlyIfCached {
		return nil, ErrNotCached
	}
	status := Miss
	if !r.Policy.Lookup {
		status = Bypass
	}
	// One flight per distinct item: this request leads the ones nobody
	// is fetching, and follows the others.
	first := map[[32]byte]int{} // digest → the first index with it
	var lead, follow []int
	flights := make(map[int]*flight)
	for _, i := range need {
		d := r.Keys[i].Digest
		if _, dup := first[d]; dup {
			continue
		}
		first[d] = i
		if !r.Policy.Store || !e.o.Coalesce {
			lead = append(lead, i)
			continue
		}
		f, leader := e.flights.enter(ctx, flightKey(r.Keys[i]))
		flights[i] = f
		if leader {
			lead = append(lead, i)
		} else {
			follow = append(follow, i)
		}
	}
	defer func() {
		for _, f := range flights {
			f.leave()
		}
	}()
	if len(lead) > 0 {
		if err := e.fillItems(ctx, r, lead, items, flights, status); err != nil {
			return nil, err
		}
	}
	for _, i := range follow {
		if e.obs.Coalesced != nil {
			e.obs.Coalesced(r.Model)
		}
		st, err := flights[i].wait(ctx)
		if err != nil {
			return nil, err
		}
		if st.err != nil {
			return nil, st.err
		}
		items[i] = Item{Entry: st.entry, Status: Coalesced, Stored: st.stored}
	}
	for _, i := range need {
		if j := first[r.Keys[i].Digest]; j != i {
			items[i] = items[j]
		}
	}
	return items, nil
}

// lookupItems reads every key in one round trip and fills the verified,
// fresh hits; a store failure leaves every item missing.
func (e *Engine) lookupItems(ctx context.Context, r *BatchRequest, items []Item, missing []bool) {
	var done func(bool, error)
	if e.obs.Lookup != nil {
		ctx, done = e.obs.Lookup(ctx)
	}
	rs, err := e.st.GetMany(ctx, r.Keys)
	if done != nil {
		done(err == nil, err)
	}
	if err != nil {
		e.obs.storeError("get", err)
		return
	}
	now := e.now()
	for i, res := range rs {
		switch {
		case res.Err != nil:
			e.obs.storeError("decode", res.Err)
			continue
		case !res.Found:
			continue
		case res.Entry.Digest != r.Keys[i].Digest:
			if e.obs.Mismatch != nil {
				e.obs.Mismatch()
			}
			continue
		}
		if r.Check != nil && e.shared { // as verify: a store only this process writes holds what its fills checked
			if err := r.Check(res.Entry.Body); err != nil {
				e.obs.storeError("decode", err)
				continue
			}
		}
		age := max(now.Sub(res.Entry.Created), 0)
		if (r.Policy.MaxAge >= 0 && age > r.Policy.MaxAge) || (res.Entry.Fresh > 0 && age > res.Entry.Fresh) {
			continue
		}
		items[i], missing[i] = Item{Entry: res.Entry, Status: Hit}, false
	}
}

// errShortFill is a Filler that answered a different number of items
// than it was asked for.
var errShortFill = errors.New("cache: the provider answered a different number of items")

// fillItems makes the one provider call for the items at lead, stores
// each answer and finishes its flight.
func (e *Engine) fillItems(ctx context.Context, r *BatchRequest, lead []int, items []Item, flights map[int]*flight, status Status) error {
	entries, err := r.Fill.FillItems(context.WithoutCancel(ctx), lead)
	if err == nil && len(entries) != len(lead) {
		err = errShortFill
	}
	if err != nil {
		for _, i := range lead {
			if f := flights[i]; f != nil {
				f.finish(nil, emptyEntry, false, err)
			}
		}
		return err
	}
	created := e.now()
	for j, i := range lead {
		entry := entries[j]
		entry.Digest, entry.Created, entry.Fresh = r.Keys[i].Digest, created, r.Policy.TTL
		stored := false
		if r.Policy.Store {
			if err := e.st.Set(context.WithoutCancel(ctx), r.Keys[i], entry, r.Policy.TTL+e.o.StaleIfError); err != nil {
				e.obs.storeError("set", err)
			} else {
				stored = true
			}
		}
		items[i] = Item{Entry: entry, Status: status, Stored: stored}
		if f := flights[i]; f != nil {
			f.finish(nil, entry, stored, nil)
		}
	}
	return nil
}
