package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
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

func TestMicros(t *testing.T) {
	for give, want := range map[float64]string{4612: "4.61 µs", 67584: "67.6 µs", 1152734: "1153 µs"} {
		if got := micros(give); got != want {
			t.Errorf("micros(%v) = %q, want %q", give, got, want)
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

// Captured `go test -bench` output (go1.26, GOMAXPROCS 2).
const decodeOut = `goos: linux
goarch: amd64
pkg: github.com/dittocache/ditto/normalize
cpu: AMD EPYC
BenchmarkDecodeCanonicalKey/1KB-2         	   29148	      8754 ns/op	 124.06 MB/s	      7019 cpu-ns/op	    3538 B/op	      15 allocs/op
BenchmarkDecodeCanonicalKey/1KB-2         	   23847	     11550 ns/op	  94.03 MB/s	      8256 cpu-ns/op	    3537 B/op	      15 allocs/op
BenchmarkDecodeCanonicalKey/1KB-2         	   41020	      4612 ns/op	 235.47 MB/s	      4590 cpu-ns/op	    3537 B/op	      15 allocs/op
BenchmarkDecodeCanonicalKey/16KB-2        	    3121	     67584 ns/op	 242.03 MB/s	     56222 cpu-ns/op	   49910 B/op	      58 allocs/op
PASS
ok  	github.com/dittocache/ditto/normalize	2.583s
`

const overheadOut = `goos: linux
goarch: amd64
pkg: github.com/dittocache/ditto/cache/store
cpu: AMD EPYC
BenchmarkMemoryOverhead/body=1024-1025-2         	       1	  94717604 ns/op	        20.02 overhead-%	       213.0 overhead-B/entry	       100.0 weigher-%
BenchmarkMemoryOverhead/body=976-977-2           	       1	  68841765 ns/op	        25.52 overhead-%	       259.3 overhead-B/entry	       100.1 weigher-%
BenchmarkMemoryOverhead/body=2048-4096-2         	       1	 111695036 ns/op	        14.05 overhead-%	       437.1 overhead-B/entry	       100.0 weigher-%
PASS
ok  	github.com/dittocache/ditto/cache/store	0.550s
`

func TestParseBench(t *testing.T) {
	rs := parseBench(decodeOut, 2)
	if len(rs) != 4 {
		t.Fatalf("got %d results, want 4: %+v", len(rs), rs)
	}
	r := rs[0]
	if r.name != "BenchmarkDecodeCanonicalKey/1KB" || r.n != 29148 || r.metrics["ns/op"] != 8754 ||
		r.metrics["cpu-ns/op"] != 7019 || r.metrics["MB/s"] != 124.06 || r.metrics["allocs/op"] != 15 {
		t.Errorf("first result = %+v", r)
	}
	if got := benchCases(rs); !slices.Equal(got, []string{"BenchmarkDecodeCanonicalKey/1KB", "BenchmarkDecodeCanonicalKey/16KB"}) {
		t.Errorf("cases = %q", got)
	}
	if got := samples(rs, "BenchmarkDecodeCanonicalKey/1KB", "ns/op"); !slices.Equal(got, []float64{8754, 11550, 4612}) {
		t.Errorf("1KB ns/op = %v", got)
	}

	rs = parseBench(overheadOut, 2)
	if got := benchCases(rs); !slices.Equal(got, []string{"BenchmarkMemoryOverhead/body=1024-1025", "BenchmarkMemoryOverhead/body=976-977", "BenchmarkMemoryOverhead/body=2048-4096"}) {
		t.Errorf("cases = %q", got)
	}
	if rs[1].metrics["overhead-%"] != 25.52 || rs[1].metrics["overhead-B/entry"] != 259.3 {
		t.Errorf("second result = %+v", rs[1])
	}
}

// TestParseBenchOneProc: without GOMAXPROCS suffixes, names keep their own
// trailing numbers; log blocks and name-only lines are skipped.
func TestParseBenchOneProc(t *testing.T) {
	out := "BenchmarkMemoryOverhead/body=1024-1025 \t 1\t 94717604 ns/op\t 20.02 overhead-%\n" +
		"--- BENCH: BenchmarkL\n    f_test.go:7: logged\n" +
		"BenchmarkP   \t       1\n" +
		"BenchmarkBad \t 1\t x ns/op\n"
	rs := parseBench(out, 1)
	if len(rs) != 1 || rs[0].name != "BenchmarkMemoryOverhead/body=1024-1025" || rs[0].metrics["overhead-%"] != 20.02 {
		t.Errorf("results = %+v", rs)
	}
}

func TestMinMedian(t *testing.T) {
	tests := []struct {
		give    []float64
		lo, med float64
		ok      bool
	}{
		{nil, 0, 0, false},
		{[]float64{7}, 7, 7, true},
		{[]float64{9, 4, 6, 5, 8}, 4, 6, true},
		{[]float64{9, 4, 6, 5}, 4, 5.5, true},
	}
	for _, tt := range tests {
		lo, med, ok := minMedian(tt.give)
		if lo != tt.lo || med != tt.med || ok != tt.ok {
			t.Errorf("minMedian(%v) = %v, %v, %v; want %v, %v, %v", tt.give, lo, med, ok, tt.lo, tt.med, tt.ok)
		}
	}
}

func TestFailReason(t *testing.T) {
	tests := []struct {
		name, out, want string
	}{
		{"benchmark failed", "goos: linux\npkg: fb\nBenchmarkX/ok-2 \t 1\t 200.0 ns/op\n--- FAIL: BenchmarkX/bad\n    f_test.go:5: hello\n    f_test.go:5: store: boom | pipe\n--- FAIL: BenchmarkX\nFAIL\nexit status 1\nFAIL\tfb\t0.004s\nFAIL\n",
			"--- FAIL: BenchmarkX/bad f_test.go:5: store: boom / pipe"},
		{"build failed", "FAIL\tfb [build failed]\nFAIL\n# fb [fb.test]\n./f.go:2:12: undefined: undefined\n", "./f.go:2:12: undefined: undefined"},
		{"panic", "goos: linux\nBenchmarkP-2 \t panic: kaboom\n\ngoroutine 7 [running]:\n", "panic: kaboom"},
		{"nothing said", "FAIL\n", "exit status 2"},
	}
	for _, tt := range tests {
		if got := failReason(tt.out, errors.New("exit status 2")); got != tt.want {
			t.Errorf("%s: failReason = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestMicroReport turns captured benchmark output into the micro sections
// and their target rows, without running a benchmark.
func TestMicroReport(t *testing.T) {
	b := &bench{o: &options{}, rep: &report{}}
	dec := goBenchRun{pkg: "./normalize", pattern: "^BenchmarkDecodeCanonicalKey$", benchtime: "200ms", count: 3, procs: 2}
	b.decodeReport(dec, parseBench(decodeOut, 2), nil, "1.00 2.00 3.00")
	mem := goBenchRun{pkg: "./cache/store", pattern: "^BenchmarkMemoryOverhead$", benchtime: "1x", count: 1, procs: 2}
	b.overheadReport(mem, parseBench(overheadOut, 2), nil)

	want := []check{
		{decodeCheck, "4.61 µs (median 8.75 µs; CPU 4.59 µs / 7.02 µs)", decodeGoal, "pass"},
		{overheadCheck, "25.5% (body=976-977)", overheadGoal, "pass"},
	}
	if !slices.Equal(b.rep.checks, want) {
		t.Errorf("checks = %q\nwant %q", b.rep.checks, want)
	}
	md := b.rep.markdown(machine{}, b.o, time.Now(), time.Second, "benchmarks/run.sh")
	for _, s := range []string{
		"go test ./normalize -run '^$' -bench '^BenchmarkDecodeCanonicalKey$' -benchtime 200ms -count 3 -cpu 2",
		"| 1KB | 4.61 µs / 8.75 µs | 4.59 µs / 7.02 µs | 3537 | 15 | 3 |",
		"| 16KB | 67.6 µs / 67.6 µs |",
		"load average before: 1.00 2.00 3.00",
		"| body=976-977 | 25.5% | 259 | 100.1 |",
		"| " + decodeCheck + " | ≤ 5 µs | 4.61 µs",
	} {
		if !strings.Contains(md, s) {
			t.Errorf("report lacks %q:\n%s", s, md)
		}
	}

	// Over the goal: MISS. No output lines, or a failed run: why, not figures.
	b = &bench{o: &options{}, rep: &report{}}
	b.decodeReport(dec, parseBench(strings.ReplaceAll(decodeOut, "4612 ns/op", "5001 ns/op"), 2), nil, "")
	b.overheadReport(mem, parseBench(strings.ReplaceAll(overheadOut, "25.52 overhead-%", "30.01 overhead-%"), 2), nil)
	if len(b.rep.checks) != 2 || b.rep.checks[0].verdict != "**MISS**" || b.rep.checks[1].verdict != "**MISS**" || b.rep.checks[1].measured != "30.0% (body=976-977)" {
		t.Errorf("checks over the goal = %q", b.rep.checks)
	}
	b = &bench{o: &options{}, rep: &report{}}
	b.decodeReport(dec, parseBench("PASS\n", 2), nil, "")
	b.overheadReport(mem, nil, errors.New("`go test ./cache/store` failed: ./memory.go:1:1: syntax error"))
	for i, want := range []string{
		"n/a: no BenchmarkDecodeCanonicalKey/1KB result in the output of `go test ./normalize`",
		"n/a: `go test ./cache/store` failed: ./memory.go:1:1: syntax error",
	} {
		if i >= len(b.rep.checks) || b.rep.checks[i].verdict != want {
			t.Errorf("checks = %q, want verdict %d %q", b.rep.checks, i, want)
		}
	}
	if md := b.rep.markdown(machine{}, b.o, time.Now(), time.Second, "x"); !strings.Contains(md, "**No figures:** `go test ./cache/store` failed") {
		t.Errorf("report lacks the failure:\n%s", md)
	}
}

func TestGoBenchWithoutGo(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := goBenchRun{pkg: "./normalize", pattern: ".", benchtime: "1x", count: 1, procs: 1, timeout: time.Second}.run(context.Background())
	if err == nil || err.Error() != "`go` not on PATH" {
		t.Errorf("err = %v", err)
	}
}
