package gateway

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/labstack/echo/v4"

	"github.com/dittocache/ditto/cache"
	"github.com/dittocache/ditto/cache/store"
	"github.com/dittocache/ditto/cachekey"
	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/internal/limits"
	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/router"
)

// A dialect is one client API (chat completions, Responses, Messages,
// legacy completions): how its requests decode into the canonical form and
// how an answer renders in its wire format. Every dialect shares the
// pipeline of serve and the one cache engine.
type dialect interface {
	// name is the dialect's Request.Dialect value when it keys within it.
	name() string
	// operation is the gen_ai.operation.name of its requests.
	operation() string
	// decode turns a body into the canonical request and the dialect's own
	// view of it, which rendering needs (echoed parameters). Errors are
	// *normalize.Error or *APIError.
	decode(s *Server, c echo.Context, body []byte) (*normalize.Request, any, error)
	// render writes a complete answer's body (and tells answered, when the
	// dialect needs to know).
	render(ctx context.Context, dst []byte, a *cache.Answer, x *exchange) ([]byte, error)
	// stream returns the renderer of one streamed answer.
	stream(x *exchange) streamRenderer
	// answered is told the complete answer a client is about to get (hit
	// or miss), before the answer's end is written.
	answered(ctx context.Context, x *exchange, resp *normalize.Response)
	// errorBody renders an error in the dialect's shape.
	errorBody(e *APIError) []byte
	// portable returns what a provider that does not speak the dialect
	// is sent for a request that keys within it, or an error naming what
	// such a provider cannot honour. Never called for portable requests.
	portable(req *normalize.Request) (*normalize.Request, error)
}

// streamRenderer renders one streamed answer as SSE frames, appended to
// dst.
type streamRenderer interface {
	Chunk(dst []byte, c *normalize.Chunk) []byte
	// End closes a complete answer; resp is the whole answer.
	End(dst []byte, resp *normalize.Response) []byte
	// Fail closes a stream that failed after it started.
	Fail(dst []byte, e *APIError) []byte
}

// exchange is one request on its way through the gateway.
type exchange struct {
	d      dialect
	req    *normalize.Request // canonical: keyed, shared read-only (memo)
	up     *normalize.Request // what the provider is sent (req unless downgraded)
	view   any                // the dialect's view of the request
	route  router.Route
	key    cachekey.Key
	keyStr string
	policy cache.Policy
	start  time.Time
	tel    *requestTelemetry // spans and outcome, for metrics (telemetry.go)
	saved  *normalize.Usage  // tokens answered without a provider call, when not the whole answer's (embeddings)
	srv    *Server
	creq   cache.Request // what the engine is asked (and its Answer)
	// The request memo: the entry this request was found in, or what a
	// HIT admits (memo.go).
	memo       *memoEntry
	rendered   *rendered // a hit's rendering, for remember (memo.go)
	tokens     int64     // a hit's tokens for the limiter, for remember (memoEntry.tokens)
	memoHash   uint64
	body       []byte
	memoTenant string
	subNS      string
	// The caller: the tenant the route serves it under, and its own
	// provider key on pass-through routes ("": the provider's own).
	tenant    string
	clientKey string
	size      int // the request body's bytes, for the limiter's estimate
	// The limiter's decision, stored by Fill (the flight's goroutine) and
	// read for the response headers.
	limit    atomic.Pointer[limits.Decision]
	admitted bool // admitted before the lookup (limits.count_hits)
	claimed  bool // its Idempotency-Key was handled (idempotency.go)
}

