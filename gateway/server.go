// Package gateway is Ditto's HTTP edge: the echo server, its routes and
// middleware (auth, tracing, the request log), one handler per client
// dialect (decode → cache engine → render), SSE, error shapes, and the
// dashboard and statistics endpoints.
//
// It holds no cache logic (package cache does) and knows no provider's wire
// format (package providers does): it speaks each client's dialect to
// clients and canonical requests (package normalize) to the engine.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/labstack/echo/v4"
	"github.com/maypok86/otter/v2"
	"go.opentelemetry.io/otel/trace"

	"github.com/dittocache/ditto/cache"
	"github.com/dittocache/ditto/cache/store"
	"github.com/dittocache/ditto/cachekey"
	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/internal/auth"
	"github.com/dittocache/ditto/internal/limits"
	"github.com/dittocache/ditto/internal/redisbatch"
	"github.com/dittocache/ditto/internal/telemetry"
	"github.com/dittocache/ditto/normalize/embeddings"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/router"
)

// Deps are the gateway's collaborators, built by the caller from the same
// configuration.
type Deps struct {
	// Providers maps provider names (configs.Config.Providers keys) to
	// adapters. Required.
	Providers map[string]providers.Provider
	// Store holds cached answers. Nil: a store built from cfg.Cache
	// (Redis when cfg.Cache.Redis.URL is set, else in-memory), which
	// Server.Close closes.
	Store cache.Store
	// Logger receives one line per request and operational events.
	// Nil: slog.Default().
	Logger *slog.Logger
	// Now is the clock. Nil: time.Now.
	Now func() time.Time
	// Hasher is the 64-bit key hash. Nil: xxhash64. Tests inject colliding
	// hashers to prove the verification digest prevents wrong answers.
	Hasher cachekey.Hasher
	// TracerProvider creates the gateway's spans. Nil: the global one
	// (see SetupTelemetry).
	TracerProvider trace.TracerProvider
}

// Server is a configured gateway. Create it with New; it is safe for
// concurrent use.
type Server struct {
	cfg         *configs.Config
	echo        *echo.Echo
	router      *router.Router
	engine      *cache.Engine
	store       cache.Store // the engine's, undecorated
	ownStore    bool
	log         *slog.Logger
	now         func() time.Time
	hasher      cachekey.Hasher
	memo        *requestMemo
	recorded    *otter.Cache[[32]byte, struct{}] // Responses records written lately (responses.go)
	limits      *limits.Limiter
	limitsRedis io.Closer // the limiter's Redis pool, nil without one
	// propFields: see propagationFields.
	propFields []string
	metrics    *telemetry.Metrics
	auth       *auth.Authenticator
	breakers   *router.Breakers // the provider breakers, kept across Reload
	vectors    *embeddings.Renderer
	started    time.Time
	gens       *generations // shared by every configuration Reload made
}

// purgeTimeout bounds one DELETE /v1/cache; SCAN over a large Redis is slow.
const purgeTimeout = 60 * time.Second

