package gateway

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dittocache/ditto/cache/store"
	"github.com/dittocache/ditto/cachekey"
	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
)

// Cache status values of X-Ditto-Cache.
const (
	statusHit       = "HIT"
	statusMiss      = "MISS"
	statusBypass    = "BYPASS"
	statusStale     = "STALE"
	statusCoalesced = "COALESCED"
)

// exchange is one chat request on its way through the gateway.
type exchange struct {
	req      *normalize.Request
	route    Route
	key      cachekey.Key
	keyStr   string
	policy   policy
	started  time.Time
	status   string // X-Ditto-Cache
	provider Provider
	tel      *requestTelemetry // spans and outcome, for metrics (telemetry.go)
	// stale is an entry past its fresh lifetime, kept to answer with if
	// the provider fails (stale-if-error).
	stale    *store.Entry
	staleAge time.Duration
	// The request memo: the entry this request was found in, or what a
	// HIT admits (memo.go).
	memo     *memoEntry
	memoHash uint64
	body     []byte
	tenant   string
	subNS    string
}

func (s *Server) chatCompletions(c echo.Context) error {
	started := s.now()
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	st := stateOf(c)
	subNS := c.Request().Header.Get("X-Ditto-Namespace")
	h := memoHash(st.tenant, subNS, body)
	if m := s.memo.get(h, st.tenant, subNS, body); m != nil {
		return s.chatMemoized(c, st, m, started)
	}
	return s.chatDecoded(c, st, body, h, subNS, started)
}

// chatMemoized serves a body seen and answered from the cache before: the
// decoded request, route and key are known.
func (s *Server) chatMemoized(c echo.Context, st *requestState, m *memoEntry, started time.Time) error {
	pol, err := parsePolicy(c.Request().Header, m.route, s.cfg.Cache.MaxTTL)
	if err != nil {
		return err
	}
	st.model = m.req.Model
	st.prompt, st.hasPrompt = m.prompt, m.hasPrompt
	x := &exchange{req: m.req, route: m.route, policy: pol, started: started, provider: m.provider,
		key: m.key, keyStr: m.keyStr, memo: m}
	x.tel = s.begin(c, x)
	return s.serve(c, x)
}

// chatDecoded decodes, routes and keys a body, then serves it.
func (s *Server) chatDecoded(c echo.Context, st *requestState, body []byte, h uint64, subNS string, started time.Time) error {
	req, route, pol, err := s.decodeChat(c, body)
	if err != nil {
		return err
	}
	prov, ok := s.providers[route.Provider]
	if !ok {
		return apiError(http.StatusNotFound, "invalid_request_error", "model_not_found", "model",
			"The model `"+req.Model+"` routes to provider `"+route.Provider+"`, which is not configured.")
	}
	x := &exchange{req: req, route: route, policy: pol, started: started, provider: prov,
		memoHash: h, body: body, tenant: st.tenant, subNS: subNS}
	x.key = s.chatKey(req, route, s.namespace(c, route, pol))
	x.keyStr = x.key.String()
	x.tel = s.begin(c, x)
	return s.serve(c, x)
}

// remember admits a request answered from the cache to the request memo.
func (s *Server) remember(c echo.Context, x *exchange) {
	if x.memo != nil || x.body == nil {
		return
	}
	st := stateOf(c)
	s.memo.put(x.memoHash, &memoEntry{body: x.body, tenant: x.tenant, subNS: x.subNS, req: x.req, route: x.route,
		provider: x.provider, key: x.key, keyStr: x.keyStr, prompt: st.prompt, hasPrompt: st.hasPrompt})
}

// parseChat reads, decodes and routes a chat request and reads its cache
// policy: the front half shared by chat completions and explain.
func (s *Server) parseChat(c echo.Context) (*normalize.Request, Route, policy, error) {
	body, err := s.readBody(c)
	if err != nil {
		return nil, Route{}, policy{}, err
	}
	return s.decodeChat(c, body)
}

