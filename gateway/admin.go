package gateway

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dittocache/ditto/cache"
	"github.com/dittocache/ditto/cachekey"
	"github.com/dittocache/ditto/configs"
)

// purge serves DELETE /v1/cache (admin only). Exactly one selector:
//
//	?key=ditto:v1:...        one entry, by the X-Ditto-Cache-Key a response carried
//	?model=NAME[&namespace=NS] every entry of the route NAME resolves to, in namespace NS
//	                         (default: the default tenant namespace)
//	?namespace=NS            every entry of a namespace (a tenant, tenant/sub, or @shared/NAME)
//	                         and of every namespace under it: a tenant's sub-namespaces and
//	                         loose-matching routes go with it
//	?all=true                every Ditto entry in the store
//	?tag=T[&namespace=NS]    every entry stored with X-Ditto-Tags naming T in
//	                         the caller's tenant; open to non-admin callers (purgeTag)
//
// It answers {"deleted": N}.
func (s *Server) purge(c echo.Context) error {
	q := c.QueryParams()
	if q.Has("tag") {
		return s.purgeTag(c)
	}
	ns := q.Get("namespace")
	if ns != "" && !validPurgeNamespace(ns) {
		return apiError(http.StatusBadRequest, "invalid_request_error", "invalid_namespace", "namespace", "Invalid namespace.")
	}
	var prefixes []string
	switch {
	case q.Get("key") != "":
		k := q.Get("key")
		if !strings.HasPrefix(k, cachekey.Prefix("", "")[:len("ditto:v")]) || strings.ContainsAny(k, "*?[]\\") {
			return apiError(http.StatusBadRequest, "invalid_request_error", "invalid_key", "key", "key must be a Ditto cache key (ditto:v...).")
		}
		prefixes = []string{k}
	case q.Get("model") != "":
		route, err := s.router.Resolve(q.Get("model"))
		if err != nil {
			return err
		}
		if ns == "" {
			ns = s.cfg.Cache.Namespace
			if route.SharedNamespace != "" {
				ns = cache.SharedPrefix + route.SharedNamespace
			}
		}
		prefixes = []string{cache.RoutePrefix(ns, route.Match, route.Key())}
	case ns != "":
		prefixes = cache.NamespacePrefixes(ns)
	case q.Get("all") == "true":
		prefixes = []string{"ditto:"}
	default:
		return apiError(http.StatusBadRequest, "invalid_request_error", "missing_selector", "",
			"Say what to purge: ?key=, ?model=, ?namespace= or ?all=true.")
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), purgeTimeout)
	defer cancel()
	n, err := s.engine.Purge(ctx, prefixes...)
	if err != nil {
		s.log.Warn("purge failed", "deleted", n, "err", err)
		return apiError(http.StatusServiceUnavailable, "server_error", "store_unavailable", "", "The cache store could not complete the purge.")
	}
	s.log.Info("cache purged", "selector", purgeSelector(q), "deleted", n)
	return c.JSON(http.StatusOK, map[string]int{"deleted": n})
}

// purgeSelector names what a purge selected, for the log: never a tenant's
// name (a key or namespace names one).
func purgeSelector(q url.Values) string {
	switch {
	case q.Has("key"):
		return "key"
	case q.Has("model"):
		return "model"
	case q.Has("namespace"):
		return "namespace"
	}
	return "all"
}

// validPurgeNamespace accepts the namespace shapes the gateway creates.
func validPurgeNamespace(ns string) bool {
	if rest, ok := strings.CutPrefix(ns, cache.SharedPrefix); ok {
		return configs.ValidName(rest)
	}
	tenant, sub, hasSub := strings.Cut(ns, "/")
	return configs.ValidName(tenant) && (!hasSub || configs.ValidName(sub))
}