// handle serves one request of dialect d: read the body, decode (or find
// the decoded request in the memo), route, key, ask the engine, render.
func (s *Server) handle(c echo.Context, d dialect) error {
	start := s.now()
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	st := stateOf(c)
	st.dialect = d
	subNS := c.Request().Header.Get("X-Ditto-Namespace")
	if b := c.Request().Header.Values("Anthropic-Beta"); len(b) > 0 {
		// Betas are keyed (prepare), so the memo tells requests with
		// different ones apart.
		subNS += "\x00anthropic-beta\x00" + strings.Join(b, ",")
	}
	mt := s.memoTenant(c)
	h := memoHash(d, mt, subNS, body)
	if m := s.memo.get(h, d, mt, subNS, body); m != nil {
		pol, err := parsePolicy(c.Request().Header, m.route, s.cfg.Cache.MaxTTL)
		if err != nil {
			return err
		}
		tenant, key, err := s.routeIdentity(c, m.route.PassThrough)
		if err != nil {
			return err
		}
		st.model = m.req.Model
		st.prompt, st.hasPrompt = m.prompt, m.hasPrompt
		x := &exchange{srv: s, d: d, req: m.req, up: m.up, view: m.view, route: m.route, policy: pol, start: start,
			key: m.key, keyStr: m.keyStr, memo: m, body: body, tenant: tenant, clientKey: key, size: len(body)}
		x.tel = s.begin(c, x)
		return s.serve(c, x)
	}
	x, err := s.prepare(c, d, body)
	if err != nil {
		return err
	}
	x.start, x.memoHash, x.body, x.memoTenant, x.subNS = start, h, body, mt, subNS
	x.tel = s.begin(c, x)
	return s.serve(c, x)
}

// prepare decodes, routes and keys a body: the front half shared by every
// dialect's handler and by explain.
func (s *Server) prepare(c echo.Context, d dialect, body []byte) (*exchange, error) {
	req, view, err := d.decode(s, c, body)
	if err != nil {
		return nil, err
	}
	if req.Betas, err = requestBetas(c.Request().Header); err != nil {
		return nil, err
	}
	st := stateOf(c)
	st.model = req.Model
	if s.cfg.Log.Prompts {
		st.prompt, st.hasPrompt = loggedPrompt(req), true
	}
	if err := validModelName(req.Model); err != nil {
		return nil, err
	}
	route, err := s.router.Resolve(req.Model)
	if err != nil {
		return nil, err
	}
	if err := s.router.Serves(route); err != nil {
		return nil, err
	}
	tenant, clientKey, err := s.routeIdentity(c, route.PassThrough)
	if err != nil {
		return nil, err
	}
	pol, err := parsePolicy(c.Request().Header, route, s.cfg.Cache.MaxTTL)
	if err != nil {
		return nil, err
	}
	x := &exchange{srv: s, d: d, req: req, up: req, view: view, route: route, policy: pol,
		tenant: tenant, clientKey: clientKey, size: len(body)}
	if req.Dialect != "" && !s.speaks(route, req.Dialect) {
		if x.up, err = d.portable(req); err != nil {
			return nil, err
		}
		x.up.Betas = req.Betas
	}
	x.key = cache.Key(s.hasher, req, s.scope(c, tenant, route), route.Key())
	x.keyStr = x.key.String()
	return x, nil
}

// speaks reports whether route's provider takes requests of dialect as
// they are (providers.Dialects).
func (s *Server) speaks(route router.Route, dialect string) bool {
	p, _ := s.router.Provider(route.Provider)
	d, ok := p.(providers.Dialects)
	return ok && d.Speaks(dialect)
}

// scope is where the request's entries live: the tenant the route serves
// the authenticated caller under (never from the request body; see
// routeIdentity), the optional X-Ditto-Namespace, the route's shared
// namespace and loose matching.
func (s *Server) scope(c echo.Context, tenant string, route router.Route) cache.Scope {
	sc := s.tenantScope(c)
	sc.Tenant, sc.Shared, sc.Match = tenant, route.SharedNamespace, route.Match
	return sc
}

// tenantScope is the caller's own scope: tenant and sub-namespace.
func (s *Server) tenantScope(c echo.Context) cache.Scope {
	sc := cache.Scope{Tenant: s.cfg.Cache.Namespace, Sub: c.Request().Header.Get("X-Ditto-Namespace")}
	if t := stateOf(c).tenant; t != "" {
		sc.Tenant = t
	}
	return sc
}

