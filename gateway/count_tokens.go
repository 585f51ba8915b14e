package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dittocache/ditto/cache"
	"github.com/dittocache/ditto/cachekey"
	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/router"
)

// tokenCounter is a provider with a token counting endpoint (Anthropic's
// POST /v1/messages/count_tokens); body is a count request in that
// provider's format.
type tokenCounter interface {
	CountTokens(ctx context.Context, body []byte, betas []string) (int, error)
}

// countTokens serves POST /v1/messages/count_tokens, which Claude Code
// calls every turn (and dozens of times at start) to manage its context
// window: for a model routed to Anthropic, the request goes to Anthropic
// with the route's upstream model and the client's betas, and the count,
// a pure function of model, betas and body, is cached like an answer
// (same tenant scope, TTL and Cache-Control). Other providers have no such
// endpoint: the answer is a 404 in Anthropic's shape, on which Claude Code
// estimates locally (a made-up count would be trusted and stop its
// automatic compaction).
func (s *Server) countTokens(c echo.Context) error {
	stateOf(c).dialect = messagesAPI{}
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil || req == nil {
		return &normalize.Error{Message: "We could not parse the JSON body of your request: it must be a JSON object."}
	}
	var model string
	if err := json.Unmarshal(req["model"], &model); err != nil || model == "" {
		return &normalize.Error{Param: "model", Message: "Field required"}
	}
	if m := req["messages"]; len(m) == 0 || m[0] != '[' {
		return &normalize.Error{Param: "messages", Message: "Field required"}
	}
	if err := validModelName(model); err != nil {
		return err
	}
	stateOf(c).model = model
	betas, err := requestBetas(c.Request().Header)
	if err != nil {
		return err
	}
	route, err := s.router.Resolve(model)
	if err != nil {
		return err
	}
	if err := s.router.Serves(route); err != nil {
		return err
	}
	tenant, clientKey, err := s.routeIdentity(c, route.PassThrough)
	if err != nil {
		return err
	}
	p, _ := s.router.Provider(route.Provider)
	tc, ok := p.(tokenCounter)
	if !ok {
		return apiError(http.StatusNotFound, "invalid_request_error", "not_found", "model",
			"Token counting is offered for models routed to Anthropic only; "+model+" is served by "+route.Provider+".")
	}
	pol, err := parsePolicy(c.Request().Header, route, s.cfg.Cache.MaxTTL)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	key := cache.RecordKey(s.scope(c, tenant, route).Namespace(), "count_tokens",
		route.Key()+"\x00"+strings.Join(betas, ",")+"\x00"+string(body))
	if pol.Lookup {
		if recs, err := s.engine.Records(ctx, []cachekey.Key{key}); err == nil && recs[0] != nil {
			return writeCount(c, recs[0], "HIT")
		}
	}
	if pol.OnlyIfCached {
		return apiError(http.StatusGatewayTimeout, "server_error", "not_cached", "", "The token count is not in the cache (Cache-Control: only-if-cached).")
	}
	upModel := route.UpstreamModel
	if upModel == "" {
		upModel = model
	}
	req["model"], _ = json.Marshal(upModel)
	up, _ := json.Marshal(req) // RawMessages that parsed, and a string: always marshals
	if clientKey != "" {
		ctx = providers.WithClientKey(ctx, clientKey)
	}
	n, err := tc.CountTokens(ctx, up, betas)
	if err != nil {
		if _, ok := providers.AsError(err); !ok {
			err = fmt.Errorf("%w: %w", router.ErrUpstream, err)
		}
		return err
	}
	out := strconv.AppendInt([]byte(`{"input_tokens":`), int64(n), 10)
	out = append(out, '}')
	if pol.Store {
		_ = s.engine.PutRecord(context.WithoutCancel(ctx), key, out, pol.TTL) // a store failure never fails a request
	}
	return writeCount(c, out, "MISS")
}

func writeCount(c echo.Context, body []byte, status string) error {
	c.Response().Header()["X-Ditto-Cache"] = []string{status}
	return writeJSON(c, body)
}
