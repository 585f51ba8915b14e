package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/dittocache/ditto/cache/stats"
	"github.com/dittocache/ditto/cache/store"
	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/internal/telemetry"
	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers/router"
)

// statsRedisTimeout bounds the statistics flushes' Redis calls; they run in
// the background, so they can wait longer than cache lookups.
const statsRedisTimeout = 250 * time.Millisecond

// attrKey identifies one combination of bounded metric labels.
type attrKey struct {
	model, status, errType, tokenType, op string
	provider, respModel                   string // provider-call metrics
}

// metrics is the gateway's telemetry: OpenTelemetry instruments exported
// to a per-Server Prometheus registry (GET /metrics), the tracer, and the
// per-model statistics behind /v1/cache/stats and the dashboard. Safe for
// concurrent use.
type metrics struct {
	attrs   telemetry.AttrCache[attrKey]
	srv     *Server
	tracer  trace.Tracer
	tracing bool // tracer may record: false only for the no-op provider
	stats   *stats.Recorder
	conf    atomic.Pointer[metricsConf] // replaced by Server.Reload

	// The instruments, exported to the registry /metrics serves.
	*telemetry.Instruments
	requestsN     telemetry.Tally[attrKey]
	tokensSavedN  telemetry.Tally[attrKey]
	costSavedN    telemetry.Tally[attrKey] // nano-USD
	lastFlushWarn time.Time

	mu sync.Mutex // guards lastFlushWarn
}

func newMetrics(s *Server, deps Deps) (*metrics, error) {
	m := &metrics{srv: s}
	m.configure(s.cfg, nil)
	tp := deps.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	m.tracer = tp.Tracer(tracerName)
	_, noop := m.tracer.(tracenoop.Tracer)
	m.tracing = !noop

	ins, err := telemetry.NewInstruments(tracerName)
	if err != nil {
		return nil, fmt.Errorf("gateway: metrics: %w", err)
	}
	m.Instruments = ins

	var backend stats.Backend
	if u := s.cfg.Cache.Redis.URL; u != "" {
		// A small pool of its own, so statistics never compete with lookups.
		c, err := store.NewClient(store.RedisOptions{
			URL: u.Value(), Cluster: s.cfg.Cache.Redis.Cluster, DialTimeout: s.cfg.Cache.Redis.DialTimeout,
			ReadTimeout: statsRedisTimeout, WriteTimeout: statsRedisTimeout, PoolSize: 2,
		})
		if err != nil {
			return nil, fmt.Errorf("gateway: stats redis: %w", err)
		}
		backend = stats.NewRedis(c, true)
	}
	sc := s.cfg.Stats
	m.stats = stats.NewRecorder(stats.Options{
		Backend: backend, Now: s.now, FlushInterval: sc.FlushInterval, MaxPending: sc.MaxPending,
		MinuteTTL: sc.MinuteRetention, HourTTL: sc.HourRetention,
		OnFlushError: m.flushFailed,
	})
	if err := m.instruments(); err != nil {
		m.close(context.Background())
		return nil, fmt.Errorf("gateway: metrics: %w", err)
	}
	return m, nil
}