// validModelName refuses model names that could not be a provider's: they
// end up in response headers and upstream URLs.
func validModelName(m string) error {
	for i := 0; i < len(m); i++ {
		if m[i] < 0x20 || m[i] == 0x7f {
			return &normalize.Error{Param: "model", Message: "model must not contain control characters"}
		}
	}
	return nil
}

// serve asks the engine for x's answer and renders it.
func (s *Server) serve(c echo.Context, x *exchange) error {
	ctx := c.Request().Context()
	tags, err := parseTags(c.Request().Header)
	if err != nil {
		return err
	}
	c.Response().Header()["X-Ditto-Cache-Key"] = []string{x.keyStr}
	if s.limits.CountsHits() && s.limits.Enabled() {
		x.admitted = true
		if _, err := x.admit(ctx, x.limitRequest()); err != nil {
			x.limitHeaders(c.Response().Header())
			return err
		}
	}
	if !x.claimed { // a refreshed hit is served again under the same claim
		x.claimed = true
		cl, replay, err := s.claim(c, x)
		if err != nil {
			return err
		}
		if replay != nil {
			return s.writeAnswer(c, x, replay)
		}
		defer func() {
			// The answer goes out before the claim's store write: answers
			// end unflushed (sseWriter.end, writeTagged), for net/http to
			// send with the response's end.
			if cl != nil && c.Response().Committed {
				_ = http.NewResponseController(c.Response().Writer).Flush()
			}
			finishClaim(c, cl, x.creq.Answer())
		}()
	}
	x.creq = cache.Request{Key: x.key, Policy: x.policy, Model: x.route.Model, Stream: x.req.Stream, Started: x.start, Fill: x,
		ExpectHit: x.memo != nil} // the memo keeps only requests that were hits
	if tags != nil {
		x.creq.Tags, x.creq.TagScope = tags, tagScope(x)
	}
	r := &x.creq
	var out *streamOut
	if x.req.Stream {
		out = s.streamTo(c, x, r)
		defer out.release()
	}
	a, err := s.engine.Serve(ctx, r)
	if errors.Is(err, cache.ErrNotCached) {
		s.outcome(c, x, "MISS", nil)
		return apiError(http.StatusGatewayTimeout, "invalid_request_error", "cache_miss", "",
			"No cached answer for this request, and Cache-Control: only-if-cached forbids calling the provider.")
	}
	if err != nil {
		return err
	}
	defer a.Close()
	if a.Status == cache.Hit {
		return s.writeHit(c, x, a)
	}
	if out != nil {
		return out.relay(a)
	}
	if err := a.Wait(ctx); err != nil {
		return err // the client left
	}
	if a.Err() != nil {
		s.outcome(c, x, "ERROR", nil)
		return a.Err()
	}
	return s.writeAnswer(c, x, a)
}

// Fill is the provider call of x's miss (cache.Filler): admitted by the
// rate limits and budgets (unless hits count too, then admitted before the
// lookup), the route with its retries and fallbacks, with the caller's own
// key on pass-through routes, and the usage settled after.
func (x *exchange) Fill(ctx context.Context, publish func(*normalize.Chunk)) (*normalize.Response, error) {
	s := x.srv
	var d *limits.Decision
	if s.limits.Enabled() && !x.admitted {
		var err error
		if d, err = x.admit(ctx, x.limitRequest()); err != nil {
			return nil, err
		}
	}
	resp, err := s.router.Call(x.providerContext(ctx), x.route, x.up, x.req.Stream, publish)
	if d != nil {
		var u limits.Usage
		if resp != nil {
			u = limits.UsageOf(resp.Usage)
		}
		d.Settle(ctx, u)
	}
	return resp, err
}

