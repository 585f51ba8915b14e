package telemetry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/dittocache/ditto/internal/leaktest"
)

// restoreOTel puts back the global propagator and a no-op tracer provider
// when the test ends.
func restoreOTel(t *testing.T) {
	prop := otel.GetTextMapPropagator()
	t.Cleanup(func() {
		otel.SetTracerProvider(noop.NewTracerProvider())
		otel.SetTextMapPropagator(prop)
	})
}

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestSetupTelemetryExportsOTLPOverHTTP(t *testing.T) {
	restoreOTel(t)
	type export struct{ path, contentType string }
	got := make(chan export, 16)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		got <- export{r.URL.Path, r.Header.Get("Content-Type")}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	// The exporter reads the standard variables itself; getenv decides
	// whether tracing is on.
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	ctx := context.Background()
	shutdown, err := Setup(ctx, envMap(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL}), "test")
	if err != nil {
		t.Fatal(err)
	}
	_, span := otel.Tracer("test").Start(ctx, "probe")
	if !span.SpanContext().IsValid() {
		t.Error("tracing is on but spans are not recorded")
	}
	span.End()
	if err := shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	select {
	case e := <-got:
		if e.path != "/v1/traces" || e.contentType != "application/x-protobuf" {
			t.Errorf("export to %s as %s, want /v1/traces as application/x-protobuf", e.path, e.contentType)
		}
	default:
		t.Fatal("shutdown returned before the span was exported")
	}
}

func TestSetupTelemetryIsOffWithoutEndpoint(t *testing.T) {
	restoreOTel(t)
	shutdown, err := Setup(context.Background(), envMap(nil), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(context.Background())
	_, span := otel.Tracer("test").Start(context.Background(), "probe")
	if span.IsRecording() {
		t.Error("spans are recorded with no OTLP endpoint")
	}
	if f := otel.GetTextMapPropagator().Fields(); !slices.Contains(f, "traceparent") || !slices.Contains(f, "baggage") {
		t.Errorf("propagator fields = %v, want traceparent and baggage", f)
	}
	for _, env := range []map[string]string{
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
		{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:1/v1/traces", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"},
	} {
		if _, err := Setup(context.Background(), envMap(env), "test"); err == nil {
			t.Errorf("Setup(%v) succeeded; only http/protobuf is supported", env)
		}
	}
}

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }
