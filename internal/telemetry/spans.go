package telemetry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/dittocache/ditto/cache"
	"github.com/dittocache/ditto/cachekey"
	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers/router"
)

// Attribute keys: OpenTelemetry's GenAI semantic conventions where they
// apply, Ditto's own under ditto.*.
const (
	attrOperation     = attribute.Key("gen_ai.operation.name")
	attrProvider      = attribute.Key("gen_ai.provider.name")
	attrRequestModel  = attribute.Key("gen_ai.request.model")
	attrResponseModel = attribute.Key("gen_ai.response.model")
	attrInputTokens   = attribute.Key("gen_ai.usage.input_tokens")
	attrOutputTokens  = attribute.Key("gen_ai.usage.output_tokens")
	attrFinishReasons = attribute.Key("gen_ai.response.finish_reasons")
	attrTokenType     = attribute.Key("gen_ai.token.type")
	attrErrorType     = attribute.Key("error.type")
	attrCacheStatus   = attribute.Key("ditto.cache.status")
	attrCacheKey      = attribute.Key("ditto.cache.key")
	attrCacheAge      = attribute.Key("ditto.cache.age")
	attrRoute         = attribute.Key("ditto.route")
	attrProviderName  = attribute.Key("ditto.provider")
	attrStoreOp       = attribute.Key("ditto.store.operation")
)

// noopSpan stands in for spans nobody records.
var noopSpan = trace.SpanFromContext(context.Background())

// StartServer opens a request's server span, named after its method and
// route. With tracing off it returns the client's span context, if any, so
// providers still see its traceparent; ending or annotating that is a
// no-op.
func (m *Metrics) StartServer(ctx context.Context, method, route, path string) (context.Context, trace.Span) {
	if !m.Tracing {
		return ctx, trace.SpanFromContext(ctx)
	}
	name := method
	if route != "" {
		name += " " + route
	}
	return m.Tracer.Start(ctx, name,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("http.request.method", method),
			attribute.String("http.route", route),
			attribute.String("url.path", path),
		))
}

// Begun is what a model request is once its key is derived, for Begin.
type Begun struct {
	Operation, Model, Route, Provider string
	Key                               cachekey.Key
}

// Begin records the normalize span (from start to now) under the request's
// server span and annotates that span with the request's attributes. The
// cache key in traces has its namespace hashed (TraceKey).
func (m *Metrics) Begin(ctx context.Context, span trace.Span, start time.Time, b Begun) {
	if !span.IsRecording() {
		return
	}
	key := TraceKey(b.Key)
	_, ns := m.Tracer.Start(ctx, "normalize", trace.WithTimestamp(start),
		trace.WithAttributes(attrRequestModel.String(b.Model), attrCacheKey.String(key)))
	ns.End()
	span.SetAttributes(
		attrOperation.String(b.Operation),
		attrRequestModel.String(b.Model),
		attrRoute.String(b.Route),
		attrProviderName.String(b.Provider),
		attrCacheKey.String(key),
	)
}

// TraceKey is a cache key for traces: the store key with its namespace
// (which names the tenant) replaced by a short hash of it, so traces
// shipped to a collector identify an entry without naming whose it is.
func TraceKey(k cachekey.Key) string {
	sum := sha256.Sum256([]byte(k.Namespace))
	k.Namespace = "ns-" + hex.EncodeToString(sum[:8])
	return k.String()
}

// endProviderSpan records the answer's GenAI attributes, or the error.
func (m *Metrics) endProviderSpan(span trace.Span, resp *normalize.Response, err error) {
	if !span.IsRecording() {
		span.End()
		return
	}
	if err != nil {
		span.SetAttributes(attrErrorType.String(m.errorType(err)))
		EndSpan(span, err)
		return
	}
	span.SetAttributes(responseAttrs(resp)...)
	span.End()
}

func responseAttrs(resp *normalize.Response) []attribute.KeyValue {
	if resp == nil {
		return nil
	}
	attrs := []attribute.KeyValue{attrResponseModel.String(resp.Model)}
	if u := resp.Usage; u != nil {
		attrs = append(attrs, attrInputTokens.Int(u.PromptTokens), attrOutputTokens.Int(u.CompletionTokens))
	}
	reasons := make([]string, 0, len(resp.Choices))
	for _, ch := range resp.Choices {
		reasons = append(reasons, ch.FinishReason)
	}
	return append(attrs, attrFinishReasons.StringSlice(reasons))
}

