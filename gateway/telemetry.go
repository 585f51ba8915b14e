package gateway

import (
	"context"
	"log/slog"
	"net/textproto"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/dittocache/ditto/internal/telemetry"
	"github.com/dittocache/ditto/normalize"
)

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
	ctx, span = s.metrics.StartServer(ctx, r.Method, route, r.URL.Path)
	tel.ctx, tel.span = ctx, span
	if ctx != r.Context() {
		c.SetRequest(r.WithContext(ctx))
	}
	if err := s.recoverRequest(c, next); err != nil {
		// Let the error handler write the response now, so the span and
		// metrics see the final status.
		c.Error(err)
	}
	s.finish(c, tel)
	return nil
}

// finish hands a finished request to the telemetry.
func (s *Server) finish(c echo.Context, tel *requestTelemetry) {
	f := telemetry.Finished{Code: c.Response().Status, Start: tel.start}
	if x := tel.x; x != nil && tel.status != "" {
		f.Status, f.Resp, f.FirstByte, f.Saved = tel.status, tel.resp, tel.firstByte, x.saved
		f.Model, f.Upstream, f.Operation, f.Stream = x.route.Model, x.route.UpstreamModel, x.d.operation(), x.req.Stream
		if f.Status == "HIT" {
			f.Age = c.Response().Header().Get("Age")
		}
	}
	s.metrics.Finish(tel.span, f)
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
	s.metrics.Begin(tel.ctx, tel.span, tel.start, telemetry.Begun{
		Operation: x.d.operation(), Model: x.req.Model, Route: x.route.Key(), Provider: x.route.Provider, Key: x.key,
	})
	return tel
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
