package gateway

import (
	"bytes"
	"math"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/maypok86/otter/v2"

	"github.com/dittocache/ditto/cache/store"
	"github.com/dittocache/ditto/cachekey"
	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers/router"
)

// memoBytes bounds the request memo: about the request bodies and decoded
// requests of the 4,000 hottest 2 KB prompts.
const memoBytes = 16 << 20

// memoMaxBody is the largest request body the memo keeps.
const memoMaxBody = 256 << 10

// requestMemo remembers what the front half of a dialect's path (decode,
// route, canonical form, key) made of request bodies that have been
// answered from the cache, so a repeat of the same bytes from the same
// caller in the same dialect skips straight to the lookup. Everything it
// keeps is a pure function of the dialect, the body, the caller's tenant
// and sub-namespace, and the configuration (which does not change while the
// server runs); entries are found by a 64-bit hash and accepted only if
// all four inputs are equal, byte for byte, so a collision costs a decode,
// never a wrong key.
//
// Only bodies that got a HIT are admitted: a repeat pays the full decode
// once more, then never again while it stays hot. Unique prompts never
// enter. A memo entry names a cache key, not an answer: purges, expiry and
// other replicas' writes are seen by the lookup that follows.
type requestMemo struct {
	c *otter.Cache[uint64, *memoEntry]
}

// memoEntry is one remembered request. Its fields are shared by every
// request that finds it and must not be modified: adapters and the router
// only read a *normalize.Request (router.Call copies it before setting
// the upstream model), and renderers only read a dialect's view.
type memoEntry struct {
	d         dialect
	body      []byte
	tenant    string
	subNS     string // X-Ditto-Namespace as sent
	req       *normalize.Request
	up        *normalize.Request
	view      any
	route     router.Route
	key       cachekey.Key
	keyStr    string
	prompt    string // for log.prompts: true
	hasPrompt bool
	// last is the answer the request was last served from the store, as
	// its dialect rendered it; nil when it was too big to keep or needs no
	// rendering (chat's JSON is the stored bytes).
	last *rendered
	// tokens is the rate limiter's count (input + output) of the answer
	// the request was last served from the cache; 0 when unknown. It is
	// the limiter's estimate for the request, so a counted hit of the same
	// answer (limits.count_hits) settles with nothing to correct.
	tokens int64
}

// maxRendered bounds the rendered answer a memo entry keeps.
const maxRendered = 64 << 10

// rendered is one stored entry as a dialect rendered it for one memoized
// request: the JSON body, or the whole replayed stream. Rendering is a pure
// function of the entry and the memoized request, so a hit of the same
// entry again is these bytes, written without decoding the entry or
// rendering it again. Shared and read-only, like the memo entry.
type rendered struct {
	created time.Time
	sum     uint64              // xxhash64 of the entry's body
	resp    *normalize.Response // the decoded entry, for accounting and answered
	body    []byte
}

// of reports whether r is the rendering of entry e (false for another
// entry: an overwrite, a refresh; and for nil).
func (r *rendered) of(e store.Entry) bool {
	return r != nil && r.created.Equal(e.Created) && r.sum == xxhash.Sum64(e.Body)
}

func newRequestMemo() *requestMemo {
	c := otter.Must(&otter.Options[uint64, *memoEntry]{
		MaximumWeight: memoBytes,
		Weigher: func(_ uint64, e *memoEntry) uint32 {
			// The body, roughly as much again for the decoded request, the
			// rendered answer and as much again for its decoded form, and
			// the fixed parts.
			n := 2*uint64(len(e.body)) + uint64(len(e.keyStr)) + 512
			if e.last != nil {
				n += 2 * uint64(len(e.last.body))
			}
			if em, ok := e.view.(*embedMemo); ok {
				n += 64 * uint64(len(em.keys)) // the keys (about 64 bytes each); the inputs are counted with the body
				if em.last != nil {
					n += uint64(len(em.last.body)) + 16*uint64(len(em.last.sums))
				}
			}
			return uint32(min(n, math.MaxUint32))
		},
	})
	return &requestMemo{c: c}
}

// memoHash is the memo's lookup hash of one request's inputs.
func memoHash(dl dialect, tenant, subNS string, body []byte) uint64 {
	var d xxhash.Digest
	d.Reset()
	_, _ = d.WriteString(dialectID(dl))
	_, _ = d.Write([]byte{0})
	_, _ = d.WriteString(tenant)
	_, _ = d.Write([]byte{0})
	_, _ = d.WriteString(subNS)
	_, _ = d.Write([]byte{0})
	_, _ = d.Write(body)
	return d.Sum64()
}

// dialectID names a dialect for the memo (chat's name is empty, and
// embeddings, which key per item, have none).
func dialectID(d dialect) string {
	if _, ok := d.(embeddingsOp); ok {
		return "embeddings"
	}
	if n := d.name(); n != "" {
		return n
	}
	return "chat"
}

// get returns the entry for exactly these inputs, or nil.
func (m *requestMemo) get(h uint64, d dialect, tenant, subNS string, body []byte) *memoEntry {
	e, ok := m.c.GetIfPresent(h)
	if !ok || e.d != d || e.tenant != tenant || e.subNS != subNS || !bytes.Equal(e.body, body) {
		return nil
	}
	return e
}

// put remembers e under h. e.body must not be modified afterwards.
func (m *requestMemo) put(h uint64, e *memoEntry) {
	if len(e.body) > memoMaxBody {
		return
	}
	m.c.Set(h, e)
}