// New builds a gateway from cfg. It connects to Redis when configured but
// never fails because Redis is down: the gateway then serves from providers
// and reports the store as degraded on /readyz.
func New(ctx context.Context, cfg *configs.Config, deps Deps) (*Server, error) {
	if len(deps.Providers) == 0 {
		return nil, errors.New("gateway: no providers")
	}
	s := &Server{
		cfg:      cfg,
		store:    deps.Store,
		log:      deps.Logger,
		now:      deps.Now,
		hasher:   deps.Hasher,
		memo:     newRequestMemo(),
		recorded: newRecorded(),
		vectors:  embeddings.NewRenderer(vectorTextBytes),
		started:  time.Now(),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.hasher == nil {
		s.hasher = xxhash.Sum64
	}
	authn, err := auth.New(cfg.Auth)
	if err != nil {
		return nil, err
	}
	authn.PassThrough = cfg.PassThroughConfigured()
	s.auth = authn
	if err := s.open(ctx, deps); err != nil {
		s.Close()
		return nil, err
	}
	s.breakers = newBreakers(cfg, s.log)
	s.router = router.New(cfg, router.Options{Providers: deps.Providers, Logger: s.log, Observer: s.metrics.RouterObserver(), Breakers: s.breakers})
	s.metrics.Configure(cfg, s.router)
	st := s.store
	if s.metrics.Tracing {
		st = telemetry.TracedStore{Store: st, Tracer: s.metrics.Tracer, Redis: st.Status().Kind == "redis"}
	}
	s.engine = cache.New(st, cache.Options{
		Coalesce:             cfg.Cache.Coalesce,
		FillWait:             cfg.Cache.FillLease,
		StaleIfError:         cfg.Cache.StaleIfError,
		StaleWhileRevalidate: cfg.Cache.StaleWhileRevalidate,
		ServeStale:           router.Fallbackable,
		Observer:             s.metrics.EngineObserver(),
		Now:                  s.now,
	})
	s.echo = s.newEcho()
	s.gens = &generations{}
	s.gens.cur.Store(s)
	return s, nil
}

// open builds the parts New may fail on after authentication: the store,
// telemetry and the limiter. Close releases what it built.
func (s *Server) open(ctx context.Context, deps Deps) error {
	if s.store == nil {
		st, err := openStore(ctx, s.cfg.Cache, s.log)
		if err != nil {
			return err
		}
		s.store, s.ownStore = st, true
	}
	m, err := newMetrics(s, deps)
	if err != nil {
		return err
	}
	s.metrics = m
	s.limits, s.limitsRedis, err = openLimiter(s.cfg)
	return err
}

// openLimiter builds the rate limiter and budgets, across replicas through
// a small fail-fast Redis pool of their own when Redis is configured.
func openLimiter(cfg *configs.Config) (*limits.Limiter, io.Closer, error) {
	o := limits.Options{Price: limits.ConfigPrices(cfg.Prices())}
	l := limits.New(cfg.Limits, cfg.Budgets, o)
	if !l.Enabled() || cfg.Cache.Redis.URL == "" {
		return l, nil, nil
	}
	r := cfg.Cache.Redis
	c, err := store.NewClient(store.RedisOptions{URL: r.URL.Value(), Cluster: r.Cluster, DialTimeout: r.DialTimeout,
		ReadTimeout: r.ReadTimeout, WriteTimeout: r.WriteTimeout, PoolSize: r.PoolSize, MinIdleConns: r.MinIdleConns})
	if err != nil {
		return nil, nil, fmt.Errorf("gateway: limits redis: %w", err)
	}
	o.Redis = c
	if !r.AutoPipeline {
		return limits.New(cfg.Limits, cfg.Budgets, o), c, nil
	}
	if o.Batch, err = redisbatch.New(c); err != nil {
		_ = c.Close()
		return nil, nil, fmt.Errorf("gateway: limits redis: %w", err)
	}
	return limits.New(cfg.Limits, cfg.Budgets, o), batchedClient{o.Batch, c}, nil
}

// batchedClient closes a limiter's Batcher, then its client.
type batchedClient struct {
	b *redisbatch.Batcher
	c io.Closer
}

func (bc batchedClient) Close() error {
	if bc.b != nil {
		_ = bc.b.Close()
	}
	return bc.c.Close()
}

func openStore(ctx context.Context, c configs.Cache, log *slog.Logger) (cache.Store, error) {
	if c.Redis.URL == "" {
		return store.NewMemory(c.MemoryMaxBytes), nil
	}
	store.SetRedisLogger(log)
	r, err := store.NewRedis(ctx, store.RedisOptions{
		URL:            c.Redis.URL.Value(),
		Cluster:        c.Redis.Cluster,
		DialTimeout:    c.Redis.DialTimeout,
		ReadTimeout:    c.Redis.ReadTimeout,
		WriteTimeout:   c.Redis.WriteTimeout,
		PoolSize:       c.Redis.PoolSize,
		MinIdleConns:   c.Redis.MinIdleConns,
		NoAutoPipeline: !c.Redis.AutoPipeline,
		// One budget per operation: a slower Redis is a miss.
		OperationTimeout: c.OperationTimeout,
		EntryKey:         c.Redis.EntryKey.Bytes(),
	})
	if err != nil {
		return nil, fmt.Errorf("gateway: redis: %w", err)
	}
	// The Breaker wraps the two-tier store, not Redis alone: Tiered calls
	// Redis directly (pipelined PTTL, pub/sub), so only outside it does
	// the Breaker see every Redis call; and with Redis down the
	// subscription is down too, so L1 is not served anyway.
	var inner store.Backend = r
	if c.L1Bytes > 0 {
		t, err := store.NewTiered(r, store.TieredOptions{MaxBytes: c.L1Bytes})
		if err != nil {
			_ = r.Close()
			return nil, fmt.Errorf("gateway: l1: %w", err)
		}
		inner = t
	}
	b := store.NewBreaker(inner, store.BreakerOptions{
		Name:     "redis",
		Failures: uint32(c.Redis.BreakerFailures),
		CoolDown: c.Redis.BreakerCooldown,
		OnStateChange: func(name, from, to string) {
			log.Warn("cache store breaker", "store", name, "from", from, "to", to)
		},
	})
	return b, nil
}

// Handler returns the gateway's HTTP handler: each request is served by
// the configuration current when it arrives (see Reload).
func (s *Server) Handler() http.Handler { return s.gens }

// Close releases resources the gateway opened (the store it built, the
// limiter's Redis pool, the JWKS refresher). Safe on a partly built Server.
func (s *Server) Close() error {
	if s.metrics != nil {
		_ = s.metrics.Close(context.Background()) // flushes statistics
	}
	// What limits.sync_interval has kept back is sent (Close is nil-safe).
	s.limits.Close()
	s.current().limits.Close()
	s.recorded.StopAllGoroutines()
	s.auth.Close()
	if s.gens != nil {
		s.gens.cur.Load().auth.Close()
		s.gens.close()
	}
	if s.limitsRedis != nil {
		_ = s.limitsRedis.Close()
	}
	if s.ownStore && s.store != nil {
		return s.store.Close()
	}
	return nil
}

// HTTPServer returns an *http.Server for addr with the configured timeouts.
// Streams extend their own write deadline, so WriteTimeout may stay 0.
func (s *Server) HTTPServer(addr string) *http.Server {
	c := s.cfg.Server
	return &http.Server{
		Addr:              addr,
		Handler:           s.Handler(),
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.ReadTimeout,
		WriteTimeout:      c.WriteTimeout,
		IdleTimeout:       c.IdleTimeout,
		// Headers up to 1 MiB (or twice the limit) reach limitHeaders,
		// which answers 431 as OpenAI JSON; net/http cuts anything larger
		// itself, with a plain-text 431.
		MaxHeaderBytes: max(2*c.MaxHeaderBytes, 1<<20),
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// Serve serves on ln until ctx is cancelled, then shuts down gracefully,
// letting in-flight requests (streams included) finish within the
// configured shutdown timeout.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := s.HTTPServer(ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.Server.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-errc
	if errors.Is(err, context.DeadlineExceeded) {
		// Requests still running after the grace period (long streams)
		// are cut, as documented: a deadline is how a graceful shutdown
		// ends, not a failure of the process. Nothing partial is stored
		// (an aborted stream never is).
		s.log.Warn("shutdown: requests still running after server.shutdown_timeout were cut",
			"shutdown_timeout", s.cfg.Server.ShutdownTimeout.String())
		return hs.Close()
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func (s *Server) newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.errorHandler
	s.propFields = propagationFields()
	e.Use(s.front)
	// Per-route middleware, not a Group: an echo Group with middleware
	// claims every unmatched path, turning 405s into 404s.
	authed := s.authMiddleware
	e.POST("/v1/chat/completions", s.chatCompletions, authed)
	e.POST("/chat/completions", s.chatCompletions, authed) // base URLs without /v1
	e.POST("/v1/responses", s.responsesHandler, authed)
	e.POST("/v1/embeddings", s.embeddingsHandler, authed)
	e.POST("/v1/messages", s.messagesHandler, authed)
	e.POST("/v1/messages/count_tokens", s.countTokens, authed) // Claude Code calls it every turn
	e.POST("/v1/completions", s.completionsHandler, authed)
	e.POST("/completions", s.completionsHandler, authed)
	e.POST("/embeddings", s.embeddingsHandler, authed)
	e.POST("/responses", s.responsesHandler, authed)
	e.GET("/v1/models", s.listModels, authed)
	e.GET("/models", s.listModels, authed)
	e.GET("/v1/models/*", s.getModel, authed) // ids may contain '/' (provider/model)
	e.POST("/v1/cache/explain", s.explainHandler, authed)
	e.DELETE("/v1/cache", s.purge, authed, s.adminUnlessTag)
	e.GET("/healthz", s.healthz)
	e.HEAD("/healthz", s.healthz) // load balancers and uptime checks that probe with HEAD
	e.GET("/readyz", s.readyz)
	e.HEAD("/readyz", s.readyz)
	e.GET("/metrics", s.metricsHandler)
	e.GET("/v1/cache/stats", s.cacheStats)
	e.GET("/dashboard", dashboardHandler)
	e.GET("/dashboard/*", dashboardHandler)
	return e
}

// front is the global middleware: tracing and metrics (traceRequest),
// panic recovery (recoverRequest), the request log (logRequest) and the
// header limit (limitHeaders), outermost first. It is one function calling
// the next layer directly because echo composes global middleware on every
// request: one closure instead of four.
func (s *Server) front(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error { return s.traceRequest(c, next) }
}

// recoverRequest turns a panic into a 500 OpenAI error and a log line, so
// no input can take the process down.
func (s *Server) recoverRequest(c echo.Context, next echo.HandlerFunc) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			s.log.Error("panic serving request", "path", c.Path(), "panic", fmt.Sprint(r))
			err = apiError(http.StatusInternalServerError, "server_error", "internal_error", "", "Internal error.")
		}
	}()
	return s.logRequest(c, next)
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSONBlob(http.StatusOK, []byte(`{"status":"ok"}`))
}