// decodeChat decodes and routes a chat request body and reads its cache
// policy.
func (s *Server) decodeChat(c echo.Context, body []byte) (*normalize.Request, Route, policy, error) {
	req, err := normalize.DecodeOpenAI(body)
	if err != nil {
		return nil, Route{}, policy{}, err
	}
	st := stateOf(c)
	st.model = req.Model
	if s.cfg.Log.Prompts {
		st.prompt, st.hasPrompt = loggedPrompt(req), true
	}
	route, err := s.router.resolve(req.Model)
	if err != nil {
		return nil, Route{}, policy{}, err
	}
	pol, err := parsePolicy(c.Request().Header, route, s.cfg.Cache.MaxTTL)
	if err != nil {
		return nil, Route{}, policy{}, err
	}
	return req, route, pol, nil
}

// canonPool recycles canonical-form buffers: the chat path only hashes them.
var canonPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// chatKey is requestKey without keeping the canonical bytes.
func (s *Server) chatKey(req *normalize.Request, route Route, namespace string) cachekey.Key {
	bp := canonPool.Get().(*[]byte)
	canon := normalize.AppendCanonicalWith((*bp)[:0], req, route.Match)
	k := cachekey.Derive(s.hasher, route.keyNamespace(namespace), route.Key(), canon)
	if cap(canon) <= 1<<20 { // do not pin huge buffers
		*bp = canon[:0]
		canonPool.Put(bp)
	}
	return k
}

// requestKey derives the cache key of req on route in namespace (the
// tenant's, or a shared one, before the route's matching tag) and returns
// the canonical bytes it hashed. Chat completions and explain both use it,
// so explain always shows the key a request is served under.
func requestKey(h cachekey.Hasher, req *normalize.Request, route Route, namespace string) (cachekey.Key, []byte) {
	canon := normalize.CanonicalWith(req, route.Match)
	return cachekey.Derive(h, route.keyNamespace(namespace), route.Key(), canon), canon
}

// namespace derives the cache namespace from the authenticated tenant (never
// from the request body), the optional X-Ditto-Namespace sub-namespace, and
// the route's shared-namespace opt-in.
func (s *Server) namespace(c echo.Context, route Route, pol policy) string {
	if route.SharedNamespace != "" {
		return sharedNamespace(route)
	}
	tenant := s.cfg.Cache.Namespace
	if t := stateOf(c).tenant; t != "" {
		tenant = t
	}
	if pol.namespace != "" {
		return tenant + "/" + pol.namespace
	}
	return tenant
}

// sharedNamespace is the namespace of a route that opted in to sharing
// entries across tenants. Tenant namespaces cannot collide with it: tenant
// names and sub-namespaces are validated to letters, digits, '.', '_', '-'.
func sharedNamespace(route Route) string { return "@shared/" + route.SharedNamespace }

// readBody reads the request body up to server.max_body_bytes. A body with
// a Content-Length is read into a buffer of exactly that size (no growing,
// no limiting reader: net/http already stops at the length); a chunked one
// through http.MaxBytesReader.
func (s *Server) readBody(c echo.Context) ([]byte, error) {
	r := c.Request()
	limit := s.cfg.Server.MaxBodyBytes
	if n := r.ContentLength; n >= 0 {
		if n > limit {
			return nil, toAPIError(&http.MaxBytesError{Limit: limit})
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			return nil, errUnreadableBody
		}
		return buf, nil
	}
	r.Body = http.MaxBytesReader(c.Response(), r.Body, limit)
	buf := bytes.NewBuffer(make([]byte, 0, 4096))
	if _, err := buf.ReadFrom(r.Body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, toAPIError(err)
		}
		return nil, errUnreadableBody
	}
	return buf.Bytes(), nil
}

var errUnreadableBody = apiError(http.StatusBadRequest, "invalid_request_error", "invalid_body", "", "The request body could not be read.")

func (s *Server) serve(c echo.Context, x *exchange) error {
	ctx := c.Request().Context()
	h := c.Response().Header()
	h["X-Ditto-Cache-Key"] = []string{x.keyStr}

	if !x.policy.cacheable() {
		x.status = statusBypass
		if !x.req.Stream {
			// Nobody else can share this call: make it on the request's own
			// goroutine and context.
			f := newFlight()
			s.runFlight(f, ctx, x, false)
			return s.follow(c, x, f)
		}
		return s.streamHere(c, x)
	}
	if x.policy.lookup {
		if entry, age, ok := s.lookup(ctx, x); ok {
			x.status = statusHit
			return s.writeHit(c, x, entry, age)
		}
	}
	if x.policy.onlyIfCached {
		x.status = statusMiss
		s.metrics.request(x, statusMiss)
		return apiError(http.StatusGatewayTimeout, "invalid_request_error", "cache_miss", "",
			"No cached answer for this request, and Cache-Control: only-if-cached forbids calling the provider.")
	}
	x.status = statusMiss
	if !x.policy.lookup {
		x.status = statusBypass // no-cache: forced refresh
	}
	// A miss may wait on another request's call (here or on another
	// replica): its coalesce-wait span ends with the first byte.
	x.tel.watchFirstByte(c)
	if !s.cfg.Cache.Coalesce {
		f := solo(func(f *flight, fctx context.Context) { s.runFlight(f, fctx, x, true) })
		return s.follow(c, x, f)
	}
	start := func(f *flight, fctx context.Context) { s.runFlight(f, fctx, x, true) }
	f, leader := s.flights.enter(flightKey(x.key))
	switch {
	case leader && !x.req.Stream:
		if !f.runHere(ctx, start) {
			return ctx.Err() // the client left while the call ran, as a waiting follower would see
		}
	case leader:
		go f.run(start) // this goroutine relays the stream as it comes
	}
	if !leader && x.status == statusMiss {
		x.status = statusCoalesced
		s.metrics.coalesced(x.route.Model)
		s.startCoalesce(x.tel)
	}
	return s.follow(c, x, f)
}

// storeContext bounds one store operation by cache.operation_timeout. The
// memory store cannot block, so it gets ctx as it is (a timer per
// operation is not free).
func (s *Server) storeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, inProcess := s.store.(*store.Memory); inProcess {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.cfg.Cache.OperationTimeout)
}

// lookup reads and verifies the cached entry. Store errors, corrupt values
// and digest mismatches are misses: a cache failure never fails a request.
func (s *Server) lookup(ctx context.Context, x *exchange) (store.Entry, time.Duration, bool) {
	ctx, span := s.traceLookup(ctx)
	defer span.End()
	lctx, cancel := s.storeContext(ctx)
	entry, ok, err := s.storeGet(lctx, x.key)
	cancel()
	if err != nil {
		s.metrics.storeError("get", err)
		if !errors.Is(err, context.Canceled) {
			s.log.Debug("cache get failed; treating as miss", "key", x.keyStr, "err", err)
		}
		return store.Entry{}, 0, false
	}
	if !ok {
		return store.Entry{}, 0, false
	}
	if entry.Digest != x.key.Digest {
		// A 64-bit collision, or an entry copied under the wrong key.
		s.metrics.digestMismatch()
		s.log.Warn("cache entry digest mismatch; treating as miss", "key", x.keyStr)
		return store.Entry{}, 0, false
	}
	age := s.now().Sub(entry.Created)
	if age < 0 {
		age = 0
	}
	if x.policy.maxAge >= 0 && age > x.policy.maxAge {
		return store.Entry{}, 0, false
	}
	if entry.Fresh > 0 && age > entry.Fresh {
		// Past its lifetime: refresh, but keep it in case the provider fails.
		x.stale, x.staleAge = &entry, age
		return store.Entry{}, 0, false
	}
	return entry, age, true
}

// runFlight performs the upstream call for a flight and stores a complete
// answer before announcing it, so a request sent after the answer was
// delivered is a hit (read-your-writes).
func (s *Server) runFlight(f *flight, ctx context.Context, x *exchange, store bool) {
	if store {
		// Across replicas: wait for another replica's fill, or hold the lease.
		resp, body, release, found := s.awaitFill(ctx, x)
		defer release()
		if found {
			f.finishRemote(resp, body)
			return
		}
	}
	resp, err := s.callUpstream(ctx, f, x, x.req)
	if err != nil {
		f.finish(nil, nil, false, err)
		return
	}
	body := normalize.OpenAIResponseJSON(resp)
	stored := false
	if store {
		stored = s.storeAnswer(x, resp, body)
	}
	f.finish(resp, body, stored, nil)
}