// instruments registers the callback that reports the observable
// instruments: the store breaker's state, the statistics' own counters and
// the tallies.
func (m *metrics) instruments() error {
	_, err := m.Meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		if cur := m.srv.store.Status().Breaker; cur != "" {
			for _, st := range []string{"closed", "half-open", "open"} {
				v := int64(0)
				if st == cur {
					v = 1
				}
				o.ObserveInt64(m.BreakerState, v, metric.WithAttributes(attribute.String("state", st)))
			}
		}
		for _, rs := range m.srv.breakers.States() {
			o.ObserveInt64(m.RouteBreakers, 1, metric.WithAttributes(attribute.String("route", rs.Route), attribute.String("state", rs.State)))
		}
		o.ObserveInt64(m.StatsDropped, m.stats.Dropped())
		o.ObserveInt64(m.StatsFlushErrors, m.stats.FlushErrors())
		// Requests first: finish counts a request after everything else it
		// records, so a request seen here has its savings seen below.
		m.requestsN.Each(func(v int64, opt []metric.ObserveOption) { o.ObserveInt64(m.Requests, v, opt...) })
		m.tokensSavedN.Each(func(v int64, opt []metric.ObserveOption) { o.ObserveInt64(m.TokensSaved, v, opt...) })
		m.costSavedN.Each(func(v int64, opt []metric.ObserveOption) { o.ObserveFloat64(m.CostSaved, float64(v)/1e9, opt...) })
		return nil
	}, m.BreakerState, m.RouteBreakers, m.StatsDropped, m.StatsFlushErrors, m.Requests, m.TokensSaved, m.CostSaved)
	return err
}

func (m *metrics) close(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return errors.Join(m.stats.Close(ctx), m.Provider.Shutdown(ctx))
}

func (m *metrics) flushFailed(err error) {
	now := time.Now()
	m.mu.Lock()
	warn := now.Sub(m.lastFlushWarn) > time.Minute
	if warn {
		m.lastFlushWarn = now
	}
	m.mu.Unlock()
	if warn {
		m.srv.log.Warn("statistics flush failed; counts of this batch are lost", "err", err)
	}
}

// cacheStatus is the ditto.cache.status value of an X-Ditto-Cache status
// (or "ERROR").
func cacheStatus(status string) string {
	switch status {
	case "HIT":
		return "hit"
	case "MISS":
		return "miss"
	case "COALESCED":
		return "coalesced"
	case "BYPASS":
		return "bypass"
	case "STALE":
		return "stale"
	}
	return "error"
}

// outcome records how a request was answered: status is its X-Ditto-Cache
// value or "ERROR", resp the answer the client got (hits and coalesced
// requests count it as saved). Metrics are emitted when the request ends
// (traceRequest), so durations include writing the answer.
func (m *metrics) outcome(x *exchange, status string, resp *normalize.Response) {
	if x.tel != nil {
		x.tel.status, x.tel.resp = status, resp
	}
}

// coalesced records that a request for model joined another request's
// provider call.
func (m *metrics) coalesced(model string) {
	label := m.conf.Load().labels.Requested(model)
	m.Coalesced.Add(context.Background(), 1, m.attrs.Get(attrKey{model: label}, func() []attribute.KeyValue {
		return []attribute.KeyValue{attrRequestModel.String(label)}
	}).Add...)
}

// finish ends a request's server span and, for requests with an outcome,
// records their metrics and statistics.
func (m *metrics) finish(c echo.Context, tel *requestTelemetry) {
	code := c.Response().Status
	span := tel.span
	recording := span.IsRecording() // attributes are built only for exported spans
	if recording {
		span.SetAttributes(httpStatusAttrs(code)...)
		if code >= 500 {
			span.SetStatus(codes.Error, http.StatusText(code))
		}
	}
	x := tel.x
	if x == nil || tel.status == "" {
		span.End()
		return
	}
	status := cacheStatus(tel.status)
	if recording {
		span.SetAttributes(attrCacheStatus.String(status))
		if age := c.Response().Header().Get("Age"); age != "" && status == "hit" {
			if n, err := strconv.Atoi(age); err == nil {
				span.SetAttributes(attrCacheAge.Int(n))
			}
		}
		span.SetAttributes(responseAttrs(tel.resp)...)
	}
	span.End()
	m.request(tel, x, status, code, time.Since(tel.start))
}

