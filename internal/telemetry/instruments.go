package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// Histogram boundaries: the GenAI conventions' for provider calls and
// tokens, with sub-millisecond buckets added for what clients see (hits).
var (
	durationBuckets = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}
	serverBuckets   = append([]float64{0.0005, 0.001, 0.0025, 0.005}, durationBuckets...)
	ttftBuckets     = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}
	tokenBuckets    = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}
)

// Instruments are Ditto's OpenTelemetry metric instruments, named after the
// GenAI semantic conventions where they apply, exported to a Prometheus
// registry of their own (with the Go runtime and process collectors) that
// Handler serves. The observable ones are reported by a callback the
// caller registers on Meter.
type Instruments struct {
	Provider *sdkmetric.MeterProvider
	Meter    metric.Meter
	Handler  http.Handler // the registry in the Prometheus text format

	Requests         metric.Int64ObservableCounter
	Coalesced        metric.Int64Counter
	TokensSaved      metric.Int64ObservableCounter
	CostSaved        metric.Float64ObservableCounter
	ServerDuration   metric.Float64Histogram
	TTFT             metric.Float64Histogram
	ClientDuration   metric.Float64Histogram
	TokenUsage       metric.Int64Histogram
	UpstreamErrors   metric.Int64Counter
	StoreErrors      metric.Int64Counter
	DigestMismatches metric.Int64Counter
	ShadowHits       metric.Int64Counter
	Revalidations    metric.Int64Counter
	BreakerState     metric.Int64ObservableGauge
	RouteBreakers    metric.Int64ObservableGauge
	StatsDropped     metric.Int64ObservableCounter
	StatsFlushErrors metric.Int64ObservableCounter
	LimitDecisions   metric.Int64ObservableCounter
	LimitErrors      metric.Int64ObservableCounter
	LimitDropped     metric.Int64ObservableCounter
	LimitBreaker     metric.Int64ObservableGauge
}

