package gateway

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/maypok86/otter/v2"

	"github.com/dittocache/ditto/cache"
	"github.com/dittocache/ditto/cachekey"
	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/responses"
)

// responsesAPI is OpenAI's Responses API (POST /v1/responses), translated
// to the canonical form chat completions share, so one cache serves both.
// Ditto keeps its own record of every answer (in the store, per tenant),
// so previous_response_id works with any provider.
type responsesAPI struct{}

// responsesView is what rendering needs of a Responses request.
type responsesView struct {
	echo  *responses.Echo // read-only: shared by the request memo
	store bool            // the client's store member: record the answer
	scope string          // the tenant namespace records live in
}

func (responsesAPI) name() string      { return responses.Dialect }
func (responsesAPI) operation() string { return "chat" }

func (responsesAPI) decode(s *Server, c echo.Context, body []byte) (*normalize.Request, any, error) {
	p, err := responses.Parse(body)
	if err != nil {
		return nil, nil, err
	}
	ns := s.tenantScope(c).Namespace()
	records, err := s.responseRecords(c.Request().Context(), ns, p.Needs())
	if err != nil {
		return nil, nil, err
	}
	req, err := p.Decode(records)
	if err != nil {
		return nil, nil, err
	}
	return req, &responsesView{echo: p.Echo, store: p.Store, scope: ns}, nil
}

// responseRecords fetches the records a request refers to; a store that
// cannot answer is a 503 (the client's follow-up is not wrong), a record
// that is not there is left out (Decode answers 400 for it).
func (s *Server) responseRecords(ctx context.Context, ns string, ids []string) (map[string]*responses.Record, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]cachekey.Key, len(ids))
	for i, id := range ids {
		keys[i] = cache.RecordKey(ns, responses.Dialect, id)
	}
	bodies, err := s.engine.Records(ctx, keys)
	if err != nil {
		return nil, apiError(http.StatusServiceUnavailable, "server_error", "store_unavailable", "previous_response_id",
			"The stored conversation could not be read: the cache store is unavailable.")
	}
	out := make(map[string]*responses.Record, len(ids))
	for i, b := range bodies {
		if b == nil {
			continue
		}
		if r, err := responses.ParseRecord(b); err == nil {
			out[ids[i]] = r
		}
	}
	return out, nil
}

// echoFor is the request's echo with the ids seeded by the entry's
// verification digest, so two requests whose upstream answers share an id
// never share response ids (or records).
func echoFor(x *exchange) *responses.Echo {
	e := *x.view.(*responsesView).echo
	e.IDSeed = x.key.Digest[:]
	return &e
}

func (responsesAPI) render(ctx context.Context, dst []byte, a *cache.Answer, x *exchange) ([]byte, error) {
	resp, err := a.Response()
	if err != nil {
		return nil, err
	}
	x.d.answered(ctx, x, resp)
	return responses.AppendResponse(dst, resp, echoFor(x)), nil
}

func (responsesAPI) stream(x *exchange) streamRenderer {
	return responsesStream{responses.NewStream(echoFor(x))}
}

// answered records the answer under its response id before the client
// sees it, so a follow-up sent as soon as it arrives finds it. The record
// is a pure function of the entry: a replica that wrote it recently does
// not write it again.
func (responsesAPI) answered(ctx context.Context, x *exchange, resp *normalize.Response) {
	v := x.view.(*responsesView)
	if !v.store {
		return
	}
	echo := echoFor(x)
	id := responses.ResponseID(resp, echo)
	k := cache.RecordKey(v.scope, responses.Dialect, id)
	s := x.srv
	if _, ok := s.recorded.GetIfPresent(k.Digest); ok {
		return
	}
	if err := s.engine.PutRecord(context.WithoutCancel(ctx), k, responses.NewRecord(x.req, resp, echo), s.cfg.Cache.RecordTTL); err == nil {
		s.recorded.Set(k.Digest, struct{}{})
	}
}

func (responsesAPI) errorBody(e *APIError) []byte { return errorBody(e) }

func (responsesAPI) portable(req *normalize.Request) (*normalize.Request, error) {
	return responses.Portable(req)
}

func (s *Server) responsesHandler(c echo.Context) error { return s.handle(c, responsesAPI{}) }

// responsesStream adapts the Responses stream renderer.
type responsesStream struct{ s *responses.Stream }

func (r responsesStream) Chunk(dst []byte, c *normalize.Chunk) []byte { return r.s.Chunk(dst, c) }
func (r responsesStream) End(dst []byte, resp *normalize.Response) []byte {
	return r.s.End(dst, resp)
}
func (r responsesStream) Fail(dst []byte, e *APIError) []byte {
	return r.s.Fail(dst, e.Status, e.Type, e.Code, e.Message)
}

// newRecorded remembers, for a while, the records this process wrote, so
// repeated hits do not rewrite them. Shorter-lived than the records
// themselves: a purge or an eviction is repaired by the next answer after
// it expires here.
func newRecorded() *otter.Cache[[32]byte, struct{}] {
	return otter.Must(&otter.Options[[32]byte, struct{}]{
		MaximumSize:      100_000,
		ExpiryCalculator: otter.ExpiryWriting[[32]byte, struct{}](10 * time.Minute),
	})
}
