package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/labstack/echo/v4"

	"github.com/dittocache/ditto/cache"
	"github.com/dittocache/ditto/cache/store"
	"github.com/dittocache/ditto/cachekey"
	"github.com/dittocache/ditto/internal/limits"
	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/embeddings"
	"github.com/dittocache/ditto/providers/router"
)

// embeddingsOp labels embeddings requests in telemetry; it is the only
// dialect method the telemetry of an embeddings request uses.
type embeddingsOp struct{ chat }

func (embeddingsOp) operation() string { return "embeddings" }

// embeddingsHandler serves POST /v1/embeddings, cached per input item: a
// batch whose items were seen before (in any batch) is answered from the
// store item by item, and only its misses reach the provider, in one call.
func (s *Server) embeddingsHandler(c echo.Context) error {
	start := s.now()
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	st := stateOf(c)
	subNS := c.Request().Header.Get("X-Ditto-Namespace")
	mt := s.memoTenant(c)
	h := memoHash(embeddingsOp{}, mt, subNS, body)
	var (
		req    *normalize.EmbeddingRequest
		route  router.Route
		keys   []cachekey.Key
		oneKey string             // of a one-input request
		creq   *normalize.Request // what telemetry and the limiter see of it
	)
	m := s.memo.get(h, embeddingsOp{}, mt, subNS, body)
	if m != nil { // a body answered from the cache before: decoded, routed and keyed then
		em := m.view.(*embedMemo)
		req, route, keys, creq = em.req, m.route, em.keys, em.creq
		st.model = req.Model
		oneKey = em.keyStr
	} else if req, route, err = s.decodeEmbeddings(c, body); err != nil {
		return err
	}
	tenant, clientKey, err := s.routeIdentity(c, route.PassThrough)
	if err != nil {
		return err
	}
	pol, err := parsePolicy(c.Request().Header, route, s.cfg.Cache.MaxTTL)
	if err != nil {
		return err
	}
	if m == nil {
		creq = &normalize.Request{Model: req.Model}
		keys = s.embeddingKeys(c, tenant, route, req)
		if len(keys) == 1 {
			oneKey = keys[0].String() // a batch of several has a key per item: X-Ditto-Cache-Items
		}
	}
	x := &exchange{srv: s, d: embeddingsOp{}, req: creq, route: route, policy: pol, start: start,
		tenant: tenant, clientKey: clientKey, size: len(body), keyStr: oneKey}
	x.tel = s.begin(c, x)
	items, err := s.engine.Batch(c.Request().Context(), &cache.BatchRequest{Keys: keys, Policy: pol, Model: route.Model,
		Fill: &embedFill{x: x, req: req}, Check: checkVector})
	if errors.Is(err, cache.ErrNotCached) {
		s.outcome(c, x, "MISS", nil)
		return apiError(http.StatusGatewayTimeout, "invalid_request_error", "cache_miss", "",
			"Not every input has a cached embedding, and Cache-Control: only-if-cached forbids calling the provider.")
	}
	if err != nil {
		s.outcome(c, x, "ERROR", nil)
		return err
	}
	var prev *embedRendered
	if m != nil {
		prev = m.view.(*embedMemo).last
	}
	r, err := s.writeEmbeddings(c, x, req, items, prev)
	if (r != nil || (m == nil && allHits(items))) && len(body) <= memoMaxBody { // answered from the store: remember it (and its rendering)
		s.memo.put(h, &memoEntry{d: embeddingsOp{}, body: body, tenant: mt, subNS: subNS, route: route,
			keyStr: oneKey, view: &embedMemo{req: req, creq: creq, keys: keys, keyStr: oneKey, last: r}})
	}
	return err
}

// embedMemo is what the request memo keeps of an embeddings body answered
// from the cache (memoEntry.view): the decoded request and its items'
// keys, pure functions of the body, the caller's tenant and sub-namespace
// and the configuration, as for the other dialects. Shared, read-only.
type embedMemo struct {
	req    *normalize.EmbeddingRequest
	creq   *normalize.Request // the exchange's request: the model only
	keys   []cachekey.Key
	keyStr string         // keys[0].String() of a one-input request, or ""
	last   *embedRendered // the answer last served from the store, or nil
}

// embedRendered is an embeddings answer served wholly from the store, as
// rendered for one memoized request: a pure function of its items'
// entries and the request, so the same entries again are these bytes.
// Shared and read-only.
type embedRendered struct {
	created []time.Time // each item's entry
	sums    []uint64    // xxhash64 of each item's entry body
	body    []byte
	etag    string
	// The answer's X-Ditto-Cache-Key (nil for a batch) and
	// X-Ditto-Cache-Items, shared by every answer from these entries.
	keyHdr, itemsHdr []string
}

