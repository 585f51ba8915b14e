package loadgen

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestQuantileKnownData(t *testing.T) {
	h := newHist()
	for v := int64(1); v <= 10000; v++ { // 1 µs … 10 ms, uniform
		h.RecordValue(v)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{50, 5000 * time.Microsecond},
		{90, 9000 * time.Microsecond},
		{99, 9900 * time.Microsecond},
		{99.9, 9990 * time.Microsecond},
	}
	for _, tt := range tests {
		got := Quantile(h, tt.q)
		// 3 significant digits: within 0.1% of the exact value.
		if d := got - tt.want; d < -tt.want/1000 || d > tt.want/1000 {
			t.Errorf("Quantile(p%v) = %v, want %v ±0.1%%", tt.q, got, tt.want)
		}
	}
}

func TestQuantileSkewed(t *testing.T) {
	h := newHist()
	for range 990 {
		h.RecordValue(100) // 100 µs
	}
	for range 10 {
		h.RecordValue(50000) // 50 ms outliers: 1%
	}
	if got := Quantile(h, 50); got != 100*time.Microsecond {
		t.Errorf("p50 = %v, want 100µs", got)
	}
	if got := Quantile(h, 99); got != 100*time.Microsecond {
		t.Errorf("p99 = %v, want 100µs", got)
	}
	if got := Quantile(h, 99.9); got < 49*time.Millisecond || got > 51*time.Millisecond {
		t.Errorf("p99.9 = %v, want ≈50ms", got)
	}
}

func TestAppendTail(t *testing.T) {
	var tail []byte
	for _, p := range []string{"abc", "defgh", "ij"} {
		tail = appendTail(tail, []byte(p), 4)
	}
	if string(tail) != "ghij" {
		t.Errorf("tail = %q, want ghij", tail)
	}
}

func server(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestRunClosedLoopCountsAndErrors(t *testing.T) {
	var calls atomic.Int64
	url := server(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("Authorization") != "Bearer k" {
			http.Error(w, "no auth", http.StatusUnauthorized)
			return
		}
		if calls.Add(1)%4 == 0 || string(b) == "fail" {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		w.Header().Set("X-Ditto-Cache", "HIT")
		io.WriteString(w, `{"ok":true}`)
	})
	res, err := Run(context.Background(), Config{
		URL:         url,
		Source:      func(i int64) Request { return Request{Body: []byte(`{}`)} },
		Header:      http.Header{"Authorization": {"Bearer k"}},
		Concurrency: 4,
		MaxRequests: 100,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 100 || calls.Load() != 100 {
		t.Fatalf("Requests = %d, server calls = %d, want 100 each", res.Requests, calls.Load())
	}
	if res.Errors != 25 || res.ErrKinds["status 500"] != 25 {
		t.Errorf("Errors = %d %v, want 25 status 500", res.Errors, res.ErrKinds)
	}
	if res.CacheCount("HIT") != 75 || res.Latency.TotalCount() != 75 {
		t.Errorf("HIT = %d, recorded = %d, want 75", res.CacheCount("HIT"), res.Latency.TotalCount())
	}
	if !strings.Contains(res.ErrFirst, "boom") {
		t.Errorf("ErrFirst = %q, want the body", res.ErrFirst)
	}
}

func TestRunOpenLoopSendsSequence(t *testing.T) {
	var seen [50]atomic.Int32
	url := server(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		i, _ := strconv.Atoi(string(b))
		seen[i].Add(1)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {}\n\n")
		if i%10 != 0 {
			io.WriteString(w, "data: [DONE]\n\n")
		}
	})
	res, err := Run(context.Background(), Config{
		URL:         url,
		Source:      func(i int64) Request { return Request{Body: strconv.AppendInt(nil, i, 10)} },
		Rate:        2000,
		MaxRequests: 50,
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range seen {
		if n := seen[i].Load(); n != 1 {
			t.Errorf("request %d sent %d times, want once", i, n)
		}
	}
	if res.Requests != 50 || res.ErrKinds["stream without [DONE]"] != 5 {
		t.Errorf("Requests = %d, errors = %v; want 50 and 5 unterminated streams", res.Requests, res.ErrKinds)
	}
	if res.TTFB.TotalCount() != 45 {
		t.Errorf("TTFB samples = %d, want 45", res.TTFB.TotalCount())
	}
}

func TestRunRejectsUnbounded(t *testing.T) {
	_, err := Run(context.Background(), Config{URL: "http://127.0.0.1:1", Source: func(int64) Request { return Request{} }})
	if err == nil {
		t.Fatal("Run with neither Duration nor MaxRequests: got nil error")
	}
}

func TestRunStopsWithContext(t *testing.T) {
	url := server(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") })
	for _, cfg := range []Config{{Rate: 200}, {Concurrency: 2}} {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		cfg.URL, cfg.Duration = url, time.Hour
		cfg.Source = func(int64) Request { return Request{Body: []byte(`{}`)} }
		res, err := Run(ctx, cfg)
		cancel()
		if err != context.DeadlineExceeded {
			t.Errorf("Run(rate %v) error = %v, want context.DeadlineExceeded", cfg.Rate, err)
		}
		if res == nil || res.Requests == 0 {
			t.Errorf("Run(rate %v) recorded nothing before the deadline", cfg.Rate)
		}
	}
}

func TestRunStopOnError(t *testing.T) {
	var calls atomic.Int64
	url := server(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 3 {
			http.Error(w, "boom", http.StatusBadGateway)
			return
		}
		io.WriteString(w, "{}")
	})
	res, err := Run(context.Background(), Config{
		URL: url, Source: func(int64) Request { return Request{Body: []byte(`{}`)} },
		MaxRequests: 100, StopOnError: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 3 || res.Errors != 1 {
		t.Errorf("Requests = %d, Errors = %d; want to stop after the failed third", res.Requests, res.Errors)
	}
}
