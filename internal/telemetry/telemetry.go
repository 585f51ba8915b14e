// Package telemetry holds the process-wide OpenTelemetry setup (trace
// propagation and the OTLP exporter) and the metric helpers the gateway's
// hot path uses to record without sorting and hashing the same labels on
// every request.
package telemetry

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// Setup installs the process-wide OpenTelemetry settings: the W3C
// trace-context and baggage propagator (always, so a client's traceparent
// reaches providers even with tracing off) and, when getenv has
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, a tracer
// provider exporting spans with OTLP over HTTP/protobuf (otlpClient, which
// reads the exporter's variables from getenv). Everything else (sampler,
// resource attributes, service name) follows the standard OTEL_* variables.
// Without an endpoint, or with OTEL_SDK_DISABLED or
// OTEL_TRACES_EXPORTER=none, tracing stays a no-op.
//
// The returned shutdown flushes buffered spans; call it once on exit.
func Setup(ctx context.Context, getenv func(string) string, version string) (shutdown func(context.Context) error, err error) {
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
