package providers

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
)

// InjectTrace writes the trace context of ctx (W3C traceparent) into h using
// the globally configured propagator, so provider calls join the caller's
// trace. It does nothing when no propagator is configured.
func InjectTrace(ctx context.Context, h http.Header) {
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(h))
}
