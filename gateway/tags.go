package gateway

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dittocache/ditto/cache"
	"github.com/dittocache/ditto/internal/auth"
)

// Bounds of the X-Ditto-Tags request header.
const (
	maxTags   = 16
	maxTagLen = 64
)

// parseTags reads X-Ditto-Tags: comma-separated tags, each 1-64 printable
// ASCII characters other than ',' (spaces around commas are trimmed), at
// most 16 distinct ones. No header is no tags.
func parseTags(h http.Header) ([]string, error) {
	v := h.Get("X-Ditto-Tags")
	if v == "" {
		return nil, nil
	}
	var tags []string
	for p := range strings.SplitSeq(v, ",") {
		t := strings.TrimSpace(p)
		if !validTag(t) {
			return nil, apiError(http.StatusBadRequest, "invalid_request_error", "invalid_header", "X-Ditto-Tags",
				"X-Ditto-Tags must be comma-separated tags of 1-64 printable ASCII characters (no spaces or commas inside a tag).")
		}
		if slices.Contains(tags, t) {
			continue
		}
		if len(tags) == maxTags {
			return nil, apiError(http.StatusBadRequest, "invalid_request_error", "invalid_header", "X-Ditto-Tags",
				"X-Ditto-Tags holds at most 16 distinct tags.")
		}
		tags = append(tags, t)
	}
	return tags, nil
}

// validTag accepts 1-64 characters from '!' to '~' other than ','.
func validTag(t string) bool {
	if t == "" || len(t) > maxTagLen {
		return false
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] > '~' || t[i] == ',' {
			return false
		}
	}
	return true
}

// tagScope is the scope x's entry is tagged in: the route's shared
// namespace, or the tenant the route serves the caller under.
func tagScope(x *exchange) string {
	if x.route.SharedNamespace != "" {
		return cache.SharedPrefix + x.route.SharedNamespace
	}
	return x.tenant
}

// adminUnlessTag guards DELETE /v1/cache: a purge by tag (?tag=) is open
// to every authenticated caller, within its own tenant (purgeTag); every
// other selector needs the admin key.
func (s *Server) adminUnlessTag(next echo.HandlerFunc) echo.HandlerFunc {
	admin := s.requireAdmin(next)
	return func(c echo.Context) error {
		if c.QueryParams().Has("tag") {
			return next(c)
		}
		return admin(c)
	}
}

// purgeTag serves DELETE /v1/cache?tag=T: it deletes every entry stored
// with X-Ditto-Tags naming T in the caller's tenant (and, for a caller
// that sent its own provider key, in that key's pass-through tenant). An
// admin may name another scope with &namespace= (a tenant or
// @shared/NAME); anyone else naming one is refused.
func (s *Server) purgeTag(c echo.Context) error {
	q := c.QueryParams()
	tag := q.Get("tag")
	if !validTag(tag) {
		return apiError(http.StatusBadRequest, "invalid_request_error", "invalid_tag", "tag",
			"tag must be 1-64 printable ASCII characters without spaces or commas.")
	}
	st := stateOf(c)
	var scopes []string
	if ns := q.Get("namespace"); ns != "" {
		if !st.admin {
			return apiError(http.StatusForbidden, "permission_error", "admin_required", "namespace",
				"Only the admin key may purge another namespace's tags.")
		}
		if !validPurgeNamespace(ns) || (strings.Contains(ns, "/") && !strings.HasPrefix(ns, cache.SharedPrefix)) {
			return apiError(http.StatusBadRequest, "invalid_request_error", "invalid_namespace", "namespace",
				"Tags belong to a tenant or a shared namespace (@shared/NAME), not to a sub-namespace.")
		}
		scopes = []string{ns}
	} else {
		scopes = []string{s.tenantScope(c).Tenant}
		if p := st.principal; p != nil && p.ClientKey != "" {
			if pt := auth.PassThroughTenant(p.ClientKey); pt != scopes[0] {
				scopes = append(scopes, pt)
			}
		}
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), purgeTimeout)
	defer cancel()
	total := 0
	for _, scope := range scopes {
		n, err := s.engine.PurgeTag(ctx, scope, tag)
		total += n
		if err != nil {
			s.log.Warn("purge by tag failed", "deleted", total, "err", err)
			return apiError(http.StatusServiceUnavailable, "server_error", "store_unavailable", "", "The cache store could not complete the purge.")
		}
	}
	s.log.Info("cache purged", "selector", "tag", "deleted", total)
	return c.JSON(http.StatusOK, map[string]int{"deleted": total})
}
