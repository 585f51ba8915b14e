package gateway

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/dittocache/ditto/internal/auth"
)

// authError renders a refused credential as OpenAI's 401.
func authError(err error) error {
	if err == nil {
		return nil
	}
	var ae *auth.Error
	if errors.As(err, &ae) {
		return apiError(http.StatusUnauthorized, "invalid_request_error", "invalid_api_key", "", ae.Message)
	}
	return err
}

// authMiddleware authenticates API requests and records the tenant. Health,
// metrics and the dashboard are not behind it.
func (s *Server) authMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, err := s.auth.Authenticate(c.Request(), s.cfg.Cache.Namespace)
		if err != nil {
			return authError(err)
		}
		st := stateOf(c)
		st.tenant, st.admin = p.Tenant, p.Admin
		if s.auth.PassThrough && (p.ClientKey != "" || p.PassOnly) {
			kept := p // only this copy escapes to the heap
			st.principal = &kept
		}
		return next(c)
	}
}

// routeIdentity returns the tenant a route serves this request under and
// the client's provider key to send upstream ("" for the provider's own),
// once the route is resolved; pass is the route's pass-through setting.
// See auth.Principal.ForRoute. Every handler must call it before using the
// tenant when pass-through is configured: a pass-only caller is refused
// here, not by authMiddleware.
func (s *Server) routeIdentity(c echo.Context, pass bool) (tenant, clientKey string, err error) {
	st := stateOf(c)
	p := auth.Principal{Tenant: st.tenant, Admin: st.admin}
	if st.principal != nil {
		p = *st.principal
	}
	tenant, clientKey, err = p.ForRoute(pass)
	return tenant, clientKey, authError(err)
}

// requireAdmin guards admin endpoints.
func (s *Server) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if stateOf(c).admin {
			return next(c)
		}
		if !s.auth.AdminEnabled() {
			return apiError(http.StatusForbidden, "permission_error", "admin_disabled", "",
				"Admin endpoints are disabled: set the admin key in the environment variable named by auth.admin_key_env (DITTO_ADMIN_KEY by default).")
		}
		return apiError(http.StatusForbidden, "permission_error", "admin_required", "", "This endpoint requires the admin key.")
	}
}

// memoTenant is the tenant the request memo must key by before the route
// is known: st.tenant, and with a kept client key also that key's
// tenant, since the memo's entries hold keys made for one caller's scope
// and two pass-through callers share st.tenant.
func (s *Server) memoTenant(c echo.Context) string {
	st := stateOf(c)
	if p := st.principal; p != nil && p.ClientKey != "" {
		return st.tenant + "+" + auth.PassThroughTenant(p.ClientKey)
	}
	return st.tenant
}
