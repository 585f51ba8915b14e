package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/dittocache/ditto/cache/stats"
	"github.com/dittocache/ditto/cache/store"
	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/internal/limits"
	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers/router"
)

// ScopeName names the tracer and the meter (otel_scope_name).
const ScopeName = "github.com/dittocache/ditto/gateway"

// statsRedisTimeout bounds the statistics flushes' Redis calls; they run in
// the background, so they can wait longer than cache lookups.
const statsRedisTimeout = 250 * time.Millisecond

// attrKey identifies one combination of bounded metric labels.
type attrKey struct {
	model, status, errType, tokenType, op string
	provider, respModel                   string // provider-call metrics
}

// Options are what the metrics read from the gateway they serve: plain
// values and functions, so this package knows nothing of HTTP.
type Options struct {
	Config         *configs.Config
	TracerProvider trace.TracerProvider // nil: the global one
	Log            *slog.Logger
	Now            func() time.Time
	// StoreBreaker is the cache store breaker's state ("" without one) and
	// RouteBreakers the provider routes' breakers, reported as gauges.
	StoreBreaker  func() string
	RouteBreakers func() []router.RouteState
	// Limits is the current limiter's counters, and whether any limit or
	// budget is configured (nil or false: none are reported).
	Limits func() (limits.Stats, bool)
	// ErrorStatus is the HTTP status an error is answered with (0: none):
	// a provider call's error.type.
	ErrorStatus func(error) int
}

// Metrics is the gateway's telemetry: OpenTelemetry instruments exported
// to a registry of their own (Handler), the tracer, and the per-model
// statistics (Stats) behind /v1/cache/stats and the dashboard. Safe for
// concurrent use.
type Metrics struct {
	attrs   AttrCache[attrKey]
	opt     Options
	Tracer  trace.Tracer
	Tracing bool // Tracer may record: false only for the no-op provider
	Stats   *stats.Recorder
	conf    atomic.Pointer[metricsConf] // replaced by Configure

	// The instruments, exported to the registry Handler serves.
	*Instruments
	requestsN     Tally[attrKey]
	tokensSavedN  Tally[attrKey]
	costSavedN    Tally[attrKey] // nano-USD
	lastFlushWarn time.Time

	mu sync.Mutex // guards lastFlushWarn
}

// NewMetrics builds the instruments and the statistics recorder (on the
// configured Redis, through a small pool of its own, when there is one).
// Close releases them.
func NewMetrics(o Options) (*Metrics, error) {
	m := &Metrics{opt: o}
	m.Configure(o.Config, nil)
	tp := o.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	m.Tracer = tp.Tracer(ScopeName)
	_, noop := m.Tracer.(tracenoop.Tracer)
	m.Tracing = !noop

	ins, err := NewInstruments(ScopeName)
	if err != nil {
		return nil, fmt.Errorf("telemetry: metrics: %w", err)
	}
	m.Instruments = ins

	var backend stats.Backend
	rc := o.Config.Cache.Redis
	if rc.URL != "" {
		// A small pool of its own, so statistics never compete with lookups.
		c, err := store.NewClient(store.RedisOptions{
			URL: rc.URL.Value(), Cluster: rc.Cluster, DialTimeout: rc.DialTimeout,
			ReadTimeout: statsRedisTimeout, WriteTimeout: statsRedisTimeout, PoolSize: 2,
		})
		if err != nil {
			_ = ins.Provider.Shutdown(context.Background())
			return nil, fmt.Errorf("telemetry: stats redis: %w", err)
		}
		backend = stats.NewRedis(c, true)
	}
	sc := o.Config.Stats
	m.Stats = stats.NewRecorder(stats.Options{
		Backend: backend, Now: o.Now, FlushInterval: sc.FlushInterval, MaxPending: sc.MaxPending,
		MinuteTTL: sc.MinuteRetention, HourTTL: sc.HourRetention,
		OnFlushError: m.flushFailed,
	})
	if err := m.observe(); err != nil {
		_ = m.Close(context.Background())
		return nil, fmt.Errorf("telemetry: metrics: %w", err)
	}
	return m, nil
}