// newBreakers builds the provider breakers of cfg.Upstream.
func newBreakers(cfg *configs.Config, log *slog.Logger) *router.Breakers {
	return router.NewBreakers(cfg.Upstream.BreakerFailures, cfg.Upstream.BreakerCooldown, func(route, from, to string) {
		log.Warn("provider breaker", "route", route, "from", from, "to", to)
	})
}

// readyz reports ready while the gateway can serve: a store that is down,
// or a route whose provider breaker is open, makes it "degraded" (still
// 200: requests go to providers, fallbacks or stale entries), never unready.
func (s *Server) readyz(c echo.Context) error {
	h := s.storeHealth(c.Request().Context())
	open := s.breakers.States()
	status := "ready"
	if h.Status != "ok" || len(open) > 0 {
		status = "degraded"
	}
	if open == nil {
		open = []router.RouteState{}
	}
	r := readiness{Status: status, Store: h, Providers: open}
	if s.limits.Enabled() {
		st := s.limits.Stats()
		r.Limits = &limitsHealth{Backend: st.Backend, Mode: st.Mode}
		if st.Backend == "redis" {
			r.Limits.Breaker = st.Breaker
			if st.Breaker != "closed" {
				r.Status = "degraded" // decisions follow limits.fail_open
			}
		}
	}
	return c.JSON(http.StatusOK, r)
}

// readiness is GET /readyz's answer; Providers lists the routes whose
// breaker is not closed.
type readiness struct {
	Status    string              `json:"status"`
	Store     storeHealth         `json:"store"`
	Providers []router.RouteState `json:"providers"`
	Limits    *limitsHealth       `json:"limits,omitempty"` // when any limit or budget is configured
}

// limitsHealth describes the rate limiter: where its buckets live (redis or
// memory), its mode (exact, or sync with limits.sync_interval) and, with
// Redis, its breaker (closed, half-open or open).
type limitsHealth struct {
	Backend string `json:"backend"`
	Mode    string `json:"mode"`
	Breaker string `json:"breaker,omitempty"`
}
