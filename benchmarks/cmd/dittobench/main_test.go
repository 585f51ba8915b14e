package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dittocache/ditto/benchmarks/baseline"
	"github.com/dittocache/ditto/benchmarks/loadgen"
	"github.com/dittocache/ditto/benchmarks/upstream"
	"github.com/dittocache/ditto/benchmarks/workload"
)

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		give string
		ok   bool
	}{
		{"http://127.0.0.1:8080/v1", true},
		{"http://127.3.4.5:80", true},
		{"http://localhost:8080/v1", true},
		{"http://[::1]:8080/v1", true},
		{"http://10.0.0.1:8080/v1", false},
		{"https://api.openai.com/v1", false},
		{"127.0.0.1:8080", false}, // no scheme: not a base URL
	}
	for _, tt := range tests {
		if err := checkLoopback(tt.give); (err == nil) != tt.ok {
			t.Errorf("checkLoopback(%q) = %v, want ok %v", tt.give, err, tt.ok)
		}
	}
}

func TestTargetFlags(t *testing.T) {
	var tf targetFlags
	for _, v := range []string{"ditto=http://127.0.0.1:8080/v1/", "http://127.0.0.1:9000/v1"} {
		if err := tf.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	if tf[0].name != "ditto" || tf[0].base != "http://127.0.0.1:8080/v1" || tf[1].name != "http://127.0.0.1:9000/v1" {
		t.Errorf("targets = %+v", tf)
	}
}

// TestGridSideBySide runs a tiny grid in-process: direct upstream vs the
// memory baseline, and checks the table carries both rows with ratios and
// the upstream counts.
func TestGridSideBySide(t *testing.T) {
	up := upstream.New(upstream.Config{})
	us := httptest.NewServer(up)
	defer us.Close()
	bs := httptest.NewServer(baseline.NewMemory(baseline.NewForwarder(us.URL, 0)))
	defer bs.Close()
	ref := &upstreamRef{origin: us.URL}
	targets := []target{
		{name: "direct", base: us.URL + "/v1", up: ref},
		{name: "cache", base: bs.URL + "/v1", up: ref},
	}
	body := workload.Body(workload.Chat{Model: "gpt-4o-mini", Prompt: "hi"})
	l := load{name: "c=2", concurrency: 2, requests: 20}
	rows := grid(context.Background(), targets, []load{l}, 2, "k",
		func(target, load, int) loadgen.Source { return cycle([][]byte{body}) }, func(string) {})
	if len(rows) != 2 {
		t.Fatalf("got %d rows, want 2", len(rows))
	}
	d, c := rows[0], rows[1]
	if !d.ok() || !c.ok() || d.res.Requests != 20 || c.res.Requests != 20 {
		t.Fatalf("rows = %+v, %+v", d, c)
	}
	if d.calls.Requests != 20 || c.calls.Requests > 2 { // two cold concurrent misses at most
		t.Errorf("upstream calls: direct %d (want 20), cache %d (want ≤ 2)", d.calls.Requests, c.calls.Requests)
	}
	rep := &report{}
	throughputTable(rep.section("t"), rows, "direct")
	table := rep.sections[0].text[0]
	for _, want := range []string{"| direct | c=2 |", "| cache | c=2 |", "1.00×", "HIT "} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

func TestMS(t *testing.T) {
	tests := []struct {
		give time.Duration
		want string
	}{
		{250 * time.Microsecond, "0.250 ms"},
		{12345 * time.Microsecond, "12.3 ms"},
	}
	for _, tt := range tests {
		if got := ms(tt.give); got != tt.want {
			t.Errorf("ms(%v) = %q, want %q", tt.give, got, tt.want)
		}
	}
}

func TestCPUTimeOfSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	before, err := cpuTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	for i := range 50_000_000 { // burn some CPU; the assertion is on order only
		x += i
	}
	after, err := cpuTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after < before || x == 0 {
		t.Errorf("cpuTime went from %v to %v", before, after)
	}
	if _, err := cpuTime(0); err == nil {
		t.Error("cpuTime(0): got nil error")
	}
}

// TestMeasureContinuesAfterWarmup guards the miss scenarios: the measured
// phase must not replay the warm-up's unique prompts (they would hit).
func TestMeasureContinuesAfterWarmup(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[string(b)]++
		mu.Unlock()
		io.WriteString(w, "{}")
	}))
	defer srv.Close()
	src := func(i int64) loadgen.Request { return loadgen.Request{Body: []byte(strconv.FormatInt(i, 10))} }
	l := load{name: "c=2", concurrency: 2, warmup: 30 * time.Millisecond, duration: 30 * time.Millisecond}
	r := measure(context.Background(), target{name: "t", base: srv.URL + "/v1"}, l, src, "k")
	if !r.ok() {
		t.Fatalf("measure: %s", r.skip)
	}
	mu.Lock()
	defer mu.Unlock()
	for body, n := range seen {
		if n > 1 {
			t.Errorf("body %s sent %d times", body, n)
		}
	}
}

func TestWriteReportKeepsAddedSections(t *testing.T) {
	path := t.TempDir() + "/RESULTS.md"
	if err := writeReport(path, "# old\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append(b, "\n## Added by hand\n\nkeep me\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeReport(path, "# new\n"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := "# new\n\n" + keepMarker + "\n\n## Added by hand\n\nkeep me\n"
	if string(got) != want {
		t.Errorf("file = %q, want %q", got, want)
	}
}