// request records one finished request: its duration and time to first
// byte, the statistics row of its outcome, and what it saved.
func (m *metrics) request(tel *requestTelemetry, x *exchange, status string, code int, d time.Duration) {
	ctx := context.Background()
	model := m.conf.Load().labels.Requested(x.route.Model)
	op := x.d.operation()
	errType := ""
	if status == "error" {
		errType = "stream_error" // failed after the stream started (status 200)
		if code >= 400 {
			errType = strconv.Itoa(code)
		}
	}
	m.ServerDuration.Record(ctx, d.Seconds(), m.attrs.Get(attrKey{model: model, status: status, errType: errType, op: op}, func() []attribute.KeyValue {
		a := []attribute.KeyValue{attrOperation.String(op), attrRequestModel.String(model), attrCacheStatus.String(status)}
		if errType != "" {
			a = append(a, attrErrorType.String(errType))
		}
		return a
	}).Rec...)
	var ttft time.Duration
	if x.req.Stream && !tel.firstByte.IsZero() && status != "error" {
		ttft = tel.firstByte.Sub(tel.start)
		m.TTFT.Record(ctx, ttft.Seconds(), m.attrs.Get(attrKey{model: model, status: status, op: op, tokenType: "ttft"}, func() []attribute.KeyValue {
			return []attribute.KeyValue{attrOperation.String(op), attrRequestModel.String(model), attrCacheStatus.String(status)}
		}).Rec...)
	}
	ev := outcomeCounters(status, d, ttft)
	if u := x.saved; u != nil {
		m.saved(&ev, model, x.route.UpstreamModel, int64(u.PromptTokens), int64(u.CompletionTokens))
	} else if r := tel.resp; r != nil && r.Usage != nil && (status == "hit" || status == "coalesced") {
		answered := r.Model
		if answered == "" {
			answered = x.route.UpstreamModel
		}
		m.saved(&ev, model, answered, int64(r.Usage.PromptTokens), int64(r.Usage.CompletionTokens))
	}
	m.stats.Add(m.srv.now(), model, ev)
	// Last, so that a scrape counting this request also sees everything
	// else recorded for it, statistics included.
	m.requestsN.Add(attrKey{model: model, status: status}, 1, func() []attribute.KeyValue {
		return []attribute.KeyValue{attrRequestModel.String(model), attrCacheStatus.String(status)}
	})
}

// outcomeCounters is the statistics row of one request's outcome.
func outcomeCounters(status string, d, ttft time.Duration) stats.Counters {
	var ev stats.Counters
	switch status {
	case "hit", "stale":
		ev.Hits = 1
		ev.HitLatency.Observe(d)
		if ttft > 0 {
			ev.HitTTFT.Observe(ttft)
		}
	case "miss":
		ev.Misses = 1
		ev.MissLatency.Observe(d)
		if ttft > 0 {
			ev.MissTTFT.Observe(ttft)
		}
	case "coalesced":
		ev.Coalesced = 1
	case "bypass":
		ev.Bypasses = 1
	default:
		ev.Errors = 1
	}
	return ev
}

// saved counts tokens answered without a provider call and their list
// price, by the model that answered (answered), under the requested
// model's label.
func (m *metrics) saved(ev *stats.Counters, model, answered string, in, out int64) {
	m.tokensSavedN.Add(attrKey{model: model, tokenType: "input"}, in, func() []attribute.KeyValue {
		return []attribute.KeyValue{attrRequestModel.String(model), attrTokenType.String("input")}
	})
	m.tokensSavedN.Add(attrKey{model: model, tokenType: "output"}, out, func() []attribute.KeyValue {
		return []attribute.KeyValue{attrRequestModel.String(model), attrTokenType.String("output")}
	})
	if usd, ok := m.conf.Load().prices.Cost(answered, in, out); ok {
		ev.CostSavedNanoUSD += stats.NanoUSD(usd)
		m.costSavedN.Add(attrKey{model: model}, stats.NanoUSD(usd), func() []attribute.KeyValue {
			return []attribute.KeyValue{attrRequestModel.String(model)}
		})
	}
	ev.TokensSaved += in + out
}