// errStreamStalled ends a stream whose upstream sent nothing for
// upstream.stream_idle_timeout.
var errStreamStalled = &APIError{Status: http.StatusGatewayTimeout, Type: "server_error", Code: "upstream_stalled",
	Message: "The upstream stream stalled and was cut; the partial answer was not cached."}

// storeAnswer writes a complete answer; failures are logged and counted,
// never returned.
func (s *Server) storeAnswer(x *exchange, resp *normalize.Response, body []byte) bool {
	for _, c := range resp.Choices {
		if c.FinishReason == "" {
			return false
		}
	}
	ctx, cancel := s.storeContext(x.tel.traceContext())
	defer cancel()
	// Kept past its fresh lifetime for stale-if-error.
	e := store.Entry{Digest: x.key.Digest, Created: s.now(), Fresh: x.policy.ttl, Body: body, Meta: encodeMeta(resp)}
	err := s.storeSet(ctx, x.key, e, x.policy.ttl+s.cfg.Cache.StaleIfError)
	if err != nil {
		s.metrics.storeError("set", err)
		s.log.Debug("cache set failed", "key", x.keyStr, "err", err)
		return false
	}
	return true
}

// follow delivers a flight's answer to one client, as a stream or as one
// completion.
func (s *Server) follow(c echo.Context, x *exchange, f *flight) error {
	defer f.leave()
	if x.req.Stream {
		return s.followStream(c, x, f)
	}
	st, err := f.wait(c.Request().Context())
	if err != nil {
		return err
	}
	if st.err != nil {
		return s.flightFailed(c, x, st)
	}
	s.flightServed(c, x, st)
	return writeJSON(c, st.body)
}

// flightFailed answers a client whose flight failed before it saw any
// chunk: a stale entry when the failure allows one, else the error.
func (s *Server) flightFailed(c echo.Context, x *exchange, st flightState) error {
	if x.stale != nil && fallbackable(st.err) {
		return s.writeStale(c, x, st.err)
	}
	s.metrics.request(x, "ERROR")
	return st.err
}

// flightServed sets the headers and records the metrics of a client
// answered by a successful flight.
func (s *Server) flightServed(c echo.Context, x *exchange, st flightState) {
	s.setMissHeaders(c, x, st)
	s.metrics.request(x, x.status)
	s.metrics.served(x, st.resp, x.status)
}

func (s *Server) setMissHeaders(c echo.Context, x *exchange, st flightState) {
	if st.remote && x.status == statusMiss {
		x.status = statusCoalesced // another replica called the provider
	}
	stored := st.stored
	h := c.Response().Header()
	h.Set("X-Ditto-Cache", x.status)
	var cs string
	switch x.status {
	case statusBypass:
		cs = "ditto; fwd=request"
	case statusCoalesced:
		cs = "ditto; fwd=uri-miss; collapsed"
	default:
		cs = "ditto; fwd=uri-miss"
	}
	if stored {
		cs += "; stored"
	}
	h.Set("Cache-Status", cs)
}

// streamHere serves a stream nobody else can share (no-store) on the
// request's own goroutine and context, with no flight goroutine and no
// hand-off: chunks are written as they are parsed and flushed just before
// the adapter reads from the provider again (providers.WithReadHook), as a
// forwarding proxy flushes after each read. The outcome is reported as
// followStream does.
func (s *Server) streamHere(c echo.Context, x *exchange) error {
	var sse *sseWriter
	f := newFlight()
	f.sink = func(ch *normalize.Chunk) {
		if sse == nil {
			s.setMissHeaders(c, x, flightState{})
			sse = newSSEWriter(c.Response())
		}
		_ = sse.chunk(ch, x.req.IncludeUsage) // a gone client cancels the request context, and with it the call
	}
	ctx := providers.WithReadHook(c.Request().Context(), func() {
		if sse != nil && sse.buffered() {
			_ = sse.flush()
		}
	})
	defer func() { sse.release() }()
	s.runFlight(f, ctx, x, false)
	st := f.state(0)
	switch {
	case sse == nil && st.err != nil:
		return s.flightFailed(c, x, st)
	case sse == nil: // answered without streaming (a provider that cannot stream)
		s.flightServed(c, x, st)
		return s.replay(c, x, st.resp)
	case st.err != nil && c.Request().Context().Err() != nil:
		// The client left (as followStream, nothing is reported).
	case st.err != nil:
		s.metrics.request(x, "ERROR")
		sse.error(toAPIError(st.err))
	default:
		s.metrics.request(x, x.status)
		s.metrics.served(x, st.resp, x.status)
		sse.done()
	}
	return nil
}