// observe registers the callback that reports the observable instruments:
// the breakers' states, the statistics' own counters and the tallies.
func (m *Metrics) observe() error {
	_, err := m.Meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		if cur := m.opt.StoreBreaker(); cur != "" {
			observeBreaker(o, m.BreakerState, cur)
		}
		for _, rs := range m.opt.RouteBreakers() {
			o.ObserveInt64(m.RouteBreakers, 1, metric.WithAttributes(attribute.String("route", rs.Route), attribute.String("state", rs.State)))
		}
		m.observeLimits(o)
		o.ObserveInt64(m.StatsDropped, m.Stats.Dropped())
		o.ObserveInt64(m.StatsFlushErrors, m.Stats.FlushErrors())
		// Requests first: Finish counts a request after everything else it
		// records, so a request seen here has its savings seen below.
		m.requestsN.Each(func(v int64, opt []metric.ObserveOption) { o.ObserveInt64(m.Requests, v, opt...) })
		m.tokensSavedN.Each(func(v int64, opt []metric.ObserveOption) { o.ObserveInt64(m.TokensSaved, v, opt...) })
		m.costSavedN.Each(func(v int64, opt []metric.ObserveOption) { o.ObserveFloat64(m.CostSaved, float64(v)/1e9, opt...) })
		return nil
	}, m.BreakerState, m.RouteBreakers, m.StatsDropped, m.StatsFlushErrors, m.Requests, m.TokensSaved, m.CostSaved,
		m.LimitDecisions, m.LimitErrors, m.LimitDropped, m.LimitBreaker)
	return err
}

// observeLimits reports the limiter's counters, when limits are on.
func (m *Metrics) observeLimits(o metric.Observer) {
	if m.opt.Limits == nil {
		return
	}
	st, on := m.opt.Limits()
	if !on {
		return
	}
	for _, d := range [...]struct {
		outcome string
		n       uint64
	}{{"admitted", st.Admitted}, {"refused", st.Refused}, {"degraded", st.Degraded}} {
		o.ObserveInt64(m.LimitDecisions, int64(d.n), metric.WithAttributes(attribute.String("outcome", d.outcome)))
	}
	o.ObserveInt64(m.LimitErrors, int64(st.Errors))
	o.ObserveInt64(m.LimitDropped, int64(st.Dropped))
	if st.Backend != "redis" {
		return
	}
	observeBreaker(o, m.LimitBreaker, st.Breaker)
}

// observeBreaker reports a breaker's state as a gauge: 1 for cur, 0 for
// the other states.
func observeBreaker(o metric.Observer, g metric.Int64ObservableGauge, cur string) {
	for _, state := range [...]string{"closed", "half-open", "open"} {
		v := int64(0)
		if state == cur {
			v = 1
		}
		o.ObserveInt64(g, v, metric.WithAttributes(attribute.String("state", state)))
	}
}

// Close flushes the statistics and shuts the instruments down.
func (m *Metrics) Close(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return errors.Join(m.Stats.Close(ctx), m.Provider.Shutdown(ctx))
}

func (m *Metrics) flushFailed(err error) {
	now := time.Now()
	m.mu.Lock()
	warn := now.Sub(m.lastFlushWarn) > time.Minute
	if warn {
		m.lastFlushWarn = now
	}
	m.mu.Unlock()
	if warn {
		m.opt.Log.Warn("statistics flush failed; counts of this batch are lost", "err", err)
	}
}

// metricsConf is what the metrics take from the configuration: model
// labels, prices and the router (for provider names).
type metricsConf struct {
	labels *configs.ModelLabels
	prices *configs.Prices
	router *router.Router
}

