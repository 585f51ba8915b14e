package gateway

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/internal/auth"
	"github.com/dittocache/ditto/internal/limits"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/router"
)

// generations are the configurations a Server has served: the current
// one answers new requests; replaced ones finish what they started.
type generations struct {
	mu      sync.Mutex // serializes Reload and Close
	cur     atomic.Pointer[Server]
	retired []*auth.Authenticator // replaced generations' (JWKS refreshers)
	closers []io.Closer           // limiter Redis pools opened by Reload
	timers  []*time.Timer         // closing a retired authenticator after the drain
}

// handler serves each request with the current generation's routes.
func (g *generations) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.cur.Load().echo.ServeHTTP(w, r)
}

// Reload switches the gateway to cfg's routes, providers (provs, built
// from cfg), keys and JWT settings, limits, budgets and prices without
// dropping a request: requests already running finish with the
// configuration they started with, new ones get cfg's. The store, the
// cache entries, the statistics and the limiter's counters (buckets,
// spend) and the provider breakers (unless cfg changes their settings)
// are kept. The server, cache, log and stats sections need a
// restart: Reload keeps their running values and reports in changed
// which of them cfg would change. An invalid cfg changes nothing and is
// the error.
func (s *Server) Reload(cfg *configs.Config, provs map[string]providers.Provider) (changed []string, err error) {
	if len(provs) == 0 {
		return nil, errors.New("gateway: reload: no providers")
	}
	g := s.gens
	g.mu.Lock()
	defer g.mu.Unlock()
	old := g.cur.Load()
	next := *cfg
	for _, sec := range []struct {
		name     string
		cur, new any
	}{
		{"server", &old.cfg.Server, &next.Server}, {"cache", &old.cfg.Cache, &next.Cache},
		{"log", &old.cfg.Log, &next.Log}, {"stats", &old.cfg.Stats, &next.Stats},
	} {
		if !reflect.DeepEqual(sec.cur, sec.new) {
			changed = append(changed, sec.name)
		}
	}
	next.Server, next.Cache, next.Log, next.Stats = old.cfg.Server, old.cfg.Cache, old.cfg.Log, old.cfg.Stats
	if err := next.Validate(); err != nil {
		return changed, fmt.Errorf("gateway: reload: %w", err)
	}
	authn, err := auth.New(next.Auth)
	if err != nil {
		return changed, fmt.Errorf("gateway: reload: %w", err)
	}
	authn.PassThrough = next.PassThroughConfigured()
	lim := old.limits.Reconfigured(next.Limits, next.Budgets, limits.ConfigPrices(next.Prices()))
	if lim.Enabled() && old.limitsRedis == nil && next.Cache.Redis.URL != "" {
		// Limits were off at start, so there is no Redis backend yet.
		l, c, err := openLimiter(&next)
		if err != nil {
			authn.Close()
			return changed, fmt.Errorf("gateway: reload: %w", err)
		}
		lim = l
		g.closers = append(g.closers, c)
	}
	n := new(Server)
	*n = *old
	n.cfg, n.auth, n.limits = &next, authn, lim
	n.memo = newRequestMemo() // its entries hold routes and keys of the old routes
	if next.Upstream.BreakerFailures != old.cfg.Upstream.BreakerFailures || next.Upstream.BreakerCooldown != old.cfg.Upstream.BreakerCooldown {
		n.breakers = newBreakers(&next, n.log) // new settings start closed
	}
	n.router = router.New(&next, router.Options{Providers: provs, Logger: n.log, Observer: n.metrics.RouterObserver(), Breakers: n.breakers})
	n.echo = n.newEcho()
	n.metrics.Configure(&next, n.router)
	g.cur.Store(n)
	old.limits.Retire(lim) // a syncer lim does not share sends what it took now, not at its next tick
	// The old generation's requests authenticated when they started; its
	// JWKS refresher stops once they have had the drain time to finish.
	g.retired = append(g.retired, old.auth)
	g.timers = append(g.timers, time.AfterFunc(old.cfg.Server.ShutdownTimeout, old.auth.Close))
	return changed, nil
}

// closeGenerations releases what Reload opened (Close calls it).
func (g *generations) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, t := range g.timers {
		t.Stop()
	}
	for _, a := range g.retired {
		a.Close()
	}
	for _, c := range g.closers {
		_ = c.Close()
	}
	g.timers, g.retired, g.closers = nil, nil, nil
}