// followStream relays a flight as SSE. Headers wait for the first chunk, so
// an upstream that fails before answering is reported with its own status;
// a failure after the first chunk ends the stream with an error event.
func (s *Server) followStream(c echo.Context, x *exchange, f *flight) error {
	ctx := c.Request().Context()
	var sse *sseWriter
	defer func() { sse.release() }()
	pos := 0
	for {
		st := f.state(pos)
		if st.done && pos == 0 && len(st.chunks) == 0 {
			// Nothing streamed (non-stream flight, or failed before any chunk).
			if st.err != nil {
				return s.flightFailed(c, x, st)
			}
			s.flightServed(c, x, st)
			return s.replay(c, x, st.resp)
		}
		if len(st.chunks) > 0 {
			if sse == nil {
				s.setMissHeaders(c, x, flightState{})
				sse = newSSEWriter(c.Response())
			}
			for _, ch := range st.chunks {
				if err := sse.chunk(ch, x.req.IncludeUsage); err != nil {
					return nil // client gone
				}
			}
			pos += len(st.chunks)
			if err := sse.flush(); err != nil {
				return nil
			}
			continue
		}
		if st.done {
			if st.err != nil {
				s.metrics.request(x, "ERROR")
				sse.error(toAPIError(st.err))
				return nil
			}
			s.metrics.request(x, x.status)
			s.metrics.served(x, st.resp, x.status)
			sse.done()
			return nil
		}
		select {
		case <-st.wake:
		case <-ctx.Done():
			return nil
		}
	}
}

// writeHit answers from a verified cache entry.
func (s *Server) writeHit(c echo.Context, x *exchange, e store.Entry, age time.Duration) error {
	h := c.Response().Header()
	h["X-Ditto-Cache"] = hitStatus
	h["Cache-Status"] = hitCacheStatus
	h["Age"] = []string{strconv.FormatInt(int64(age/time.Second), 10)}
	// A JSON client gets the stored bytes as they are: only accounting
	// needs a look inside. A stream replay needs the whole answer.
	var resp *normalize.Response
	var err error
	switch meta, ok := decodeMeta(e.Meta); {
	case x.req.Stream:
		resp, err = normalize.ParseOpenAIResponse(e.Body)
	case ok:
		resp = meta
	default:
		resp, err = normalize.SummarizeOpenAIResponse(e.Body)
	}
	if err != nil {
		// Unreadable body under a valid digest: serve a miss instead.
		s.metrics.storeError("decode", err)
		x.status = statusMiss
		h.Del("Age")
		f, _ := s.flights.join(flightKey(x.key), func(f *flight, fctx context.Context) {
			s.runFlight(f, fctx, x, true)
		})
		return s.follow(c, x, f)
	}
	s.metrics.request(x, statusHit)
	s.metrics.served(x, resp, statusHit)
	s.remember(c, x)
	if !x.req.Stream {
		return writeJSON(c, e.Body)
	}
	return s.replay(c, x, resp)
}