// httpStatusAttrs describe a finished response on its server span.
func httpStatusAttrs(status int) []attribute.KeyValue {
	attrs := []attribute.KeyValue{attribute.Int("http.response.status_code", status)}
	if status >= 400 {
		attrs = append(attrs, attrErrorType.String(strconv.Itoa(status)))
	}
	return attrs
}

// EngineObserver is how the telemetry hears the cache engine: spans around
// lookups and coalesce waits (only when spans are recorded), metrics for
// store errors, digest mismatches, coalesced requests, shadow hits and
// background refreshes.
func (m *Metrics) EngineObserver() cache.Observer {
	log := m.opt.Log
	o := cache.Observer{
		StoreError: func(op string, err error) {
			m.StoreErrors.Add(context.Background(), 1, m.attrs.Get(attrKey{op: "store:" + op}, func() []attribute.KeyValue {
				return []attribute.KeyValue{attrStoreOp.String(op)}
			}).Add...)
			log.Debug("cache store operation failed; served as a miss", "op", op, "err", err)
		},
		Mismatch: func() {
			m.DigestMismatches.Add(context.Background(), 1)
			log.Warn("cache entry digest mismatch; served as a miss")
		},
		Coalesced: m.coalesced,
		ShadowHit: m.shadowHit,
		Revalidated: func(model string, err error) {
			m.revalidated(model, err)
			if err != nil {
				log.Warn("background refresh of a stale entry failed; it is served until stale_if_error runs out", "model", model, "err", err)
			}
		},
	}
	if m.Tracing {
		o.Lookup = func(ctx context.Context) (context.Context, func(bool, error)) {
			ctx, span := m.Tracer.Start(ctx, "cache lookup")
			return ctx, func(hit bool, err error) {
				span.SetAttributes(attribute.Bool("ditto.cache.hit", hit))
				EndSpan(span, err)
			}
		}
		o.Wait = func(ctx context.Context) func() {
			_, span := m.Tracer.Start(ctx, "coalesce wait")
			return func() { span.End() }
		}
	}
	return o
}

// RouterObserver opens a client span per provider call (a child of the
// request that started the flight: the flight's context carries its span)
// and records the call's metrics.
func (m *Metrics) RouterObserver() router.Observer {
	return router.Observer{
		Attempt: func(ctx context.Context, r, rt router.Route, req *normalize.Request) (context.Context, func(*normalize.Response, error)) {
			ctx, span := m.clientSpan(ctx, "chat", req.Model, rt)
			start := m.opt.Now()
			return ctx, func(resp *normalize.Response, err error) {
				m.upstream("chat", r.Model, rt, span, m.opt.Now().Sub(start), resp, err)
			}
		},
		Embed: func(ctx context.Context, r router.Route, inputs int) (context.Context, func(string, int, error)) {
			ctx, span := m.clientSpan(ctx, "embeddings", r.UpstreamModel, r, attribute.Int("ditto.embeddings.inputs", inputs))
			start := m.opt.Now()
			return ctx, func(model string, tokens int, err error) {
				var resp *normalize.Response
				if err == nil {
					resp = &normalize.Response{Model: model, Usage: &normalize.Usage{PromptTokens: tokens, TotalTokens: tokens}}
				}
				m.upstream("embeddings", r.Model, r, span, m.opt.Now().Sub(start), resp, err)
			}
		},
	}
}

// clientSpan opens a provider call's span "op model", when spans are
// recorded.
func (m *Metrics) clientSpan(ctx context.Context, op, model string, rt router.Route, extra ...attribute.KeyValue) (context.Context, trace.Span) {
	if !m.Tracing {
		return ctx, noopSpan
	}
	attrs := append([]attribute.KeyValue{
		attrOperation.String(op),
		attrProvider.String(m.conf.Load().router.GenAIProvider(rt.Provider)),
		attrProviderName.String(rt.Provider),
		attrRequestModel.String(model),
	}, extra...)
	return m.Tracer.Start(ctx, op+" "+model, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}
