package telemetry

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// decodeExport parses an ExportTraceServiceRequest body into the names of
// its spans.
func decodeExport(t *testing.T, b []byte) []string {
	t.Helper()
	var names []string
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num != 1 || typ != protowire.BytesType {
			t.Fatalf("export body: field %d type %d (%d), want resource_spans", num, typ, n)
		}
		b = b[n:]
		m, n := protowire.ConsumeBytes(b)
		if n < 0 {
			t.Fatal("export body: truncated resource_spans")
		}
		b = b[n:]
		var rs tracepb.ResourceSpans
		if err := proto.Unmarshal(m, &rs); err != nil {
			t.Fatal(err)
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				names = append(names, s.Name)
			}
		}
	}
	return names
}

// The client speaks OTLP/HTTP as collectors read it: the traces path,
// protobuf, the configured headers, gzip, and retries of a 503.
func TestOTLPClientExports(t *testing.T) {
	var calls atomic.Int32
	got := make(chan []string, 4)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.URL.Path != "/custom/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" ||
			r.Header.Get("Api-Key") != "secret value" || r.Header.Get("X-Team") != "a" || r.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("export %s %v", r.URL.Path, r.Header)
		}
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(zr)
		got <- decodeExport(t, b)
	}))
	defer collector.Close()
	c, err := newOTLPClient(envMap(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":        "http://127.0.0.1:1", // the traces one wins
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": collector.URL + "/custom/traces",
		"OTEL_EXPORTER_OTLP_HEADERS":         "api-key=secret%20value, x-team=a",
		"OTEL_EXPORTER_OTLP_COMPRESSION":     "gzip",
		"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT":  "5000",
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	exp, err := otlptrace.New(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	_, span := tp.Tracer("test").Start(ctx, "probe")
	span.End()
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case names := <-got:
		if len(names) != 1 || names[0] != "probe" {
			t.Errorf("exported spans %v, want [probe]", names)
		}
	default:
		t.Fatal("nothing exported")
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("collector calls = %d, want 2 (a 503, then the retry)", n)
	}
}

func TestOTLPClientConfig(t *testing.T) {
	c, err := newOTLPClient(envMap(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"}))
	if err != nil || c.endpoint != "http://collector:4318/v1/traces" || c.timeout.Seconds() != 10 || c.gzip {
		t.Errorf("defaults: %+v, %v", c, err)
	}
	pem := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(pem, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, env := range []map[string]string{
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_TIMEOUT": "soon"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_HEADERS": "novalue"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_CERTIFICATE": pem},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_CERTIFICATE": pem + ".missing"},
	} {
		if _, err := newOTLPClient(envMap(env)); err == nil {
			t.Errorf("newOTLPClient(%v) succeeded", env)
		}
	}
	// A collector that refuses for good is not retried.
	var calls atomic.Int32
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusBadRequest)
	}))
	defer bad.Close()
	c, err = newOTLPClient(envMap(map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": bad.URL}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.UploadTraces(context.Background(), []*tracepb.ResourceSpans{{}}); err == nil || calls.Load() != 1 {
		t.Errorf("UploadTraces to a 400 = %v after %d calls; want an error after 1", err, calls.Load())
	}
	_ = c.Stop(context.Background())
}