// admit asks the limiter for req and keeps the decision on x (for its
// headers); a refusal is the error the client gets.
func (x *exchange) admit(ctx context.Context, req limits.Request) (*limits.Decision, error) {
	d := x.srv.limits.Admit(ctx, req)
	x.limit.Store(&d)
	if !d.Allowed {
		return &d, limitError(&d)
	}
	return &d, nil
}

// providerContext carries the caller's own provider key, on pass-through
// routes, to the adapter.
func (x *exchange) providerContext(ctx context.Context) context.Context {
	if x.clientKey != "" {
		return providers.WithClientKey(ctx, x.clientKey)
	}
	return ctx
}

// limitRequest is what the limiter is asked for x.
func (x *exchange) limitRequest() limits.Request {
	if m := x.memo; m != nil && m.tokens > 0 {
		// What this request's cached answer cost last time: exact for a
		// counted hit of the same answer, which then settles with no
		// second bucket update (no second round trip on Redis).
		return limits.Request{Tenant: x.tenant, Model: x.route.UpstreamModel, Tokens: m.tokens}
	}
	return limits.Request{Tenant: x.tenant, Model: x.route.UpstreamModel, Tokens: x.srv.limits.EstimateRequest(x.req, x.size)}
}

// limitError is a refused decision as the client sees it.
func limitError(d *limits.Decision) *APIError {
	return &APIError{Status: d.Status, Type: d.Type, Code: d.Code, Message: d.Message,
		RetryAfter: int((d.RetryAfter + time.Second - 1) / time.Second)}
}

// limitHeaders sets the x-ratelimit-* headers of the limiter's decision
// for x, if it made one: always on a refusal, on other answers only with
// limits.rate_headers.
func (x *exchange) limitHeaders(h http.Header) {
	if d := x.limit.Load(); d != nil && (!d.Allowed || x.srv.cfg.Limits.RateHeaders) {
		// The names are canonical already: one backing array for the
		// values instead of a slice per header.
		vals := make([]string, 0, 8)
		d.SetHeaders(func(k, v string) {
			vals = append(vals, v)
			h[k] = vals[len(vals)-1 : len(vals) : len(vals)]
		})
	}
}

// outcome records how x was answered (metrics) and, when hits count
// toward the limits, settles the decision made before the lookup with the
// answer's usage: a cached answer's tokens count, but cost no money.
func (s *Server) outcome(c echo.Context, x *exchange, status string, resp *normalize.Response) {
	if x.tel != nil {
		x.tel.status, x.tel.resp = status, resp
	}
	if status == "ERROR" {
		x.limitHeaders(c.Response().Header())
	}
	var u limits.Usage
	if resp != nil {
		u = limits.UsageOf(resp.Usage)
	}
	if status == "HIT" && s.limits.Enabled() {
		x.tokens = max(u.InputTokens, 0) + max(u.OutputTokens, 0)
	}
	if !x.admitted {
		return
	}
	d := x.limit.Load()
	// Settling runs even once the client has gone (the limiter detaches
	// what it sends to Redis), so the request's context is passed as is.
	switch status {
	case "HIT", "STALE", "COALESCED":
		d.SettleCached(c.Request().Context(), u)
	default:
		d.Settle(c.Request().Context(), u)
	}
}

// writeHit answers from a verified entry. A body the dialect cannot read
// (the codec accepted it, the renderer did not) is served as a miss.
func (s *Server) writeHit(c echo.Context, x *exchange, a *cache.Answer) error {
	if err := s.writeAnswer(c, x, a); err != nil && !c.Response().Committed {
		s.log.Warn("cached entry unreadable; refreshing it", "err", err)
		// A hit's Answer follows no flight: serving x again replaces it, and
		// the outer serve's deferred Close finds the new one closed.
		x.policy.Lookup = false
		return s.serve(c, x)
	}
	s.remember(c, x)
	return nil
}