// Shared header values of every hit and JSON answer (never modified: a
// header map only replaces or appends).
var (
	hitStatus      = []string{statusHit}
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

// writeStale answers with an entry past its fresh lifetime because the
// provider failed (stale-if-error).
func (s *Server) writeStale(c echo.Context, x *exchange, upstreamErr error) error {
	resp, err := normalize.ParseOpenAIResponse(x.stale.Body)
	if err != nil {
		return upstreamErr
	}
	x.status = statusStale
	h := c.Response().Header()
	h.Set("X-Ditto-Cache", statusStale)
	h.Set("Cache-Status", "ditto; fwd=stale; fwd-status="+strconv.Itoa(toAPIError(upstreamErr).Status))
	h.Set("Age", strconv.FormatInt(int64(x.staleAge/time.Second), 10))
	s.log.Warn("provider failed; served a stale answer", "key", x.keyStr, "err", upstreamErr)
	s.metrics.request(x, statusStale)
	s.metrics.served(x, resp, statusStale)
	if !x.req.Stream {
		return writeJSON(c, x.stale.Body)
	}
	return s.replay(c, x, resp)
}

// replay streams a complete answer as SSE.
func (s *Server) replay(c echo.Context, x *exchange, resp *normalize.Response) error {
	sse := newSSEWriter(c.Response())
	defer sse.release()
	for _, ch := range normalize.Replay(resp, x.req.IncludeUsage) {
		if err := sse.chunk(&ch, x.req.IncludeUsage); err != nil {
			return nil
		}
	}
	sse.done()
	return nil
}

// policy is the cache behaviour one request asked for.
type policy struct {
	lookup       bool          // read the cache (false for no-cache, no-store)
	store        bool          // write the answer (false for no-store)
	onlyIfCached bool          // never call upstream
	maxAge       time.Duration // accept entries at most this old; -1: any
	ttl          time.Duration // TTL for a stored answer
	namespace    string        // X-Ditto-Namespace
}

func (p policy) cacheable() bool { return p.store || p.lookup }

// parsePolicy reads Cache-Control, X-Ditto-Cache-TTL and X-Ditto-Namespace.
func parsePolicy(h http.Header, route Route, maxTTL time.Duration) (policy, error) {
	p := policy{lookup: route.CacheEnabled, store: route.CacheEnabled, maxAge: -1, ttl: route.TTL}
	// SSE clients send "Cache-Control: no-cache" with every stream by
	// transport convention (EventSource, go-openai), not to refresh the
	// answer; streams that want a fresh answer send max-age=0.
	sse := strings.Contains(h.Get("Accept"), "text/event-stream")
	for _, v := range h.Values("Cache-Control") {
		for _, d := range strings.Split(v, ",") {
			name, arg, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(name) {
			case "no-cache":
				if !sse {
					p.lookup = false
				}
			case "no-store":
				p.lookup, p.store = false, false
			case "only-if-cached":
				p.onlyIfCached = true
			case "max-age":
				n, err := strconv.ParseInt(strings.Trim(arg, `"`), 10, 64)
				if err != nil || n < 0 {
					return p, apiError(http.StatusBadRequest, "invalid_request_error", "invalid_header", "Cache-Control",
						"Cache-Control max-age must be a non-negative integer number of seconds.")
				}
				p.maxAge = time.Duration(min(n, int64(maxTTL/time.Second)+1)) * time.Second
			}
		}
	}
	if v := h.Get("X-Ditto-Cache-TTL"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return p, apiError(http.StatusBadRequest, "invalid_request_error", "invalid_header", "X-Ditto-Cache-TTL",
				"X-Ditto-Cache-TTL must be a positive integer number of seconds.")
		}
		p.ttl = min(time.Duration(min(n, int64(maxTTL/time.Second)))*time.Second, maxTTL)
	}
	if v := h.Get("X-Ditto-Namespace"); v != "" {
		if !configs.ValidName(v) {
			return p, apiError(http.StatusBadRequest, "invalid_request_error", "invalid_header", "X-Ditto-Namespace",
				"X-Ditto-Namespace must be 1-64 characters of letters, digits, '.', '_' or '-'.")
		}
		p.namespace = v
	}
	if !route.CacheEnabled {
		p.lookup, p.store = false, false
	}
	return p, nil
}

// digestHex is for logs and explain output.
func digestHex(d [32]byte) string { return hex.EncodeToString(d[:]) }
