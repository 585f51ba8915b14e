package gateway

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/internal/fakeopenai"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/openai"
)

// BenchmarkHitLimiter measures what the rate limiter adds to a cache hit,
// in process (the echo handler's ServeHTTP, memory store), from 50
// goroutines (the c=50): "off" has no limits, "on" sets RPM and
// TPM limits no request reaches with hits free (the default), "count_hits"
// makes every hit pass the limiter's Admit and Settle and carry the
// x-ratelimit-* headers, and "count_hits,rate_headers_false" the same
// without the headers. The ratio of each to "off" is the limiter's cost
// (benchmarks/RESULTS.md).
func BenchmarkHitLimiter(b *testing.B) {
	body := chatBody("What's the weather like in SF?", false)
	run := func(b *testing.B, edit func(*configs.Limits)) {
		up := fakeopenai.New(b)
		cfg := configs.Default()
		if edit != nil {
			edit(&cfg.Limits)
		}
		if err := cfg.Validate(); err != nil {
			b.Fatal(err)
		}
		srv, err := New(context.Background(), cfg, Deps{
			Providers: map[string]providers.Provider{"openai": openai.New(openai.Options{BaseURL: up.BaseURL(), APIKey: "sk-test"})},
			Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = srv.Close() })
		h := srv.Handler()
		serve := func() string {
			req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Errorf("status %d: %s", w.Code, w.Body)
			}
			return w.Header().Get("X-Ditto-Cache")
		}
		serve() // the miss that fills the entry
		if got := serve(); got != "HIT" {
			b.Fatalf("second request: %s, want HIT", got)
		}
		b.ReportAllocs()
		b.SetParallelism(25) // 25 × GOMAXPROCS (2 here) = 50 goroutines
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if got := serve(); got != "HIT" {
					b.Errorf("got %s, want HIT", got)
					return
				}
			}
		})
	}
	limited := func(l *configs.Limits) {
		l.Default.RequestsPerMinute = 1 << 40
		l.Default.TokensPerMinute = 1 << 50
	}
	b.Run("off", func(b *testing.B) { run(b, nil) })
	b.Run("on", func(b *testing.B) { run(b, limited) })
	b.Run("count_hits", func(b *testing.B) {
		run(b, func(l *configs.Limits) { limited(l); l.CountHits = true })
	})
	b.Run("count_hits,rate_headers_false", func(b *testing.B) {
		run(b, func(l *configs.Limits) { limited(l); l.CountHits = true; l.RateHeaders = false })
	})
}