// upstream records one provider call (an attempt: retries and fallbacks
// each count) of operation op for a request for route r on route rt, and
// ends its span.
func (m *metrics) upstream(op string, r, rt router.Route, span trace.Span, d time.Duration, resp *normalize.Response, err error) {
	endProviderSpan(span, resp, err)
	ctx := context.Background()
	k := attrKey{op: op, provider: m.conf.Load().router.GenAIProvider(rt.Provider), model: m.conf.Load().labels.Upstream(rt.UpstreamModel)}
	base := func() []attribute.KeyValue {
		return []attribute.KeyValue{attrOperation.String(op), attrProvider.String(k.provider), attrRequestModel.String(k.model)}
	}
	ev := stats.Counters{UpstreamCalls: 1}
	if err != nil {
		k.errType = errorType(err)
		if !errors.Is(err, context.Canceled) {
			m.UpstreamErrors.Add(ctx, 1, m.attrs.Get(attrKey{provider: k.provider, model: k.model, errType: k.errType}, func() []attribute.KeyValue {
				return []attribute.KeyValue{attrProvider.String(k.provider), attrRequestModel.String(k.model), attrErrorType.String(k.errType)}
			}).Add...)
			ev.UpstreamErrors = 1
		}
	} else if resp != nil {
		k.respModel = m.conf.Load().labels.Response(resp.Model, rt.UpstreamModel)
		if u := resp.Usage; u != nil {
			for _, t := range [2]struct {
				typ string
				n   int
			}{{"input", u.PromptTokens}, {"output", u.CompletionTokens}} {
				tk := k
				tk.tokenType = t.typ
				m.TokenUsage.Record(ctx, int64(t.n), m.attrs.Get(tk, func() []attribute.KeyValue {
					return append(base(), attrResponseModel.String(k.respModel), attrTokenType.String(t.typ))
				}).Rec...)
			}
		}
	}
	m.ClientDuration.Record(ctx, d.Seconds(), m.attrs.Get(k, func() []attribute.KeyValue {
		a := base()
		if k.errType != "" {
			a = append(a, attrErrorType.String(k.errType))
		}
		if k.respModel != "" {
			a = append(a, attrResponseModel.String(k.respModel))
		}
		return a
	}).Rec...)
	m.stats.Add(m.srv.now(), m.conf.Load().labels.Requested(r.Model), ev)
}

func (m *metrics) storeError(op string) {
	m.StoreErrors.Add(context.Background(), 1, metric.WithAttributes(attrStoreOp.String(op)))
}

// shadowHit records a would-be hit of a shadow-mode route.
func (m *metrics) shadowHit(model string) {
	label := m.conf.Load().labels.Requested(model)
	m.ShadowHits.Add(context.Background(), 1, m.attrs.Get(attrKey{model: label, op: "shadow"}, func() []attribute.KeyValue {
		return []attribute.KeyValue{attrRequestModel.String(label)}
	}).Add...)
	m.stats.Add(m.srv.now(), label, stats.Counters{ShadowHits: 1})
}

// revalidated records the end of a stale-while-revalidate refresh.
func (m *metrics) revalidated(model string, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.Revalidations.Add(context.Background(), 1, metric.WithAttributes(attrRequestModel.String(m.conf.Load().labels.Requested(model)),
		attribute.String("outcome", outcome)))
}

func (m *metrics) digestMismatch() {
	m.DigestMismatches.Add(context.Background(), 1)
}

// metricsConf is what the metrics take from the configuration: model
// labels, prices and the router (for provider names).
type metricsConf struct {
	labels *configs.ModelLabels
	prices *configs.Prices
	router *router.Router
}

// configure makes the metrics label, price and name providers by cfg and
// r from now on.
func (m *metrics) configure(cfg *configs.Config, r *router.Router) {
	m.conf.Store(&metricsConf{labels: configs.NewModelLabels(cfg), prices: cfg.Prices(), router: r})
}