// NewInstruments creates the instruments on a new meter provider named
// meterName. Close them with Provider.Shutdown.
func NewInstruments(meterName string) (*Instruments, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exp, err := otelprom.New(
		otelprom.WithRegisterer(reg),
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes),
		otelprom.WithoutScopeInfo(),
		otelprom.WithoutTargetInfo(),
	)
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	in := &Instruments{Provider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp)), Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}
	in.Meter = in.Provider.Meter(meterName)
	var errs []error
	check := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	in.Requests, err = in.Meter.Int64ObservableCounter("ditto.cache.requests", metric.WithUnit("{request}"),
		metric.WithDescription("Chat requests answered, by requested model and cache status (hit, miss, coalesced, bypass, error)."))
	check(err)
	in.Coalesced, err = in.Meter.Int64Counter("ditto.cache.coalesced", metric.WithUnit("{request}"),
		metric.WithDescription("Requests that joined another identical request's provider call."))
	check(err)
	in.TokensSaved, err = in.Meter.Int64ObservableCounter("ditto.cache.tokens_saved", metric.WithUnit("{token}"),
		metric.WithDescription("Tokens answered without a provider call (hits and coalesced requests)."))
	check(err)
	in.CostSaved, err = in.Meter.Float64ObservableCounter("ditto.cache.cost_saved", metric.WithUnit("{USD}"),
		metric.WithDescription("List price in USD of the tokens answered without a provider call, priced by the model that answered."))
	check(err)
	in.ServerDuration, err = in.Meter.Float64Histogram("gen_ai.server.request.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of chat requests as clients see them."), metric.WithExplicitBucketBoundaries(serverBuckets...))
	check(err)
	in.TTFT, err = in.Meter.Float64Histogram("gen_ai.server.time_to_first_token", metric.WithUnit("s"),
		metric.WithDescription("Time until the first byte of a successful streamed answer."), metric.WithExplicitBucketBoundaries(ttftBuckets...))
	check(err)
	in.ClientDuration, err = in.Meter.Float64Histogram("gen_ai.client.operation.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of provider calls (each attempt)."), metric.WithExplicitBucketBoundaries(durationBuckets...))
	check(err)
	in.TokenUsage, err = in.Meter.Int64Histogram("gen_ai.client.token.usage", metric.WithUnit("{token}"),
		metric.WithDescription("Tokens used by provider calls."), metric.WithExplicitBucketBoundaries(tokenBuckets...))
	check(err)
	in.UpstreamErrors, err = in.Meter.Int64Counter("ditto.upstream.errors", metric.WithUnit("{call}"),
		metric.WithDescription("Failed provider calls, by provider, model and error type."))
	check(err)
	in.StoreErrors, err = in.Meter.Int64Counter("ditto.store.errors", metric.WithUnit("{operation}"),
		metric.WithDescription("Cache store operations that failed (served as misses), by operation."))
	check(err)
	in.DigestMismatches, err = in.Meter.Int64Counter("ditto.cache.digest_mismatches", metric.WithUnit("{entry}"),
		metric.WithDescription("Cached entries whose verification digest did not match the request (served as misses)."))
	check(err)
	in.ShadowHits, err = in.Meter.Int64Counter("ditto.cache.shadow_hits", metric.WithUnit("{request}"),
		metric.WithDescription("Requests on shadow-mode routes that would have been hits (answered by the provider instead)."))
	check(err)
	in.Revalidations, err = in.Meter.Int64Counter("ditto.cache.revalidations", metric.WithUnit("{refresh}"),
		metric.WithDescription("Background refreshes of entries served stale-while-revalidate, by outcome (ok, error)."))
	check(err)
	in.BreakerState, err = in.Meter.Int64ObservableGauge("ditto.store.breaker.state",
		metric.WithDescription("1 for the cache store circuit breaker's current state (closed, half-open, open)."))
	check(err)
	in.RouteBreakers, err = in.Meter.Int64ObservableGauge("ditto.upstream.breaker.open",
		metric.WithDescription("1 for each route (provider/upstream model) whose provider circuit breaker is open or half-open, by state; closed routes are not reported."))
	check(err)
	in.StatsDropped, err = in.Meter.Int64ObservableCounter("ditto.stats.dropped", metric.WithUnit("{event}"),
		metric.WithDescription("Statistics events dropped because the flush queue was full."))
	check(err)
	in.StatsFlushErrors, err = in.Meter.Int64ObservableCounter("ditto.stats.flush_errors", metric.WithUnit("{flush}"),
		metric.WithDescription("Failed writes of statistics to their store."))
	check(err)
	in.LimitDecisions, err = in.Meter.Int64ObservableCounter("ditto.ratelimit.decisions", metric.WithUnit("{decision}"),
		metric.WithDescription("Rate limit and budget decisions, by outcome: admitted, refused (429), degraded (Redis could not decide; limits.fail_open applied)."))
	check(err)
	in.LimitErrors, err = in.Meter.Int64ObservableCounter("ditto.ratelimit.errors", metric.WithUnit("{round_trip}"),
		metric.WithDescription("Limiter round trips to Redis that failed or were skipped by its open breaker."))
	check(err)
	in.LimitDropped, err = in.Meter.Int64ObservableCounter("ditto.ratelimit.dropped", metric.WithUnit("{correction}"),
		metric.WithDescription("Token corrections, budget charges and give-backs lost to Redis errors."))
	check(err)
	in.LimitBreaker, err = in.Meter.Int64ObservableGauge("ditto.ratelimit.breaker.state",
		metric.WithDescription("1 for the limiter's Redis circuit breaker's current state (closed, half-open, open); absent without Redis."))
	check(err)
	if len(errs) > 0 {
		_ = in.Provider.Shutdown(context.Background())
		return nil, errors.Join(errs...)
	}
	return in, nil
}
