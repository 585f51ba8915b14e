package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

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

const tracerName = "github.com/dittocache/ditto/gateway"

// SetupTelemetry installs the process-wide OpenTelemetry settings: the W3C
// trace-context and baggage propagator (always, so a client's traceparent
// reaches providers even with tracing off) and, when getenv has
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, a tracer
// provider exporting spans with OTLP over HTTP/protobuf (otlpClient, which
// reads the exporter's variables from getenv). Everything else (sampler,
// resource attributes, service name) follows the standard OTEL_* variables. Without an endpoint, or with OTEL_SDK_DISABLED
// or OTEL_TRACES_EXPORTER=none, tracing stays a no-op.
//
// The returned shutdown flushes buffered spans; call it once on exit.
func SetupTelemetry(ctx context.Context, getenv func(string) string, version string) (shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	noop := func(context.Context) error { return nil }
	if !tracingEnabled(getenv) {
		// A no-op provider: spans cost next to nothing when nobody exports
		// them (the global default delegates and allocates per span).
		otel.SetTracerProvider(tracenoop.NewTracerProvider())
		return noop, nil
	}
	proto := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if proto == "" {
		proto = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	if proto != "" && proto != "http/protobuf" {
		return noop, fmt.Errorf("telemetry: OTLP protocol %q is not supported; use http/protobuf (the collector's port 4318)", proto)
	}
	client, err := newOTLPClient(getenv)
	if err != nil {
		return noop, fmt.Errorf("telemetry: %w", err)
	}
	exp, err := otlptrace.New(ctx, client)
	if err != nil {
		return noop, fmt.Errorf("telemetry: otlp exporter: %w", err)
	}
	name := getenv("OTEL_SERVICE_NAME")
	if name == "" {
		name = "ditto"
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		attribute.String("service.name", name), attribute.String("service.version", version)))
	if err != nil {
		return noop, fmt.Errorf("telemetry: resource: %w", err)
	}
	if env, err := resource.New(ctx, resource.WithFromEnv()); err == nil {
		if merged, err := resource.Merge(res, env); err == nil {
			res = merged
		}
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

func tracingEnabled(getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") || getenv("OTEL_TRACES_EXPORTER") == "none" {
		return false
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// requestTelemetry is one request's server span and, for chat requests,
// the outcome the handler reports; traceRequest turns it into metrics and
// statistics when the request ends. Methods are nil-safe. Fields other than
// ctx and span are touched only by the request's goroutine.
type requestTelemetry struct {
	ctx   context.Context // the request context, carrying span
	span  trace.Span
	start time.Time

	x         *exchange           // set by begin: a chat request
	status    string              // X-Ditto-Cache value or "ERROR"; "" until reported
	resp      *normalize.Response // the answer the client got
	firstByte time.Time           // when the response headers were written (watched streams and followers)
	watching  bool                // the first-byte hook is installed
}

// propagationFields are the canonical header names the global propagator
// reads, so traceRequest parses trace context only when a client sent some.
// nil: unknown (no propagator was installed when the server was built), so
// every request is parsed.
func propagationFields() []string {
	var fields []string
	for _, f := range otel.GetTextMapPropagator().Fields() {
		fields = append(fields, textproto.CanonicalMIMEHeaderKey(f))
	}
	return fields
}

// traceRequest is the outermost layer of every request: it joins the
// client's trace (W3C traceparent), opens the server span, and records the
// request's metrics when it ends. With tracing off it opens no span.
func (s *Server) traceRequest(ec echo.Context, next echo.HandlerFunc) error {
	sc := &stateContext{Context: ec}
	var c echo.Context = sc
	st := &sc.st
	r := c.Request()
	ctx := r.Context()
	extract := s.propFields == nil
	for _, f := range s.propFields {
		if len(r.Header[f]) > 0 {
			extract = true
			break
		}
	}
	if extract {
		ctx = otel.GetTextMapPropagator().Extract(ctx, propagation.HeaderCarrier(r.Header))
	}
	route := c.Path()
	if !tracedPath(route) {
		if ctx != r.Context() {
			c.SetRequest(r.WithContext(ctx))
		}
		return s.recoverRequest(c, next)
	}
	tel := &st.tel
	st.traced = true
	tel.start = time.Now()
	var span trace.Span
	if s.metrics.tracing {
		name := r.Method
		if route != "" {
			name += " " + route
		}
		ctx, span = s.metrics.tracer.Start(ctx, name,
			trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(
				attribute.String("http.request.method", r.Method),
				attribute.String("http.route", route),
				attribute.String("url.path", r.URL.Path),
			))
	} else {
		// The client's span context, if any, so providers still see
		// its traceparent; ending or annotating it is a no-op.
		span = trace.SpanFromContext(ctx)
	}
	tel.ctx, tel.span = ctx, span
	if ctx != r.Context() {
		c.SetRequest(r.WithContext(ctx))
	}
	if err := s.recoverRequest(c, next); err != nil {
		// Let the error handler write the response now, so the span and
		// metrics see the final status.
		c.Error(err)
	}
	s.metrics.finish(c, tel)
	return nil
}

// watchFirstByte records when the response headers go out (time to first
// token for streams).
func (t *requestTelemetry) watchFirstByte(c echo.Context) {
	if t == nil || t.watching {
		return
	}
	t.watching = true
	c.Response().Before(func() { t.firstByte = time.Now() })
}

// tracedPath leaves scrapes, probes and dashboard assets out of traces.
func tracedPath(route string) bool {
	switch {
	case route == "/metrics", route == "/healthz", route == "/readyz", strings.HasPrefix(route, "/dashboard"):
		return false
	}
	return true
}

// telemetryOf returns the request's telemetry, or nil outside traceRequest
// and on untraced routes.
func telemetryOf(c echo.Context) *requestTelemetry {
	if st := stateOf(c); st.traced {
		return &st.tel
	}
	return nil
}

// begin binds an exchange to its request's telemetry: it records the
// normalize span (from the start of the handler to now) and the request
// attributes. Call it once the key is derived.
func (s *Server) begin(c echo.Context, x *exchange) *requestTelemetry {
	tel := telemetryOf(c)
	if tel == nil {
		return nil
	}
	tel.x = x
	if x.req.Stream {
		tel.watchFirstByte(c)
	}
	if !tel.span.IsRecording() {
		return tel
	}
	key := telemetryKey(x.key)
	_, span := s.metrics.tracer.Start(tel.ctx, "normalize", trace.WithTimestamp(tel.start),
		trace.WithAttributes(attrRequestModel.String(x.req.Model), attrCacheKey.String(key)))
	span.End()
	tel.span.SetAttributes(
		attrOperation.String(x.d.operation()),
		attrRequestModel.String(x.req.Model),
		attrRoute.String(x.route.Key()),
		attrProviderName.String(x.route.Provider),
		attrCacheKey.String(key),
	)
	return tel
}

// telemetryKey is a cache key for traces: the store key with its namespace
// (which names the tenant) replaced by a short hash of it, so traces
// shipped to a collector identify an entry without naming whose it is.
func telemetryKey(k cachekey.Key) string {
	sum := sha256.Sum256([]byte(k.Namespace))
	k.Namespace = "ns-" + hex.EncodeToString(sum[:8])
	return k.String()
}

func endSpan(span trace.Span, err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// endProviderSpan records the answer's GenAI attributes, or the error.
func endProviderSpan(span trace.Span, resp *normalize.Response, err error) {
	if !span.IsRecording() {
		span.End()
		return
	}
	if err != nil {
		span.SetAttributes(attrErrorType.String(errorType(err)))
		endSpan(span, err)
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

// errorType is the error.type of a failed call: the HTTP status for
// provider and client errors, else a short class.
func errorType(err error) string {
	ae := toAPIError(err)
	switch {
	case errors.Is(err, router.ErrStalled):
		return "stalled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case ae != nil && ae.Status > 0:
		return strconv.Itoa(ae.Status)
	}
	return "_OTHER"
}

// telemetryLogAttrs adds the route, provider and trace id to a request's
// log line.
func (s *Server) telemetryLogAttrs(c echo.Context, st *requestState, attrs []slog.Attr) []slog.Attr {
	if st.traced && st.tel.x != nil {
		x := st.tel.x
		attrs = append(attrs, slog.String("route", x.route.Key()), slog.String("provider", x.route.Provider))
	}
	if sc := trace.SpanContextFromContext(c.Request().Context()); sc.IsValid() {
		attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
	}
	return attrs
}

// httpStatusAttrs describe a finished response on its server span.
func httpStatusAttrs(status int) []attribute.KeyValue {
	attrs := []attribute.KeyValue{attribute.Int("http.response.status_code", status)}
	if status >= 400 {
		attrs = append(attrs, attrErrorType.String(strconv.Itoa(status)))
	}
	return attrs
}