// of reports whether r was rendered from exactly these items' entries
// (false after an overwrite, a refresh or a purge and refill; and for nil).
func (r *embedRendered) of(items []cache.Item) bool {
	if r == nil || len(r.created) != len(items) {
		return false
	}
	for i, it := range items {
		if !it.Entry.Created.Equal(r.created[i]) || xxhash.Sum64(it.Entry.Body) != r.sums[i] {
			return false
		}
	}
	return true
}

// decodeEmbeddings decodes, validates and routes an embeddings body.
func (s *Server) decodeEmbeddings(c echo.Context, body []byte) (*normalize.EmbeddingRequest, router.Route, error) {
	req, err := embeddings.Decode(body)
	if err != nil {
		return nil, router.Route{}, err
	}
	stateOf(c).model = req.Model
	if err := validModelName(req.Model); err != nil {
		return nil, router.Route{}, err
	}
	route, err := s.router.Resolve(req.Model)
	if err != nil {
		return nil, router.Route{}, err
	}
	if err := s.router.Serves(route); err != nil {
		return nil, router.Route{}, err
	}
	return req, route, nil
}

// embeddingKeys is the cache key of each input of req.
func (s *Server) embeddingKeys(c echo.Context, tenant string, route router.Route, req *normalize.EmbeddingRequest) []cachekey.Key {
	sc := s.scope(c, tenant, route)
	sc.Match = normalize.Options{} // loose matching is about chat requests
	ns, routeKey := sc.Namespace(), route.Key()
	keys := make([]cachekey.Key, len(req.Inputs))
	var canon []byte
	for i := range req.Inputs {
		canon = normalize.AppendEmbeddingCanonical(canon[:0], req, i)
		if s.hasher != nil {
			keys[i] = cachekey.Derive(s.hasher, ns, routeKey, canon)
		} else {
			keys[i] = cachekey.New(ns, routeKey, canon)
		}
	}
	return keys
}

// allHits reports whether every item was served from the store.
func allHits(items []cache.Item) bool {
	for _, it := range items {
		if it.Status != cache.Hit {
			return false
		}
	}
	return true
}

// writeEmbeddings renders every item in order, with the batch's cache
// headers and accounting: usage is the sum of the items' own token counts
// (stored with each), savings those of the items served from the cache.
// An answer wholly from the store that prev rendered is prev's bytes; one
// rendered afresh is returned, for the request memo (nil otherwise).
func (s *Server) writeEmbeddings(c echo.Context, x *exchange, req *normalize.EmbeddingRequest, items []cache.Item, prev *embedRendered) (*embedRendered, error) {
	var total, saved, hits, fetched int
	var oldest time.Time // of the items served from the store: the batch's Age
	status := cache.Hit
	stored := true
	for _, it := range items {
		n, _ := strconv.Atoi(string(it.Entry.Meta))
		total += n
		switch it.Status {
		case cache.Hit:
			hits++
			saved += n
			if oldest.IsZero() || it.Entry.Created.Before(oldest) {
				oldest = it.Entry.Created
			}
		case cache.Coalesced:
			saved += n
			if status == cache.Hit {
				status = cache.Coalesced
			}
		default:
			fetched++
			status = it.Status // Miss or Bypass: this request called the provider
			stored = stored && it.Stored
		}
	}
	h := c.Response().Header()
	x.limitHeaders(h)
	switch status {
	case cache.Hit:
		h["X-Ditto-Cache"] = hitStatus
		h["Cache-Status"] = hitCacheStatus
		if !oldest.IsZero() {
			h["Age"] = []string{strconv.FormatInt(int64(max(s.now().Sub(oldest), 0)/time.Second), 10)}
		}
	case cache.Bypass:
		h["X-Ditto-Cache"] = []string{status.String()}
		h["Cache-Status"] = []string{"ditto; fwd=request"}
	default:
		h["X-Ditto-Cache"] = []string{status.String()}
		cs := "ditto; fwd=uri-miss"
		if status == cache.Coalesced {
			cs += "; collapsed"
		}
		if stored && fetched > 0 {
			cs += "; stored"
		}
		h["Cache-Status"] = []string{cs}
	}
	x.saved = &normalize.Usage{PromptTokens: saved, TotalTokens: saved}
	s.outcome(c, x, status.String(), nil)
	if status == cache.Hit && prev.of(items) { // the headers of the last answer from these entries, and its bytes
		if prev.keyHdr != nil {
			h["X-Ditto-Cache-Key"] = prev.keyHdr
		}
		h["X-Ditto-Cache-Items"] = prev.itemsHdr
		return nil, writeETagged(c, prev.body, prev.etag)
	}
	var keyHdr []string
	if x.keyStr != "" {
		keyHdr = []string{x.keyStr}
		h["X-Ditto-Cache-Key"] = keyHdr
	}
	itemsHdr := []string{"hit=" + strconv.Itoa(hits) + ", fetched=" + strconv.Itoa(fetched) + ", total=" + strconv.Itoa(len(items))}
	h["X-Ditto-Cache-Items"] = itemsHdr
	usage := normalize.EmbeddingUsage{PromptTokens: total, TotalTokens: total}
	vectors := make([][]byte, len(items))
	for i, it := range items {
		vectors[i] = it.Entry.Body // checked on lookup (checkVector) or written by the fill
	}
	if status == cache.Hit && maxRenderedVectors(vectors) {
		r := &embedRendered{created: make([]time.Time, len(items)), sums: make([]uint64, len(items)), keyHdr: keyHdr, itemsHdr: itemsHdr}
		for i, it := range items {
			r.created[i], r.sums[i] = it.Entry.Created, xxhash.Sum64(it.Entry.Body)
		}
		r.body = s.vectors.AppendResponse(nil, vectors, x.route.UpstreamModel, usage, req.EncodingFormat)
		r.etag = etagOf(r.body)
		return r, writeETagged(c, r.body, r.etag)
	}
	bp := embedBufs.Get().(*[]byte)
	body := s.vectors.AppendResponse((*bp)[:0], vectors, x.route.UpstreamModel, usage, req.EncodingFormat)
	err := writeTagged(c, body) // Write copies body into the connection (or fails) before it returns
	if cap(body) <= 1<<20 {     // do not pin buffers grown by huge batches
		*bp = body[:0]
		embedBufs.Put(bp)
	}
	return nil, err
}

