package gateway

import (
	"net/http"

	"github.com/cespare/xxhash/v2"
	"github.com/labstack/echo/v4"

	"github.com/dittocache/ditto/cache"
	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers/router"
)

// Explain computes the canonical form and cache key of an OpenAI chat
// request body under cfg's routing, for the tenant namespace, without
// calling any provider (`ditto key`).
func Explain(cfg *configs.Config, namespace string, body []byte) (*cache.Explanation, error) {
	req, err := normalize.DecodeOpenAI(body)
	if err != nil {
		return nil, err
	}
	route, err := router.New(cfg, router.Options{}).Resolve(req.Model)
	if err != nil {
		return nil, err
	}
	sc := cache.Scope{Tenant: namespace, Shared: route.SharedNamespace, Match: route.Match}
	return cache.Explain(xxhash.Sum64, req, sc, route.Key(), route.CacheEnabled), nil
}

// explainHandler serves POST /v1/cache/explain: the canonical form and key
// of a request body under the caller's namespace, without calling upstream.
// ?dialect= names the client API the body is written in (chat by default).
func (s *Server) explainHandler(c echo.Context) error {
	d, ok := dialectNamed(c.QueryParam("dialect"))
	if !ok {
		return apiError(http.StatusBadRequest, "invalid_request_error", "invalid_dialect", "dialect",
			"dialect must be one of chat, responses, messages or completions.")
	}
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	x, err := s.prepare(c, d, body)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cache.Explain(s.hasher, x.req, s.scope(c, x.tenant, x.route), x.route.Key(), x.route.CacheEnabled))
}

// dialectNamed maps explain's ?dialect= to a dialect.
func dialectNamed(name string) (dialect, bool) {
	switch name {
	case "", "chat":
		return chat{}, true
	case "responses":
		return responsesAPI{}, true
	case "messages":
		return messagesAPI{}, true
	case "completions":
		return completionsAPI{}, true
	}
	return nil, false
}
