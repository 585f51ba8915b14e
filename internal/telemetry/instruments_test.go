package telemetry

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// The instruments reach the Prometheus text format under the names the
// docs and the Grafana dashboard use, with the runtime collectors beside.
func TestInstrumentsExportPrometheusNames(t *testing.T) {
	in, err := NewInstruments("test")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Provider.Shutdown(context.Background())
	in.Coalesced.Add(context.Background(), 2, metric.WithAttributes(attribute.String("gen_ai.request.model", "gpt-4o")))
	in.ServerDuration.Record(context.Background(), 0.0007)
	w := httptest.NewRecorder()
	in.Handler.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	text := w.Body.String()
	for _, want := range []string{
		`ditto_cache_coalesced_total{gen_ai_request_model="gpt-4o"} 2`,
		`gen_ai_server_request_duration_seconds_bucket{le="0.001"} 1`,
		"go_goroutines",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
