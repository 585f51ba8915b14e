package gateway

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/dittocache/ditto/cache"
	"github.com/dittocache/ditto/internal/telemetry"
	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers/router"
)

// engineObserver is how the gateway's telemetry hears the cache engine:
// spans around lookups and coalesce waits (only when spans are recorded),
// metrics for store errors, digest mismatches and coalesced requests.
func (s *Server) engineObserver() cache.Observer {
	m := s.metrics
	o := cache.Observer{
		StoreError: func(op string, err error) {
			m.storeError(op)
			s.log.Debug("cache store operation failed; served as a miss", "op", op, "err", err)
		},
		Mismatch: func() {
			m.digestMismatch()
			s.log.Warn("cache entry digest mismatch; served as a miss")
		},
		Coalesced: m.coalesced,
		ShadowHit: m.shadowHit,
		Revalidated: func(model string, err error) {
			m.revalidated(model, err)
			if err != nil {
				s.log.Warn("background refresh of a stale entry failed; it is served until stale_if_error runs out", "model", model, "err", err)
			}
		},
	}
	if m.tracing {
		o.Lookup = func(ctx context.Context) (context.Context, func(bool, error)) {
			ctx, span := m.tracer.Start(ctx, "cache lookup")
			return ctx, func(hit bool, err error) {
				span.SetAttributes(attribute.Bool("ditto.cache.hit", hit))
				telemetry.EndSpan(span, err)
			}
		}
		o.Wait = func(ctx context.Context) func() {
			_, span := m.tracer.Start(ctx, "coalesce wait")
			return func() { span.End() }
		}
	}
	return o
}

// routerObserver opens a client span per provider call (a child of the
// request that started the flight: the flight's context carries its span)
// and records the call's metrics.
func (s *Server) routerObserver() router.Observer {
	return router.Observer{
		Attempt: func(ctx context.Context, r, rt router.Route, req *normalize.Request) (context.Context, func(*normalize.Response, error)) {
			start := s.now()
			span := noopSpan
			if s.metrics.tracing {
				ctx, span = s.metrics.tracer.Start(ctx, "chat "+req.Model, trace.WithSpanKind(trace.SpanKindClient),
					trace.WithAttributes(
						attrOperation.String("chat"),
						attrProvider.String(s.router.GenAIProvider(rt.Provider)),
						attrProviderName.String(rt.Provider),
						attrRequestModel.String(req.Model),
					))
			}
			return ctx, func(resp *normalize.Response, err error) {
				s.metrics.upstream("chat", r, rt, span, s.now().Sub(start), resp, err)
			}
		},
		Embed: func(ctx context.Context, r router.Route, inputs int) (context.Context, func(string, int, error)) {
			start := s.now()
			span := noopSpan
			if s.metrics.tracing {
				ctx, span = s.metrics.tracer.Start(ctx, "embeddings "+r.UpstreamModel, trace.WithSpanKind(trace.SpanKindClient),
					trace.WithAttributes(
						attrOperation.String("embeddings"),
						attrProvider.String(s.router.GenAIProvider(r.Provider)),
						attrProviderName.String(r.Provider),
						attrRequestModel.String(r.UpstreamModel),
						attribute.Int("ditto.embeddings.inputs", inputs),
					))
			}
			return ctx, func(model string, tokens int, err error) {
				var resp *normalize.Response
				if err == nil {
					resp = &normalize.Response{Model: model, Usage: &normalize.Usage{PromptTokens: tokens, TotalTokens: tokens}}
				}
				s.metrics.upstream("embeddings", r, r, span, s.now().Sub(start), resp, err)
			}
		},
	}
}

// noopSpan stands in for spans nobody records.
var noopSpan = trace.SpanFromContext(context.Background())
