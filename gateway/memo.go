package gateway

import (
	"bytes"
	"math"

	"github.com/cespare/xxhash/v2"
	"github.com/maypok86/otter/v2"

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
}

func newRequestMemo() *requestMemo {
	c := otter.Must(&otter.Options[uint64, *memoEntry]{
		MaximumWeight: memoBytes,
		Weigher: func(_ uint64, e *memoEntry) uint32 {
			// The body, roughly as much again for the decoded request, and
			// the fixed parts.
			return uint32(min(2*uint64(len(e.body))+uint64(len(e.keyStr))+512, math.MaxUint32))
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

// dialectID names a dialect for the memo (chat's name is empty).
func dialectID(d dialect) string {
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
