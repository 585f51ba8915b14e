package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/internal/fakeopenai"
	"github.com/dittocache/ditto/internal/redistest"
)

// Echo-mode answers from fakeopenai: model gpt-4o-2024-08-06, 10 prompt
// and 5 completion tokens, priced as gpt-4o ($2.50 and $10 per 1M).
const (
	echoIn, echoOut = 10, 5
	gpt4oHitUSD     = (echoIn*2.50 + echoOut*10.0) / 1e6
)

// send posts one chat request for model and returns the status and the
// X-Ditto-Cache header.
func send(t *testing.T, url, model, prompt string, stream bool, header ...string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"model":          model,
		"messages":       []map[string]string{{"role": "user", "content": prompt}},
		"stream":         stream,
		"stream_options": map[string]bool{"include_usage": stream},
	})
	if !stream {
		body, _ = json.Marshal(map[string]any{"model": model, "messages": []map[string]string{{"role": "user", "content": prompt}}})
	}
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/chat/completions", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("X-Ditto-Cache")
}

// scrape returns GET /metrics.
func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

var labelRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// metricValue sums the samples of name whose labels include every label
// in want (Prometheus text format). found reports whether any matched.
func metricValue(text, name string, want map[string]string) (sum float64, found bool) {
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		series, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		n, labels, _ := strings.Cut(series, "{")
		if n != name {
			continue
		}
		got := map[string]string{}
		for _, m := range labelRE.FindAllStringSubmatch(labels, -1) {
			got[m[1]] = m[2]
		}
		match := true
		for k, v := range want {
			if got[k] != v {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		v, err := strconv.ParseFloat(strings.Fields(val)[0], 64)
		if err == nil {
			sum += v
			found = true
		}
	}
	return sum, found
}

// expectMetric checks one value of a scrape.
func expectMetric(t *testing.T, text, name string, labels map[string]string, want float64) {
	t.Helper()
	got, found := metricValue(text, name, labels)
	if !found && want != 0 {
		t.Errorf("%s%v: missing, want %v", name, labels, want)
		return
	}
	if math.Abs(got-want) > 1e-12 {
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

// statsReport is the part of GET /v1/cache/stats the tests read.
type statsReport struct {
	Window string `json:"window"`
	Totals struct {
		Requests, Hits, Misses, Coalesced, Bypasses, Errors int64
		HitRatio                                            *float64 `json:"hit_ratio"`
		TokensSaved                                         int64    `json:"tokens_saved"`
		CostSavedUSD                                        float64  `json:"cost_saved_usd"`
		UpstreamCalls                                       int64    `json:"upstream_calls"`
	} `json:"totals"`
	Models []struct {
		Model       string   `json:"model"`
		Requests    int64    `json:"requests"`
		Hits        int64    `json:"hits"`
		Misses      int64    `json:"misses"`
		Bypasses    int64    `json:"bypasses"`
		Errors      int64    `json:"errors"`
		HitRatio    *float64 `json:"hit_ratio"`
		HitLatency  *float64 `json:"hit_latency_ms"`
		MissLatency *float64 `json:"miss_latency_ms"`
		HitTTFT     *float64 `json:"hit_ttft_ms"`
		TokensSaved int64    `json:"tokens_saved"`
		CostSaved   float64  `json:"cost_saved_usd"`
		Series      []struct {
			T        int64 `json:"t"`
			Requests int64 `json:"requests"`
		} `json:"series"`
	} `json:"models"`
	Store struct {
		Kind    string `json:"kind"`
		Breaker string `json:"breaker"`
	} `json:"store"`
	Stats struct {
		Backend string `json:"backend"`
	} `json:"stats"`
}

func getStats(t *testing.T, url, query string) (int, statsReport) {
	t.Helper()
	resp, err := http.Get(url + "/v1/cache/stats" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r statsReport
	if resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, r
}

// settle waits until the gateway has recorded n chat requests. Metrics and
// statistics are recorded when a handler returns, which may be just after
// the client has its answer; ditto_cache_requests_total is recorded last.
func settle(t *testing.T, url string, n int64) {
	t.Helper()
	waitFor(t, func() bool {
		v, _ := metricValue(scrape(t, url), "ditto_cache_requests_total", nil)
		return int64(v) == n
	})
}

// endedSpans waits until a span named name has ended, then returns them all.
func endedSpans(t *testing.T, rec *tracetest.SpanRecorder, name string) []sdktrace.ReadOnlySpan {
	t.Helper()
	var spans []sdktrace.ReadOnlySpan
	waitFor(t, func() bool {
		spans = rec.Ended()
		for _, s := range spans {
			if s.Name() == name {
				return true
			}
		}
		return false
	})
	return spans
}

func ratio(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

func TestMetricsAndStatsCountScriptedTraffic(t *testing.T) {
	g := newTestGateway(t, testOpts{})
	g.up.SetEcho(true)
	// gpt-4o: 3 misses then 7 hits (one streamed), 1 bypass, 1 error.
	for i := 0; i < 3; i++ {
		if _, st := send(t, g.url, "gpt-4o", "q"+strconv.Itoa(i), false); st != "MISS" {
			t.Fatalf("first q%d: %s", i, st)
		}
	}
	for i := 0; i < 7; i++ {
		if _, st := send(t, g.url, "gpt-4o", "q"+strconv.Itoa(i%3), i == 6); st != "HIT" {
			t.Fatalf("repeat %d: %s", i, st)
		}
	}
	if _, st := send(t, g.url, "gpt-4o", "q0", false, "Cache-Control", "no-store"); st != "BYPASS" {
		t.Fatalf("no-store: %s", st)
	}
	g.up.FailNext(fakeFailure(400))
	if code, _ := send(t, g.url, "gpt-4o", "bad", false); code != 400 {
		t.Fatalf("failing upstream: %d", code)
	}
	// gpt-4o-mini: 1 miss, 1 hit. An unconfigured model name: "other".
	send(t, g.url, "gpt-4o-mini", "m", false)
	send(t, g.url, "gpt-4o-mini", "m", false)
	send(t, g.url, "someones-random-model-7f3a", "r", false)
	settle(t, g.url, 15)

	m := scrape(t, g.url)
	req := "ditto_cache_requests_total"
	for _, tt := range []struct {
		model, status string
		want          float64
	}{
		{"gpt-4o", "hit", 7}, {"gpt-4o", "miss", 3}, {"gpt-4o", "bypass", 1}, {"gpt-4o", "error", 1}, {"gpt-4o", "coalesced", 0},
		{"gpt-4o-mini", "hit", 1}, {"gpt-4o-mini", "miss", 1},
		{"other", "miss", 1},
	} {
		expectMetric(t, m, req, map[string]string{"gen_ai_request_model": tt.model, "ditto_cache_status": tt.status}, tt.want)
	}
	if strings.Contains(m, "someones-random-model") {
		t.Error("an unconfigured model name reached a metric label")
	}
	gpt := map[string]string{"gen_ai_request_model": "gpt-4o"}
	expectMetric(t, m, "ditto_cache_tokens_saved_total", map[string]string{"gen_ai_request_model": "gpt-4o", "gen_ai_token_type": "input"}, 7*echoIn)
	expectMetric(t, m, "ditto_cache_tokens_saved_total", map[string]string{"gen_ai_request_model": "gpt-4o", "gen_ai_token_type": "output"}, 7*echoOut)
	if got, _ := metricValue(m, "ditto_cache_cost_saved_total", gpt); math.Abs(got-7*gpt4oHitUSD) > 1e-12 {
		t.Errorf("cost saved for gpt-4o = %v, want %v", got, 7*gpt4oHitUSD)
	}
	expectMetric(t, m, "gen_ai_server_request_duration_seconds_count", map[string]string{"gen_ai_request_model": "gpt-4o", "ditto_cache_status": "hit", "gen_ai_operation_name": "chat"}, 7)
	expectMetric(t, m, "gen_ai_server_request_duration_seconds_count", map[string]string{"gen_ai_request_model": "gpt-4o", "ditto_cache_status": "error", "error_type": "400"}, 1)
	expectMetric(t, m, "gen_ai_server_time_to_first_token_seconds_count", map[string]string{"gen_ai_request_model": "gpt-4o", "ditto_cache_status": "hit"}, 1)
	// Provider calls: 3 misses + 1 bypass + 1 error for gpt-4o.
	up := map[string]string{"gen_ai_request_model": "gpt-4o", "gen_ai_provider_name": "openai", "gen_ai_operation_name": "chat"}
	expectMetric(t, m, "gen_ai_client_operation_duration_seconds_count", up, 5)
	expectMetric(t, m, "gen_ai_client_token_usage_sum", map[string]string{"gen_ai_request_model": "gpt-4o", "gen_ai_response_model": "gpt-4o-2024-08-06", "gen_ai_token_type": "input"}, 4*echoIn)
	expectMetric(t, m, "ditto_upstream_errors_total", map[string]string{"gen_ai_request_model": "gpt-4o", "error_type": "400"}, 1)
	expectMetric(t, m, "ditto_store_errors_total", nil, 0)
	expectMetric(t, m, "ditto_cache_digest_mismatches_total", nil, 0)

	code, s := getStats(t, g.url, "?window=1h")
	if code != 200 {
		t.Fatalf("stats: %d", code)
	}
	if s.Stats.Backend != "memory" || s.Store.Kind != "memory" {
		t.Errorf("backends: stats %q, store %q", s.Stats.Backend, s.Store.Kind)
	}
	if len(s.Models) != 3 || s.Models[0].Model != "gpt-4o" {
		t.Fatalf("models = %+v", s.Models)
	}
	g4 := s.Models[0]
	if g4.Requests != 12 || g4.Hits != 7 || g4.Misses != 3 || g4.Bypasses != 1 || g4.Errors != 1 || ratio(g4.HitRatio) != 0.7 {
		t.Errorf("gpt-4o stats = %+v, hit ratio %v; want 12 requests, 7 hits, 3 misses, 70%%", g4, ratio(g4.HitRatio))
	}
	if g4.TokensSaved != 7*(echoIn+echoOut) || math.Abs(g4.CostSaved-7*gpt4oHitUSD) > 1e-12 {
		t.Errorf("gpt-4o saved %d tokens, $%v", g4.TokensSaved, g4.CostSaved)
	}
	if g4.HitLatency == nil || g4.MissLatency == nil || g4.HitTTFT == nil || len(g4.Series) != 60 {
		t.Errorf("gpt-4o latencies %v/%v, ttft %v, %d points", g4.HitLatency, g4.MissLatency, g4.HitTTFT, len(g4.Series))
	}
	if s.Totals.Requests != 15 || s.Totals.UpstreamCalls != 7 {
		t.Errorf("totals = %+v, want 15 requests and 7 upstream calls", s.Totals)
	}
	_, only := getStats(t, g.url, "?window=7d&model=gpt-4o-mini")
	if len(only.Models) != 1 || only.Totals.Requests != 2 || ratio(only.Totals.HitRatio) != 0.5 {
		t.Errorf("7d gpt-4o-mini = %+v", only)
	}
	if code, _ := getStats(t, g.url, "?window=2w"); code != 400 {
		t.Errorf("window=2w: %d, want 400", code)
	}
}

func TestStatsAggregateAcrossGatewaysSharingRedis(t *testing.T) {
	srv := redistest.Start(t)
	shared := func(c *configs.Config) { c.Cache.Redis.URL = configs.Secret(srv.URL()) }
	a := newTestGateway(t, testOpts{cfg: shared})
	b := newTestGateway(t, testOpts{cfg: shared})
	a.up.SetEcho(true)
	b.up.SetEcho(true)
	// 3 misses and 2 hits on a; 5 hits on b, from the entries a stored.
	for i := 0; i < 3; i++ {
		send(t, a.url, "gpt-4o", "q"+strconv.Itoa(i), false)
	}
	for i := 0; i < 2; i++ {
		send(t, a.url, "gpt-4o", "q"+strconv.Itoa(i), false)
	}
	for i := 0; i < 5; i++ {
		if _, st := send(t, b.url, "gpt-4o", "q"+strconv.Itoa(i%3), false); st != "HIT" {
			t.Fatalf("b request %d: %s, want HIT from the shared store", i, st)
		}
	}
	settle(t, a.url, 5)
	settle(t, b.url, 5)
	// Each gateway's /metrics counts its own traffic.
	ma, mb := scrape(t, a.url), scrape(t, b.url)
	expectMetric(t, ma, "ditto_cache_requests_total", map[string]string{"gen_ai_request_model": "gpt-4o", "ditto_cache_status": "miss"}, 3)
	expectMetric(t, ma, "ditto_cache_requests_total", map[string]string{"gen_ai_request_model": "gpt-4o", "ditto_cache_status": "hit"}, 2)
	expectMetric(t, mb, "ditto_cache_requests_total", map[string]string{"gen_ai_request_model": "gpt-4o", "ditto_cache_status": "hit"}, 5)
	expectMetric(t, mb, "ditto_cache_requests_total", map[string]string{"gen_ai_request_model": "gpt-4o", "ditto_cache_status": "miss"}, 0)
	expectMetric(t, ma, "ditto_store_breaker_state", map[string]string{"state": "closed"}, 1)
	expectMetric(t, ma, "ditto_store_breaker_state", map[string]string{"state": "open"}, 0)

	// Both dashboards show the cluster: 7 hits, 3 misses.
	for _, g := range []*testGateway{a, b} {
		if err := g.metrics.Stats.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for name, g := range map[string]*testGateway{"a": a, "b": b} {
		for _, w := range []string{"1h", "24h", "7d"} {
			code, s := getStats(t, g.url, "?window="+w)
			if code != 200 || len(s.Models) != 1 {
				t.Fatalf("%s %s: %d %+v", name, w, code, s)
			}
			m := s.Models[0]
			if m.Model != "gpt-4o" || m.Hits != 7 || m.Misses != 3 || ratio(m.HitRatio) != 0.7 {
				t.Errorf("%s %s: %+v hit ratio %v, want 7 hits, 3 misses, 70%%", name, w, m, ratio(m.HitRatio))
			}
			if s.Totals.UpstreamCalls != 3 || s.Stats.Backend != "redis" || s.Store.Kind != "redis" || s.Store.Breaker != "closed" {
				t.Errorf("%s %s: upstream calls %d, stats %q, store %+v", name, w, s.Totals.UpstreamCalls, s.Stats.Backend, s.Store)
			}
		}
	}
}

func TestPricingConfigOverridesCatalog(t *testing.T) {
	g := newTestGateway(t, testOpts{cfg: func(c *configs.Config) {
		c.Pricing = map[string]configs.Price{"gpt-4o": {Input: 1, Output: 2}}
		c.Routes = []configs.Route{{Model: "house", Provider: "openai", UpstreamModel: "gpt-4o"}}
	}})
	g.up.SetEcho(true)
	send(t, g.url, "house", "p", false)
	send(t, g.url, "house", "p", false)
	settle(t, g.url, 2)
	m := scrape(t, g.url)
	// Priced by the model that answered (gpt-4o-2024-08-06 → gpt-4o), at
	// the configured price; labelled by the configured route name.
	expectMetric(t, m, "ditto_cache_cost_saved_total", map[string]string{"gen_ai_request_model": "house"}, (echoIn*1+echoOut*2)/1e6)
	expectMetric(t, m, "ditto_cache_requests_total", map[string]string{"gen_ai_request_model": "house", "ditto_cache_status": "hit"}, 1)
}

// traced builds a gateway whose spans go to a recorder, with the W3C
// propagator installed as SetupTelemetry does.
func traced(t *testing.T) (*testGateway, *tracetest.SpanRecorder) {
	t.Helper()
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	g := newTestGatewayWith(t, func(c *configs.Config, d *Deps) { d.TracerProvider = tp })
	g.up.SetEcho(true)
	return g, rec
}

func spanAttrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

func TestTracesFollowTheRequest(t *testing.T) {
	g, rec := traced(t)
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	send(t, g.url, "gpt-4o", "traced", false, "traceparent", parent)

	spans := endedSpans(t, rec, "POST /v1/chat/completions")
	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byName[s.Name()] = s
	}
	server, ok := byName["POST /v1/chat/completions"]
	if !ok {
		t.Fatalf("no server span among %d spans", len(spans))
	}
	if server.SpanKind() != trace.SpanKindServer || server.Parent().SpanID().String() != "00f067aa0ba902b7" ||
		server.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("server span: kind %v, parent %v, trace %v", server.SpanKind(), server.Parent().SpanID(), server.SpanContext().TraceID())
	}
	sa := spanAttrs(server)
	if sa["ditto.cache.status"].AsString() != "miss" || sa["gen_ai.request.model"].AsString() != "gpt-4o" || !strings.HasPrefix(sa["ditto.cache.key"].AsString(), "ditto:") {
		t.Errorf("server span attributes = %v", sa)
	}
	for _, name := range []string{"normalize", "cache lookup", "store get", "chat gpt-4o", "store set"} {
		s, ok := byName[name]
		if !ok {
			t.Errorf("no %q span", name)
			continue
		}
		if s.SpanContext().TraceID() != server.SpanContext().TraceID() {
			t.Errorf("%q is in another trace", name)
		}
	}
	call := byName["chat gpt-4o"]
	if call.Parent().SpanID() != server.SpanContext().SpanID() || call.SpanKind() != trace.SpanKindClient {
		t.Errorf("provider span: parent %v, kind %v", call.Parent().SpanID(), call.SpanKind())
	}
	ca := spanAttrs(call)
	want := map[attribute.Key]string{
		"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
		"gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06",
	}
	for k, v := range want {
		if ca[k].AsString() != v {
			t.Errorf("provider span %s = %q, want %q", k, ca[k].AsString(), v)
		}
	}
	if ca["gen_ai.usage.input_tokens"].AsInt64() != echoIn || ca["gen_ai.usage.output_tokens"].AsInt64() != echoOut ||
		strings.Join(ca["gen_ai.response.finish_reasons"].AsStringSlice(), ",") != "stop" {
		t.Errorf("provider span usage/finish = %v", ca)
	}
	if lookup := byName["store get"]; lookup.Parent().SpanID() != byName["cache lookup"].SpanContext().SpanID() {
		t.Error("store get is not a child of cache lookup")
	}
	// The provider received the trace context of the provider span.
	h := g.up.Headers()
	if len(h) != 1 || !strings.Contains(h[0].Get("Traceparent"), "4bf92f3577b34da6a3ce929d0e0e4736-"+call.SpanContext().SpanID().String()) {
		t.Errorf("upstream traceparent = %q, want the provider span's", h[0].Get("Traceparent"))
	}

	rec.Reset()
	send(t, g.url, "gpt-4o", "traced", false)
	for _, s := range endedSpans(t, rec, "POST /v1/chat/completions") {
		if s.Name() == "chat gpt-4o" {
			t.Error("a hit made a provider call")
		}
		if s.Name() == "POST /v1/chat/completions" {
			a := spanAttrs(s)
			if a["ditto.cache.status"].AsString() != "hit" || a["ditto.cache.age"].Type() != attribute.INT64 {
				t.Errorf("hit span attributes = %v", a)
			}
		}
	}
}

func TestCoalescedFollowerIsCountedAndTraced(t *testing.T) {
	g, rec := traced(t)
	release := g.up.Block()
	arrived := g.up.Arrivals()
	statuses := make(chan string, 2)
	go func() {
		_, st, _ := completion(t, g.url, "together")
		statuses <- st
	}()
	<-arrived
	key := g.flightKeyFor(t, chatBody("together", false))
	go func() {
		_, st, _ := completion(t, g.url, "together")
		statuses <- st
	}()
	waitFor(t, func() bool { return g.waiters(key) == 2 })
	release()
	got := []string{<-statuses, <-statuses}
	if !(got[0] == "MISS" && got[1] == "COALESCED" || got[0] == "COALESCED" && got[1] == "MISS") {
		t.Fatalf("statuses = %v, want one MISS and one COALESCED", got)
	}
	settle(t, g.url, 2)
	m := scrape(t, g.url)
	expectMetric(t, m, "ditto_cache_coalesced_total", map[string]string{"gen_ai_request_model": "gpt-4o"}, 1)
	expectMetric(t, m, "ditto_cache_requests_total", map[string]string{"gen_ai_request_model": "gpt-4o", "ditto_cache_status": "coalesced"}, 1)
	expectMetric(t, m, "ditto_cache_tokens_saved_total", map[string]string{"gen_ai_request_model": "gpt-4o"}, echoIn+echoOut)
	expectMetric(t, m, "gen_ai_client_operation_duration_seconds_count", map[string]string{"gen_ai_request_model": "gpt-4o"}, 1)
	_, s := getStats(t, g.url, "")
	if s.Totals.Coalesced != 1 || s.Totals.Misses != 1 || ratio(s.Totals.HitRatio) != 0 || s.Totals.UpstreamCalls != 1 {
		t.Errorf("stats totals = %+v", s.Totals)
	}

	var wait, follower sdktrace.ReadOnlySpan
	for _, sp := range rec.Ended() {
		switch {
		case sp.Name() == "coalesce wait":
			wait = sp
		case sp.Name() == "POST /v1/chat/completions" && spanAttrs(sp)["ditto.cache.status"].AsString() == "coalesced":
			follower = sp
		}
	}
	if wait == nil || follower == nil {
		t.Fatalf("coalesce wait span %v, follower server span %v", wait != nil, follower != nil)
	}
	if wait.Parent().SpanID() != follower.SpanContext().SpanID() {
		t.Error("coalesce wait is not a child of the follower's server span")
	}
}

func fakeFailure(status int) fakeopenai.Failure { return fakeopenai.Failure{Status: status} }

// restoreOTel puts back the global propagator and leaves a no-op tracer
// provider behind.
func restoreOTel(t *testing.T) {
	prop := otel.GetTextMapPropagator()
	t.Cleanup(func() {
		otel.SetTracerProvider(noop.NewTracerProvider())
		otel.SetTextMapPropagator(prop)
	})
}

func TestRequestLogNamesRouteProviderAndTrace(t *testing.T) {
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })
	var mu sync.Mutex
	var buf strings.Builder
	g := newTestGatewayWith(t, func(c *configs.Config, d *Deps) {
		d.Logger = slog.New(slog.NewJSONHandler(lockedWriter{&mu, &buf}, nil))
	})
	g.up.SetEcho(true)
	send(t, g.url, "gpt-4o", "a secret prompt", false, "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	// The line is written once the handler returns, maybe after the client
	// has its answer.
	var out string
	var line map[string]any
	waitFor(t, func() bool {
		mu.Lock()
		out = buf.String()
		mu.Unlock()
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "request" {
				line = m
			}
		}
		return line != nil
	})
	want := map[string]string{"model": "gpt-4o", "cache": "MISS", "route": "openai/gpt-4o", "provider": "openai",
		"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("request log %s = %v, want %q (line %v)", k, line[k], v, line)
		}
	}
	if us, ok := line["latency_us"].(float64); !ok || us < 0 || us != float64(int64(us)) {
		t.Errorf("request log latency_us = %v, want whole microseconds", line["latency_us"])
	}
	if strings.Contains(out, "secret prompt") {
		t.Error("the prompt reached the log")
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// With tracing off (the no-op provider SetupTelemetry installs without an
// exporter) no span is opened, but a client's trace context still reaches
// the provider unchanged, and untraced requests carry none.
func TestTraceContextReachesProvidersWithTracingOff(t *testing.T) {
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })
	g := newTestGatewayWith(t, func(c *configs.Config, d *Deps) { d.TracerProvider = noop.NewTracerProvider() })
	g.up.SetEcho(true)
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	send(t, g.url, "gpt-4o", "traced, tracing off", false, "traceparent", parent)
	send(t, g.url, "gpt-4o", "not traced", false)
	h := g.up.Headers()
	if len(h) != 2 {
		t.Fatalf("upstream saw %d requests, want 2", len(h))
	}
	if got := h[0].Get("Traceparent"); got != parent {
		t.Errorf("upstream traceparent %q, want the client's %q", got, parent)
	}
	if got := h[1].Get("Traceparent"); got != "" {
		t.Errorf("untraced request sent traceparent %q upstream", got)
	}
}