// maxRenderedVectors reports whether an answer of these stored vectors is
// small enough for the request memo to keep its rendering (maxRendered,
// counting the float text: about three 1,536-dimension vectors).
func maxRenderedVectors(vectors [][]byte) bool {
	n := 0
	for _, v := range vectors {
		n += 3 * len(v)
	}
	return n <= maxRendered
}

// embedBufs recycles the answer buffers of embeddings responses, which are
// large (8 KB per 1,536-dimension vector in base64, ~30 KB as floats) and
// live only until written.
var embedBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// checkVector accepts a stored item that decodes to a vector.
func checkVector(body []byte) error { return normalize.CheckVector(body) }

// vectorTextBytes bounds the float text of hot vectors kept by
// Server.vectors (embeddings.Renderer): about a thousand 1,536-dimension
// vectors.
const vectorTextBytes = 16 << 20

// embedFill fetches a batch's missing items in one provider call,
// admitted by the rate limits and budgets like any provider call.
type embedFill struct {
	x   *exchange
	req *normalize.EmbeddingRequest
}

func (f *embedFill) FillItems(ctx context.Context, idx []int) ([]store.Entry, error) {
	x, s := f.x, f.x.srv
	sub := f.req.Select(idx)
	var d *limits.Decision
	if s.limits.Enabled() {
		tokens := int64(0)
		for i := range sub.Inputs {
			tokens += int64(len(sub.Inputs[i].Text)/4 + len(sub.Inputs[i].Tokens) + 1)
		}
		var err error
		if d, err = x.admit(ctx, limits.Request{Tenant: x.tenant, Model: x.route.UpstreamModel, Tokens: tokens}); err != nil {
			return nil, err
		}
	}
	resp, err := s.router.Embed(x.providerContext(ctx), x.route, sub)
	if d != nil {
		var u limits.Usage
		if resp != nil {
			u.InputTokens = int64(resp.Usage.PromptTokens)
		}
		d.Settle(ctx, u)
	}
	if err != nil {
		return nil, err
	}
	if len(resp.Vectors) != len(idx) || len(resp.Tokens) != len(idx) {
		return nil, fmt.Errorf("%w: %d vectors for %d inputs", router.ErrUpstream, len(resp.Vectors), len(idx))
	}
	out := make([]store.Entry, len(idx))
	for j := range idx {
		out[j] = store.Entry{Body: normalize.EncodeVector(nil, resp.Vectors[j]), Meta: strconv.AppendInt(nil, int64(resp.Tokens[j]), 10)}
	}
	return out, nil
}