// Configure makes the metrics label, price and name providers by cfg and
// r from now on.
func (m *Metrics) Configure(cfg *configs.Config, r *router.Router) {
	m.conf.Store(&metricsConf{labels: configs.NewModelLabels(cfg), prices: cfg.Prices(), router: r})
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

// Finished is one request as it ended, for Finish.
type Finished struct {
	Code      int       // the HTTP status written
	Start     time.Time // when the request arrived
	FirstByte time.Time // when the headers went out (streams); zero if not watched
	Status    string    // X-Ditto-Cache value or "ERROR"; "": no outcome (not a model request)
	Age       string    // the Age header of a hit
	Model     string    // requested
	Upstream  string    // the route's upstream model
	Operation string    // gen_ai.operation.name
	Stream    bool
	Resp      *normalize.Response // the answer the client got
	Saved     *normalize.Usage    // tokens answered without a provider call, when not the whole answer's
}

// Finish ends a request's server span and, for requests with an outcome,
// records their metrics and statistics.
func (m *Metrics) Finish(span trace.Span, f Finished) {
	recording := span.IsRecording() // attributes are built only for exported spans
	if recording {
		span.SetAttributes(httpStatusAttrs(f.Code)...)
		if f.Code >= 500 {
			span.SetStatus(codes.Error, http.StatusText(f.Code))
		}
	}
	if f.Status == "" {
		span.End()
		return
	}
	status := cacheStatus(f.Status)
	if recording {
		span.SetAttributes(attrCacheStatus.String(status))
		if n, err := strconv.Atoi(f.Age); err == nil && status == "hit" {
			span.SetAttributes(attrCacheAge.Int(n))
		}
		span.SetAttributes(responseAttrs(f.Resp)...)
	}
	span.End()
	m.request(&f, status, time.Since(f.Start))
}

// request records one finished request: its duration and time to first
// byte, the statistics row of its outcome, and what it saved.
func (m *Metrics) request(f *Finished, status string, d time.Duration) {
	ctx := context.Background()
	model := m.conf.Load().labels.Requested(f.Model)
	op := f.Operation
	errType := ""
	if status == "error" {
		errType = "stream_error" // failed after the stream started (status 200)
		if f.Code >= 400 {
			errType = strconv.Itoa(f.Code)
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
	if f.Stream && !f.FirstByte.IsZero() && status != "error" {
		ttft = f.FirstByte.Sub(f.Start)
		m.TTFT.Record(ctx, ttft.Seconds(), m.attrs.Get(attrKey{model: model, status: status, op: op, tokenType: "ttft"}, func() []attribute.KeyValue {
			return []attribute.KeyValue{attrOperation.String(op), attrRequestModel.String(model), attrCacheStatus.String(status)}
		}).Rec...)
	}
	ev := outcomeCounters(status, d, ttft)
	if u := f.Saved; u != nil {
		m.saved(&ev, model, f.Upstream, int64(u.PromptTokens), int64(u.CompletionTokens))
	} else if r := f.Resp; r != nil && r.Usage != nil && (status == "hit" || status == "coalesced") {
		answered := r.Model
		if answered == "" {
			answered = f.Upstream
		}
		m.saved(&ev, model, answered, int64(r.Usage.PromptTokens), int64(r.Usage.CompletionTokens))
	}
	m.Stats.Add(m.opt.Now(), model, ev)
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
func (m *Metrics) saved(ev *stats.Counters, model, answered string, in, out int64) {
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
// each count) of operation op for a request for model on route rt, and
// ends its span.
func (m *Metrics) upstream(op, model string, rt router.Route, span trace.Span, d time.Duration, resp *normalize.Response, err error) {
	m.endProviderSpan(span, resp, err)
	ctx := context.Background()
	conf := m.conf.Load()
	k := attrKey{op: op, provider: conf.router.GenAIProvider(rt.Provider), model: conf.labels.Upstream(rt.UpstreamModel)}
	base := func() []attribute.KeyValue {
		return []attribute.KeyValue{attrOperation.String(op), attrProvider.String(k.provider), attrRequestModel.String(k.model)}
	}
	ev := stats.Counters{UpstreamCalls: 1}
	if err != nil {
		k.errType = m.errorType(err)
		if !errors.Is(err, context.Canceled) {
			m.UpstreamErrors.Add(ctx, 1, m.attrs.Get(attrKey{provider: k.provider, model: k.model, errType: k.errType}, func() []attribute.KeyValue {
				return []attribute.KeyValue{attrProvider.String(k.provider), attrRequestModel.String(k.model), attrErrorType.String(k.errType)}
			}).Add...)
			ev.UpstreamErrors = 1
		}
	} else if resp != nil {
		k.respModel = conf.labels.Response(resp.Model, rt.UpstreamModel)
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
	m.Stats.Add(m.opt.Now(), conf.labels.Requested(model), ev)
}

// errorType is the error.type of a failed call: the HTTP status for
// provider and client errors, else a short class.
func (m *Metrics) errorType(err error) string {
	switch {
	case errors.Is(err, router.ErrStalled):
		return "stalled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	if st := m.opt.ErrorStatus(err); st > 0 {
		return strconv.Itoa(st)
	}
	return "_OTHER"
}

// label is the requested model's metric label.
func (m *Metrics) label(model string) string { return m.conf.Load().labels.Requested(model) }

// coalesced records that a request for model joined another request's
// provider call.
func (m *Metrics) coalesced(model string) {
	label := m.label(model)
	m.Coalesced.Add(context.Background(), 1, m.attrs.Get(attrKey{model: label}, func() []attribute.KeyValue {
		return []attribute.KeyValue{attrRequestModel.String(label)}
	}).Add...)
}

// shadowHit records a would-be hit of a shadow-mode route.
func (m *Metrics) shadowHit(model string) {
	label := m.label(model)
	m.ShadowHits.Add(context.Background(), 1, m.attrs.Get(attrKey{model: label, op: "shadow"}, func() []attribute.KeyValue {
		return []attribute.KeyValue{attrRequestModel.String(label)}
	}).Add...)
	m.Stats.Add(m.opt.Now(), label, stats.Counters{ShadowHits: 1})
}

// revalidated records the end of a stale-while-revalidate refresh.
func (m *Metrics) revalidated(model string, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.Revalidations.Add(context.Background(), 1, metric.WithAttributes(attrRequestModel.String(m.label(model)),
		attribute.String("outcome", outcome)))
}
