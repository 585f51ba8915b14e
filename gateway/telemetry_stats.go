package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dittocache/ditto/cache/stats"
	"github.com/dittocache/ditto/internal/dashboard"
	"github.com/dittocache/ditto/internal/limits"
)

// metricsHandler serves GET /metrics from the gateway's own registry.
func (s *Server) metricsHandler(c echo.Context) error {
	s.metrics.Handler.ServeHTTP(c.Response(), c.Request())
	return nil
}

// storeHealth is the store part of /v1/cache/stats.
type storeHealth struct {
	Kind    string `json:"kind"`              // memory or redis
	Status  string `json:"status"`            // ok or unreachable
	Breaker string `json:"breaker,omitempty"` // closed, half-open or open
}

// statsHealth describes the statistics backend.
type statsHealth struct {
	Backend     string `json:"backend"` // memory (this gateway) or redis (the cluster)
	Dropped     int64  `json:"dropped"`
	FlushErrors int64  `json:"flush_errors"`
	LastError   string `json:"last_error,omitempty"`
}

// statsResponse is the body of GET /v1/cache/stats.
type statsResponse struct {
	*stats.Report
	Spend       *limits.Spend `json:"spend,omitempty"` // ?tenant=: spend and remaining budget
	Store       storeHealth   `json:"store"`
	Stats       statsHealth   `json:"stats"`
	GeneratedAt time.Time     `json:"generated_at"`
}

// cacheStats serves GET /v1/cache/stats?window=1h|24h|7d&model=NAME.
func (s *Server) cacheStats(c echo.Context) error {
	w, err := stats.ParseWindow(c.QueryParam("window"))
	if err != nil {
		return apiError(http.StatusBadRequest, "invalid_request_error", "invalid_window", "window",
			"window must be one of 1h, 24h or 7d.")
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	rep, err := s.metrics.Stats.Query(ctx, w, c.QueryParam("model"))
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return apiError(http.StatusServiceUnavailable, "server_error", "stats_unavailable", "",
			"Statistics are unavailable: their store did not answer.")
	}
	body := statsResponse{Report: rep, Store: s.storeHealth(ctx), Stats: statsHealth{
		Backend: s.metrics.Stats.Kind(), Dropped: s.metrics.Stats.Dropped(),
		FlushErrors: s.metrics.Stats.FlushErrors(), LastError: s.metrics.Stats.LastError(),
	}, GeneratedAt: s.now().UTC()}
	if t := c.QueryParam("tenant"); t != "" {
		// A tenant's spend is its own business: only its own credential
		// or an admin one reads it (the rest of the page is open).
		p, err := s.auth.Authenticate(c.Request(), s.cfg.Cache.Namespace)
		if err != nil {
			return authError(err)
		}
		if !p.Admin && p.Tenant != t {
			return apiError(http.StatusForbidden, "permission_error", "tenant_forbidden", "tenant",
				"Only that tenant's own key or the admin key can read a tenant's spend.")
		}
		sp, err := s.limits.Spend(ctx, t)
		if err != nil {
			return apiError(http.StatusServiceUnavailable, "server_error", "stats_unavailable", "tenant",
				"The tenant's spend is unavailable: its store did not answer.")
		}
		body.Spend = &sp
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSONBlob(http.StatusOK, b)
}

func (s *Server) storeHealth(ctx context.Context) storeHealth {
	st := s.store.Status()
	h := storeHealth{Kind: st.Kind, Status: "ok", Breaker: st.Breaker}
	pctx, cancel := context.WithTimeout(ctx, s.cfg.Cache.OperationTimeout*2)
	if s.store.Ping(pctx) != nil {
		h.Status = "unreachable"
	}
	cancel()
	return h
}

// dashboardHandler serves GET /dashboard and its embedded assets.
var dashboardHandler = echo.WrapHandler(dashboard.Handler())
