package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/dittocache/ditto/benchmarks/loadgen"
	"github.com/dittocache/ditto/benchmarks/upstream"
)

// upstreamRef is a running simulated upstream, read through its stats endpoint.
type upstreamRef struct {
	origin string
	desc   string // for the report, e.g. "0 ms, 16 tokens"
	pid    int    // 0 when unknown
}

func (u *upstreamRef) stats(ctx context.Context) (upstream.Stats, error) {
	var s upstream.Stats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.origin+"/_bench/stats", nil)
	if err != nil {
		return s, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// target is one server the load is sent to.
type target struct {
	name   string      // row label
	base   string      // OpenAI base URL including /v1
	header http.Header // extra headers for every request (e.g. Cache-Control: no-store)
	up     *upstreamRef
	pid    int    // the serving process, for its CPU time; 0 when unknown
	skip   string // why this target has no figures, when it has none
}

func (t target) url() string { return t.base + "/chat/completions" }

// load is one shape of load: closed-loop at a concurrency or open-loop at a rate.
type load struct {
	name        string
	concurrency int
	rate        float64
	requests    int64 // cap on measured requests; 0 means none
	duration    time.Duration
	warmup      time.Duration
	timeout     time.Duration // per request; 0 means phaseTimeout
	stopOnError bool
}

// phaseTimeout bounds each request of a phase: every answer here should take
// well under a second, so a request still unanswered after this is a hang,
// and it must not stall the run.
const phaseTimeout = 10 * time.Second

// row is what one target measured under one load.
type row struct {
	target string
	load   string
	res    *loadgen.Result
	calls  upstream.Stats // calls that reached the upstream during the phase
	cpu    time.Duration  // CPU time of the target's process during the measured phase; 0 when unknown
	skip   string
}

// minCPU is the least CPU time a phase must use for its CPU/req to be shown:
// /proc/PID/stat counts in 10 ms ticks, so this keeps the error within 5%.
const minCPU = 200 * time.Millisecond

// cpuPerReq is the target process's CPU time per successful request, or 0
// when the phase used too little CPU to tell.
func (r row) cpuPerReq() time.Duration {
	if r.cpu < minCPU || r.res.Requests == r.res.Errors {
		return 0
	}
	return r.cpu / time.Duration(r.res.Requests-r.res.Errors)
}

func (r row) ok() bool { return r.skip == "" && r.res != nil }

// measure sends l to t and counts the upstream calls it caused.
func measure(ctx context.Context, t target, l load, src loadgen.Source, apiKey string) row {
	out := row{target: t.name, load: l.name}
	if t.skip != "" {
		out.skip = t.skip
		return out
	}
	var before upstream.Stats
	if t.up != nil {
		var err error
		if before, err = t.up.stats(ctx); err != nil {
			out.skip = "upstream stats: " + err.Error()
			return out
		}
	}
	h := t.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set("Authorization", "Bearer "+apiKey)
	cfg := loadgen.Config{
		URL:         t.url(),
		Source:      src,
		Header:      h,
		Concurrency: l.concurrency,
		Rate:        l.rate,
		Duration:    l.warmup,
		MaxInFlight: 4096,
		Timeout:     cmp.Or(l.timeout, phaseTimeout),
		StopOnError: l.stopOnError,
		Client:      loadgen.NewClient(max(l.concurrency, 256)),
	}
	defer cfg.Client.CloseIdleConnections()
	if l.warmup > 0 { // a separate run, so the CPU time below covers only the measured phase
		warm, err := loadgen.Run(ctx, cfg)
		if err != nil {
			out.skip = err.Error()
			return out
		}
		// Carry on the sequence where the warm-up left it: a source of
		// unique prompts must not repeat the warm-up's.
		off := warm.Requests
		cfg.Source = func(i int64) loadgen.Request { return src(i + off) }
	}
	cfg.Duration, cfg.MaxRequests = l.duration, l.requests
	cpu0, cpuErr := cpuTime(t.pid)
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		out.skip = err.Error()
		return out
	}
	if cpu1, err := cpuTime(t.pid); t.pid > 0 && cpuErr == nil && err == nil {
		out.cpu = cpu1 - cpu0
	}
	out.res = res
	if t.up != nil {
		time.Sleep(20 * time.Millisecond) // let the upstream count calls still finishing
		after, err := t.up.stats(ctx)
		if err != nil {
			out.skip = "upstream stats: " + err.Error()
			return out
		}
		out.calls = after.Sub(before)
	}
	return out
}

// better reports whether a beats b as the kept round: higher throughput
// for closed-loop load, lower median for open-loop load.
func better(a, b row, openLoop bool) bool {
	if !b.ok() {
		return a.ok()
	}
	if !a.ok() {
		return false
	}
	if openLoop {
		return loadgen.Quantile(a.res.Latency, 50) < loadgen.Quantile(b.res.Latency, 50)
	}
	return a.res.Throughput() > b.res.Throughput()
}

// grid runs every load against every target, rounds times interleaved (so a
// burst of noise on the shared machine hits all targets alike), and keeps
// each pair's best round. Rows come out load-major, in target order.
func grid(ctx context.Context, targets []target, loads []load, rounds int, apiKey string,
	src func(t target, l load, round int) loadgen.Source, progress func(string)) []row {
	best := map[[2]string]row{}
	for round := range rounds {
		for _, l := range loads {
			for _, t := range targets {
				if ctx.Err() != nil {
					break
				}
				r := measure(ctx, t, l, src(t, l, round), apiKey)
				if r.ok() {
					progress(fmt.Sprintf("  round %d %-28s %-12s %9.0f req/s  p50 %s  errors %d",
						round+1, t.name, l.name, r.res.Throughput(), ms(loadgen.Quantile(r.res.Latency, 50)), r.res.Errors))
				}
				k := [2]string{t.name, l.name}
				if old, seen := best[k]; !seen || better(r, old, l.rate > 0) {
					best[k] = r
				}
			}
		}
	}
	var out []row
	for _, l := range loads {
		for _, t := range targets {
			if r, ok := best[[2]string{t.name, l.name}]; ok {
				out = append(out, r)
			}
		}
	}
	return out
}

// find returns the row for target and load.
func find(rows []row, target, load string) (row, bool) {
	for _, r := range rows {
		if r.target == target && r.load == load {
			return r, r.ok()
		}
	}
	return row{}, false
}

// prime sends every body to t once, one at a time, so later requests can
// hit. On the first failure it stops and gives t a skip reason, so a broken
// target costs one request timeout rather than one per body.
func prime(ctx context.Context, t *target, bodies [][]byte, apiKey string) bool {
	if t.skip != "" {
		return false
	}
	r := measure(ctx, *t, load{name: "prime", concurrency: 1, requests: int64(len(bodies)), stopOnError: true}, cycle(bodies), apiKey)
	switch {
	case !r.ok():
		t.skip = "priming failed: " + r.skip
	case r.res.Errors > 0:
		t.skip = "priming failed: " + strings.ReplaceAll(r.res.ErrFirst, "|", "/")
	}
	return t.skip == ""
}
