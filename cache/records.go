package cache

import (
	"context"
	"time"

	"github.com/dittocache/ditto/cache/store"
	"github.com/dittocache/ditto/cachekey"
)

// Records are the engine's side entries: small documents a dialect keeps
// beside answers, such as the Responses API's record of each response it
// answered (so previous_response_id works with any provider). They live in
// the store under their own route ("@" + kind), in the namespace of the
// tenant they belong to, so a tenant purge removes them too, and they are
// verified by digest like answers.

// RecordKey names the record id of kind in namespace ns.
func RecordKey(ns, kind, id string) cachekey.Key {
	return cachekey.New(ns, "@"+kind, []byte(id))
}

// Records reads the records under ks in one store round trip: one body
// per key, nil where there is none (or none that verifies). err is the
// store's failure as a whole; the caller decides whether a missing record
// is the client's error or the store's.
func (e *Engine) Records(ctx context.Context, ks []cachekey.Key) ([][]byte, error) {
	rs, err := e.st.GetMany(ctx, ks)
	if err != nil {
		e.obs.storeError("get", err)
		return nil, err
	}
	out := make([][]byte, len(ks))
	for i, r := range rs {
		if r.Found && r.Err == nil && r.Entry.Digest == ks[i].Digest {
			out[i] = r.Entry.Body
		}
	}
	return out, nil
}

// PutRecord stores body as the record under k for ttl.
func (e *Engine) PutRecord(ctx context.Context, k cachekey.Key, body []byte, ttl time.Duration) error {
	err := e.st.Set(ctx, k, store.Entry{Digest: k.Digest, Created: e.now(), Body: body}, ttl)
	if err != nil {
		e.obs.storeError("set", err)
	}
	return err
}