// writeAnswer writes a complete answer (a hit, a stale entry or a
// finished flight) as JSON or, for a streaming client, as a replayed
// stream, with its cache headers. A hit of the entry a memoized request was
// last served is written as rendered then; another hit's rendering is kept
// for the next (remember).
func (s *Server) writeAnswer(c echo.Context, x *exchange, a *cache.Answer) error {
	ctx := c.Request().Context()
	if r := x.memoLast(); a.Status == cache.Hit && r.of(a.Entry) {
		s.setCacheHeaders(c, x, a)
		s.outcome(c, x, a.Status.String(), r.resp)
		x.d.answered(ctx, x, r.resp)
		if x.req.Stream {
			sse := newSSEWriter(c.Response())
			defer sse.release()
			sse.buf = append(sse.buf, r.body...)
			_ = sse.end()
			return nil
		}
		return writeTagged(c, r.body)
	}
	_, isChat := x.d.(chat)
	keep := a.Status == cache.Hit && x.body != nil && (x.req.Stream || !isChat)
	if x.req.Stream {
		resp, err := a.Response()
		if err != nil {
			return err
		}
		s.setCacheHeaders(c, x, a)
		s.outcome(c, x, a.Status.String(), resp)
		x.d.answered(ctx, x, resp)
		sse := newSSEWriter(c.Response())
		defer sse.release()
		if keep {
			b := replayed(x.d.stream(x), resp)
			x.keep(a.Entry, resp, b)
			sse.buf = append(sse.buf, b...)
			_ = sse.end()
			return nil
		}
		sse.replay(x.d.stream(x), resp)
		return nil
	}
	body, err := x.d.render(ctx, nil, a, x)
	if err != nil {
		return err
	}
	acct, err := a.Summary()
	if err != nil {
		return err
	}
	if keep {
		x.keep(a.Entry, acct, body)
	}
	s.setCacheHeaders(c, x, a)
	s.outcome(c, x, a.Status.String(), acct)
	return writeTagged(c, body)
}

// memoLast is the rendering x's memo entry keeps, or nil.
func (x *exchange) memoLast() *rendered {
	if x.memo == nil {
		return nil
	}
	return x.memo.last
}

// keep holds a hit's rendering for remember, when it is small enough.
func (x *exchange) keep(e store.Entry, resp *normalize.Response, body []byte) {
	if len(body) <= maxRendered {
		x.rendered = &rendered{created: e.Created, sum: xxhash.Sum64(e.Body), resp: resp, body: body}
	}
}

// writeTagged writes a complete JSON answer with a strong ETag of its
// bytes; a client that already holds them (If-None-Match) gets a 304
// without a body.
func writeTagged(c echo.Context, body []byte) error {
	return writeETagged(c, body, etagOf(body))
}

// etagOf is body's strong ETag: the quoted hex of its xxhash64.
func etagOf(body []byte) string {
	var sum [8]byte
	binary.BigEndian.PutUint64(sum[:], xxhash.Sum64(body))
	var tag [18]byte
	tag[0], tag[17] = '"', '"'
	hex.Encode(tag[1:17], sum[:])
	return string(tag[:])
}

// writeETagged is writeTagged with body's ETag known (etagOf(body)).
func writeETagged(c echo.Context, body []byte, etag string) error {
	h := c.Response().Header()
	h["Etag"] = []string{etag}
	if inm := c.Request().Header.Get("If-None-Match"); inm != "" && etagMatches(inm, etag) {
		c.Response().WriteHeader(http.StatusNotModified)
		return nil
	}
	return writeJSON(c, body)
}

