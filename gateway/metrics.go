package gateway

import (
	"github.com/dittocache/ditto/internal/limits"
	"github.com/dittocache/ditto/internal/telemetry"
	"github.com/dittocache/ditto/providers/router"
)

// current is the configuration generation serving new requests (s itself
// until the first reload, and while New is still building s).
func (s *Server) current() *Server {
	if s.gens != nil {
		if c := s.gens.cur.Load(); c != nil {
			return c
		}
	}
	return s
}

// newMetrics builds the gateway's telemetry (internal/telemetry), reading
// the store's and the routes' breakers and answering errors' statuses.
func newMetrics(s *Server, deps Deps) (*telemetry.Metrics, error) {
	return telemetry.NewMetrics(telemetry.Options{
		Config: s.cfg, TracerProvider: deps.TracerProvider, Log: s.log, Now: s.now,
		StoreBreaker: func() string { return s.store.Status().Breaker },
		// The current generation's: a reload may replace both.
		RouteBreakers: func() []router.RouteState { return s.current().breakers.States() },
		Limits: func() (limits.Stats, bool) {
			l := s.current().limits
			if l == nil {
				return limits.Stats{}, false
			}
			return l.Stats(), l.Enabled()
		},
		ErrorStatus: func(err error) int {
			if ae := toAPIError(err); ae != nil {
				return ae.Status
			}
			return 0
		},
	})
}
