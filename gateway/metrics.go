package gateway

import (
	"github.com/dittocache/ditto/internal/telemetry"
	"github.com/dittocache/ditto/providers/router"
)

// newMetrics builds the gateway's telemetry (internal/telemetry), reading
// the store's and the routes' breakers and answering errors' statuses.
func newMetrics(s *Server, deps Deps) (*telemetry.Metrics, error) {
	return telemetry.NewMetrics(telemetry.Options{
		Config: s.cfg, TracerProvider: deps.TracerProvider, Log: s.log, Now: s.now,
		StoreBreaker:  func() string { return s.store.Status().Breaker },
		RouteBreakers: func() []router.RouteState { return s.breakers.States() },
		ErrorStatus: func(err error) int {
			if ae := toAPIError(err); ae != nil {
				return ae.Status
			}
			return 0
		},
	})
}