// etagMatches reports whether an If-None-Match list names etag (RFC 9110
// weak comparison, as If-None-Match uses), or is "*".
func etagMatches(list, etag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// setCacheHeaders sets X-Ditto-Cache, Cache-Status (RFC 9211), Age and
// the rate-limit headers of a provider call.
func (s *Server) setCacheHeaders(c echo.Context, x *exchange, a *cache.Answer) {
	h := c.Response().Header()
	x.limitHeaders(h)
	switch a.Status {
	case cache.Hit:
		h["X-Ditto-Cache"] = hitStatus
		h["Cache-Status"] = hitCacheStatus
		h["Age"] = []string{strconv.FormatInt(int64(a.Age/time.Second), 10)}
		if a.Replayed {
			h["Idempotent-Replayed"] = []string{"true"}
			h["Cache-Status"] = []string{"ditto; hit; detail=idempotent-replay"}
		}
		return
	case cache.Stale:
		h["X-Ditto-Cache"] = []string{"STALE"}
		h["Age"] = []string{strconv.FormatInt(int64(a.Age/time.Second), 10)}
		if a.Revalidating {
			h["Cache-Status"] = []string{"ditto; hit; detail=stale-while-revalidate"}
			return
		}
		h["Cache-Status"] = []string{"ditto; fwd=stale; fwd-status=" + strconv.Itoa(toAPIError(a.FillErr).Status)}
		s.log.Warn("provider failed; served a stale answer", "route", x.route.Key(), "err", a.FillErr)
		return
	}
	var cs string
	switch a.Status {
	case cache.Bypass:
		cs = "ditto; fwd=request"
	case cache.Coalesced:
		cs = "ditto; fwd=uri-miss; collapsed"
	default:
		cs = "ditto; fwd=uri-miss"
	}
	if a.Stored {
		cs += "; stored"
	}
	if a.ShadowHit {
		cs += "; detail=shadow-hit" // the route's shadow mode: this would have been a hit
	}
	h["X-Ditto-Cache"] = []string{a.Status.String()}
	h["Cache-Status"] = []string{cs}
}

// streamOut relays a stream to its client. Headers wait for the first
// chunk, so a provider that fails before answering is reported with its
// own status; a failure after the first chunk ends the stream with the
// dialect's error event.
//
// When the request is the one calling the provider (it starts the flight,
// or nobody may share its call), the engine makes the call on the
// request's goroutine, inside Serve (cache.Request.Sink): chunks are
// rendered as the adapter parses them and flushed just before it reads
// from the provider again (providers.WithReadHook), as a forwarding proxy
// flushes after each read, with no goroutine or hand-off per chunk. A
// request that joins another's flight relays the chunks the flight hands
// it (relay, Answer.Next).
type streamOut struct {
	s   *Server
	c   echo.Context
	x   *exchange
	r   *cache.Request
	sse *sseWriter // nil until the first chunk
	sr  streamRenderer
}

// streamTo sets r up to stream into c: its Sink and the Here that flushes
// before each provider read.
func (s *Server) streamTo(c echo.Context, x *exchange, r *cache.Request) *streamOut {
	o := &streamOut{s: s, c: c, x: x, r: r}
	r.Sink = o.write
	r.Here = func(ctx context.Context) context.Context { return providers.WithReadHook(ctx, o.flushBuffered) }
	return o
}

// write renders one chunk, sending the headers first.
func (o *streamOut) write(ch *normalize.Chunk) {
	if o.sse == nil {
		o.s.setCacheHeaders(o.c, o.x, o.r.Answer())
		o.sse, o.sr = newSSEWriter(o.c.Response()), o.x.d.stream(o.x)
	}
	o.sse.buf = o.sr.Chunk(o.sse.buf, ch) // a gone client fails the write; the call goes on for any follower
}

func (o *streamOut) flushBuffered() {
	if o.sse != nil && o.sse.buffered() {
		_ = o.sse.flush()
	}
}

func (o *streamOut) release() { o.sse.release() }

// relay follows a to its end (a call made on this goroutine is over
// already) and ends the stream.
func (o *streamOut) relay(a *cache.Answer) error {
	s, c, x := o.s, o.c, o.x
	ctx := c.Request().Context()
	for {
		chunks, done, err := a.Next(ctx)
		if err != nil {
			return nil // client gone
		}
		if len(chunks) > 0 {
			for _, ch := range chunks {
				o.write(ch)
			}
			if o.sse.flush() != nil {
				return nil
			}
		}
		if done {
			break
		}
	}
	sse := o.sse
	switch {
	case sse == nil && a.Err() != nil:
		s.outcome(c, x, "ERROR", nil)
		return a.Err()
	case sse == nil:
		// Nothing streamed: a non-streaming fill (a provider that cannot
		// stream), another replica's answer, or a stale entry standing in
		// for a failure.
		return s.writeAnswer(c, x, a)
	case a.Err() != nil && ctx.Err() != nil:
		// The client left: nothing to report.
	case a.Err() != nil:
		s.outcome(c, x, "ERROR", nil)
		sse.buf = o.sr.Fail(sse.buf, toAPIError(a.Err()))
	default:
		resp, _ := a.Response() // the flight's own answer: never a decode
		s.outcome(c, x, a.Status.String(), resp)
		x.d.answered(ctx, x, resp)
		sse.buf = o.sr.End(sse.buf, resp)
	}
	_ = sse.end()
	return nil
}

// remember admits a request answered from the cache to the request memo.
func (s *Server) remember(c echo.Context, x *exchange) {
	if x.body == nil {
		return
	}
	if m := x.memo; m != nil {
		// The entry changed (a new rendering to keep), or its answer's
		// token count did: the memo entry is replaced, never edited.
		if x.rendered != nil || (x.tokens > 0 && x.tokens != m.tokens) {
			e := *m
			if x.rendered != nil {
				e.last = x.rendered
			}
			if x.tokens > 0 {
				e.tokens = x.tokens
			}
			s.memo.put(memoHash(x.d, m.tenant, m.subNS, m.body), &e)
		}
		return
	}
	st := stateOf(c)
	s.memo.put(x.memoHash, &memoEntry{d: x.d, body: x.body, tenant: x.memoTenant, subNS: x.subNS, req: x.req, up: x.up, view: x.view,
		route: x.route, key: x.key, keyStr: x.keyStr, prompt: st.prompt, hasPrompt: st.hasPrompt, last: x.rendered, tokens: x.tokens})
}

// readBody reads the request body up to server.max_body_bytes within
// server.body_timeout. A body with a Content-Length is read into a buffer
// of exactly that size (no growing, no limiting reader: net/http already
// stops at the length); a chunked one through http.MaxBytesReader.
func (s *Server) readBody(c echo.Context) ([]byte, error) {
	r := c.Request()
	limit := s.cfg.Server.MaxBodyBytes
	n := r.ContentLength
	if n > limit {
		return nil, toAPIError(&http.MaxBytesError{Limit: limit})
	}
	if n == 0 {
		return []byte{}, nil
	}
	// The body's own deadline, lifted again once it is read: the answer
	// may take longer than any read timeout, and an expired read deadline
	// would make net/http cancel the request.
	rc := http.NewResponseController(c.Response())
	deadline := false
	if t := s.cfg.Server.BodyTimeout; t > 0 {
		deadline = rc.SetReadDeadline(time.Now().Add(t)) == nil
	}
	var err error
	var buf []byte
	if n > 0 {
		buf = make([]byte, n)
		_, err = io.ReadFull(r.Body, buf)
	} else {
		r.Body = http.MaxBytesReader(c.Response(), r.Body, limit)
		b := bytes.NewBuffer(make([]byte, 0, 4096))
		_, err = b.ReadFrom(r.Body)
		buf = b.Bytes()
	}
	if err == nil {
		if deadline {
			rc.SetReadDeadline(time.Time{})
		}
		return buf, nil
	}
	// The connection cannot carry another request: close it after the
	// error answer rather than let net/http drain the rest of the body.
	c.Response().Header().Set("Connection", "close")
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, toAPIError(err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, errBodyTimeout(s.cfg.Server.BodyTimeout)
	}
	return nil, errUnreadableBody
}

// errBodyTimeout is a body not read within server.body_timeout.
func errBodyTimeout(t time.Duration) *APIError {
	return apiError(http.StatusRequestTimeout, "invalid_request_error", "body_timeout", "",
		"The request body was not received within "+t.String()+".")
}

var errUnreadableBody = apiError(http.StatusBadRequest, "invalid_request_error", "invalid_body", "", "The request body could not be read.")

// Shared header values of every hit and JSON answer (never modified: a
// header map only replaces or appends).
var (
	hitStatus      = []string{"HIT"}
	hitCacheStatus = []string{"ditto; hit"}
	jsonType       = []string{"application/json"}
)

// writeJSON writes a complete JSON answer with its Content-Length, so the
// response goes out in one piece instead of chunked.
func writeJSON(c echo.Context, body []byte) error {
	h := c.Response().Header()
	h["Content-Type"] = jsonType
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	c.Response().WriteHeader(http.StatusOK)
	_, err := c.Response().Write(body)
	return err
}

// parsePolicy reads Cache-Control, X-Ditto-Cache-TTL and X-Ditto-Namespace.
func parsePolicy(h http.Header, route router.Route, maxTTL time.Duration) (cache.Policy, error) {
	p := cache.Policy{Lookup: route.CacheEnabled, Store: route.CacheEnabled, MaxAge: -1, TTL: route.TTL, Shadow: route.Shadow}
	// SSE clients send "Cache-Control: no-cache" with every stream by
	// transport convention (EventSource, go-openai), not to refresh the
	// answer; streams that want a fresh answer send max-age=0.
	// So do fetch implementations (browsers, Node's undici) with every
	// request carrying If-None-Match: the Fetch standard adds it, so a
	// conditional request would never be answered from the cache, and a
	// 304 would cost a provider call. A conditional request that wants a
	// fresh answer sends max-age=0 too.
	conventional := strings.Contains(h.Get("Accept"), "text/event-stream") || len(h["If-None-Match"]) > 0
	for _, v := range h.Values("Cache-Control") {
		for _, d := range strings.Split(v, ",") {
			name, arg, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(name) {
			case "no-cache":
				if !conventional {
					p.Lookup = false
				}
			case "no-store":
				p.Lookup, p.Store = false, false
			case "only-if-cached":
				p.OnlyIfCached = true
			case "max-age":
				n, err := strconv.ParseInt(strings.Trim(arg, `"`), 10, 64)
				if err != nil || n < 0 {
					return p, apiError(http.StatusBadRequest, "invalid_request_error", "invalid_header", "Cache-Control",
						"Cache-Control max-age must be a non-negative integer number of seconds.")
				}
				p.MaxAge = time.Duration(min(n, int64(maxTTL/time.Second)+1)) * time.Second
			}
		}
	}
	if v := h.Get("X-Ditto-Cache-Ttl"); v != "" { // X-Ditto-Cache-TTL, canonical: no allocation
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return p, apiError(http.StatusBadRequest, "invalid_request_error", "invalid_header", "X-Ditto-Cache-TTL",
				"X-Ditto-Cache-TTL must be a positive integer number of seconds.")
		}
		p.TTL = min(time.Duration(min(n, int64(maxTTL/time.Second)))*time.Second, maxTTL)
	}
	if v := h.Get("X-Ditto-Namespace"); v != "" && !configs.ValidName(v) {
		return p, apiError(http.StatusBadRequest, "invalid_request_error", "invalid_header", "X-Ditto-Namespace",
			"X-Ditto-Namespace must be 1-64 characters of letters, digits, '.', '_' or '-'.")
	}
	if !route.CacheEnabled {
		p.Lookup, p.Store = false, false
	}
	return p, nil
}

// requestBetas reads the request's anthropic-beta headers
// (normalize.ParseBetas); a malformed one is a 400 naming the header.
func requestBetas(h http.Header) ([]string, error) {
	b, err := normalize.ParseBetas(h.Values("Anthropic-Beta"))
	if err != nil {
		return nil, apiError(http.StatusBadRequest, "invalid_request_error", "invalid_header", "anthropic-beta", err.Error())
	}
	return b, nil
}
