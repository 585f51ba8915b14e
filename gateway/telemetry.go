package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/dittocache/ditto/cachekey"
	"github.com/dittocache/ditto/internal/telemetry"
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

// endProviderSpan records the answer's GenAI attributes, or the error.
func endProviderSpan(span trace.Span, resp *normalize.Response, err error) {
	if !span.IsRecording() {
		span.End()
		return
	}
	if err != nil {
		span.SetAttributes(attrErrorType.String(errorType(err)))
		telemetry.EndSpan(span, err)
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
