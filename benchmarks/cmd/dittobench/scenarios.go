package main

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/dittocache/ditto/benchmarks/loadgen"
	"github.com/dittocache/ditto/benchmarks/workload"
)

var sourceSeq atomic.Int64

// fresh returns a tag no other phase of this run uses, so unique prompts
// never repeat across phases, rounds or targets.
func fresh() string { return strconv.FormatInt(sourceSeq.Add(1), 10) }

// hitPath is scenarios 1 and 2: a primed hot set, every request a hit.
func (b *bench) hitPath(ctx context.Context, useRedis bool) {
	title, ref, dittoName, kind, p50Goal := "Hit path, memory store vs baseline (a)", "(a) map", "ditto (memory)", "memory", 1.5
	if useRedis {
		title, ref, dittoName, kind, p50Goal = "Hit path, Redis store vs baseline (b)", "(b) Redis GET", "ditto (Redis)", "redis", 1.3
	}
	s := b.rep.section(title)
	base, stopBase := b.baseline(ctx, ref, kind, b.up0)
	defer stopBase()
	dit, stopDitto := b.ditto(ctx, dittoName, b.up0, useRedis)
	defer stopDitto()
	bodies := b.hotBodies(false)
	b.prime(ctx, &base, bodies)
	b.prime(ctx, &dit, bodies)
	how := "from a Go map keyed by xxhash of the body"
	if useRedis {
		how = "with one Redis GET keyed by xxhash of the body (go-redis, same redis-server)"
	}
	s.para("Every request is a hit: %d distinct real prompts (non-streaming, %s), primed once, then cycled. "+
		"Baseline %s answers %s. Upstream: %s.", len(bodies), b.o.model, ref, how, b.up0.desc)
	loads := []load{b.closed(1), b.closed(b.o.conc)}
	rows := grid(ctx, []target{base, dit}, loads, b.o.rounds, b.o.apiKey,
		func(target, load, int) loadgen.Source { return cycle(bodies) }, b.progressf)
	throughputTable(s, rows, ref)

	store := map[bool]string{false: "memory", true: "Redis"}[useRedis]
	hi, lo := loads[1].name, loads[0].name
	if d, okD := find(rows, dittoName, hi); okD {
		if r, okR := find(rows, ref, hi); okR {
			v := d.res.Throughput() / r.res.Throughput()
			b.rep.check(fmt.Sprintf("hit %s: throughput at %s", store, hi), "≥ 0.80× "+ref, fmt.Sprintf("%.2f×%s", v, cpuNote(d, r)), v >= 0.8)
		}
	} else {
		b.rep.unjudged(fmt.Sprintf("hit %s: throughput at %s", store, hi), "≥ 0.80× "+ref, skipWhy(rows, dittoName, hi))
	}
	if d, okD := find(rows, dittoName, lo); okD {
		if r, okR := find(rows, ref, lo); okR {
			v := float64(q(d, 50)) / float64(q(r, 50))
			b.rep.check(fmt.Sprintf("hit %s: p50 at %s", store, lo), fmt.Sprintf("≤ %.1f× %s", p50Goal, ref),
				fmt.Sprintf("%.2f× (%s vs %s)", v, ms(q(d, 50)), ms(q(r, 50))), v <= p50Goal)
		}
	} else {
		b.rep.unjudged(fmt.Sprintf("hit %s: p50 at %s", store, lo), fmt.Sprintf("≤ %.1f× %s", p50Goal, ref), skipWhy(rows, dittoName, lo))
	}
}

// cpuNote gives a's CPU time per request relative to ref's, for the targets table.
func cpuNote(a, ref row) string {
	if a.cpuPerReq() == 0 || ref.cpuPerReq() == 0 {
		return ""
	}
	return fmt.Sprintf(" (CPU/req %s)", ratio(float64(a.cpuPerReq()), float64(ref.cpuPerReq())))
}

func skipWhy(rows []row, target, load string) string {
	for _, r := range rows {
		if r.target == target && r.load == load && r.skip != "" {
			return r.skip
		}
	}
	return "no measurement"
}

func (b *bench) progressf(s string) { b.progress("%s", s) }

// missPath is scenario 3: every request goes upstream.
func (b *bench) missPath(ctx context.Context) {
	s := b.rep.section("Miss path overhead (zero-latency upstream)")
	const (
		dName      = "(d) upstream direct"
		cName      = "(c) tuned forwarder"
		rpName     = "httputil.ReverseProxy, default transport"
		bypassName = "ditto, Cache-Control: no-store"
		uniqueName = "ditto, unique prompts"
	)
	fwd, stopFwd := b.baseline(ctx, cName, "forward", b.up0)
	defer stopFwd()
	rp, stopRP := b.baseline(ctx, rpName, "reverseproxy", b.up0)
	defer stopRP()
	dit, stopDitto := b.ditto(ctx, uniqueName, b.up0, false)
	defer stopDitto()
	bypass := dit
	bypass.name, bypass.header = bypassName, noStore
	targets := []target{direct(dName, b.up0), fwd, rp, bypass, dit}
	s.para("Every request is a distinct prompt, so nothing can hit. \"no-store\" rows send `Cache-Control: no-store` (no lookup, no store); "+
		"\"unique prompts\" rows go through the full lookup → miss → upstream → store path. "+
		"(c) is a minimal forwarder with `MaxIdleConnsPerHost` 1024; the bare `httputil.ReverseProxy` keeps the default transport's 2 idle "+
		"connections per host, so it is shown for comparison, not as the floor. Upstream: %s. The open-loop row sends %.0f req/s for %s.",
		b.up0.desc, b.o.rate, b.o.phase)
	src := func(load, int) loadgen.Source { return b.unique(false, "miss"+fresh()) }
	rows := grid(ctx, targets, []load{b.closed(1), b.closed(b.o.conc)}, b.o.rounds, b.o.apiKey,
		func(_ target, l load, r int) loadgen.Source { return src(l, r) }, b.progressf)
	rate := load{name: fmt.Sprintf("%.0f req/s", b.o.rate), rate: b.o.rate, duration: b.o.phase, warmup: b.o.warmup}
	rows = append(rows, grid(ctx, targets, []load{rate}, 1, b.o.apiKey,
		func(_ target, l load, r int) loadgen.Source { return src(l, r) }, b.progressf)...)
	throughputTable(s, rows, cName)

	// Added latency over calling the upstream directly, at c=1.
	lo, hi := "c=1", fmt.Sprintf("c=%d", b.o.conc)
	var added [][]string
	d, okD := find(rows, dName, lo)
	for _, t := range targets[1:] {
		if r, ok := find(rows, t.name, lo); ok && okD {
			added = append(added, []string{t.name, ms(q(r, 50) - q(d, 50)), ms(q(r, 99) - q(d, 99))})
		}
	}
	if len(added) > 0 {
		s.para("Latency added over calling the upstream directly, at c=1:")
		s.table([]string{"target", "added p50", "added p99"}, added)
	}
	for _, name := range []string{bypassName, uniqueName} {
		goal := "≥ 0.80× (c)"
		check := fmt.Sprintf("miss (%s): throughput at %s", name, hi)
		if r, ok := find(rows, name, hi); ok {
			if c, okC := find(rows, cName, hi); okC {
				v := r.res.Throughput() / c.res.Throughput()
				b.rep.check(check, goal, fmt.Sprintf("%.2f×%s", v, cpuNote(r, c)), v >= 0.8)
			}
		} else {
			b.rep.unjudged(check, goal, skipWhy(rows, name, hi))
		}
		check, goal = fmt.Sprintf("miss (%s): added p50 at c=1", name), "≤ 0.25 ms over (d)"
		if r, ok := find(rows, name, lo); ok && okD {
			v := q(r, 50) - q(d, 50)
			b.rep.check(check, goal, ms(v), v <= 250*time.Microsecond)
		} else {
			b.rep.unjudged(check, goal, skipWhy(rows, name, lo))
		}
	}
}

// streaming is scenario 4: time to first byte and total time, hit vs miss.
func (b *bench) streaming(ctx context.Context) {
	s := b.rep.section("Streaming: time to first byte and total time, hit vs miss")
	const (
		dName    = "(d) upstream direct"
		cName    = "(c) tuned forwarder"
		aName    = "(a) map, hit"
		missName = "ditto miss (no-store)"
		hitName  = "ditto hit (memory)"
	)
	hot := b.hotBodies(true)
	src := func(t target, _ load, _ int) loadgen.Source {
		if t.name == hitName || t.name == aName {
			return cycle(hot)
		}
		return b.unique(true, "stream"+fresh())
	}
	// Misses compare with (c), hits with (a).
	refOf := func(name string) string {
		if name == hitName || name == aName {
			return aName
		}
		return cName
	}
	table := func(rows []row) {
		header := []string{"target", "load", "TTFB p50", "TTFB p99", "total p50", "total p99", "req/s", "req/s ×", "CPU/req", "CPU ×", "errors", "X-Ditto-Cache"}
		var out [][]string
		for _, r := range rows {
			if !r.ok() {
				out = append(out, skipRow(r, len(header)))
				continue
			}
			x, cpux := "–", "–"
			if ref, ok := find(rows, refOf(r.target), r.load); ok {
				x = ratio(r.res.Throughput(), ref.res.Throughput()) + " " + refOf(r.target)[:3]
				cpux = ratio(float64(r.cpuPerReq()), float64(ref.cpuPerReq())) + " " + refOf(r.target)[:3]
			}
			out = append(out, []string{r.target, r.load, ms(qf(r, 50)), ms(qf(r, 99)), ms(q(r, 50)), ms(q(r, 99)),
				fmt.Sprintf("%.0f", r.res.Throughput()), x, us(r.cpuPerReq()), cpux, errCell(r.res), cacheCell(r.res)})
		}
		s.table(header, out)
	}
	setup := func(up *upstreamRef) ([]target, func()) {
		fwd, stopFwd := b.baseline(ctx, cName, "forward", up)
		mem, stopMem := b.baseline(ctx, aName, "memory", up)
		dit, stopDitto := b.ditto(ctx, hitName, up, false)
		miss := dit
		miss.name, miss.header = missName, noStore
		b.prime(ctx, &dit, hot)
		b.prime(ctx, &mem, hot)
		return []target{direct(dName, up), fwd, miss, mem, dit}, func() { stopDitto(); stopMem(); stopFwd() }
	}

	s.para("`stream: true` with `stream_options.include_usage`. TTFB is the time to the first byte of the response body. "+
		"Misses send distinct prompts with `Cache-Control: no-store`; hits cycle %d primed prompts.", len(hot))
	s.para("**At c=1**, upstream %s: shows what a hit saves and what a miss adds to the first token.", b.upS.desc)
	targets, stop := setup(b.upS)
	rows := grid(ctx, targets, []load{b.closed(1)}, b.o.rounds, b.o.apiKey, src, b.progressf)
	stop()
	table(rows)
	check, goal := "streaming hit: time to first byte, p50 at c=1", "≤ 1 ms"
	if r, ok := find(rows, hitName, "c=1"); ok {
		b.rep.check(check, goal, ms(qf(r, 50)), qf(r, 50) <= time.Millisecond)
	} else {
		b.rep.unjudged(check, goal, skipWhy(rows, hitName, "c=1"))
	}

	s.para("**At c=%d**, upstream %s: streaming throughput.", b.o.conc, b.up0.desc)
	targets, stop = setup(b.up0)
	hi := b.closed(b.o.conc)
	rows = grid(ctx, targets[1:], []load{hi}, b.o.rounds, b.o.apiKey, src, b.progressf)
	stop()
	table(rows)
	check, goal = fmt.Sprintf("streaming miss: throughput at %s", hi.name), "≥ 0.80× (c)"
	if r, ok := find(rows, missName, hi.name); ok {
		if c, okC := find(rows, cName, hi.name); okC {
			v := r.res.Throughput() / c.res.Throughput()
			b.rep.check(check, goal, fmt.Sprintf("%.2f×%s", v, cpuNote(r, c)), v >= 0.8)
		}
	} else {
		b.rep.unjudged(check, goal, skipWhy(rows, missName, hi.name))
	}
}

// mix is scenario 5: real prompts, Zipf popularity, several SDK spellings.
func (b *bench) mix(ctx context.Context) {
	s := b.rep.section("Realistic mix: Zipf over real prompts in several SDK spellings")
	items := workload.Mix(b.prompts, workload.MixConfig{Seed: 1, S: 1.1, Requests: b.o.mixRequests, Model: b.o.model, Stop: "###"})
	logical, exact := workload.IdealHits(items)
	n := len(items)
	price := workload.Prices[b.o.model]
	src := func(i int64) loadgen.Request { return loadgen.Request{Body: items[i].Body} }
	l := load{name: fmt.Sprintf("%d at %.0f/s", n, b.o.mixRate), rate: b.o.mixRate, requests: int64(n)}

	const dName, aName = "(d) upstream direct", "(a) map (exact bytes)"
	var rows []row
	run := func(t target, stop func()) {
		r := measure(ctx, t, l, src, b.o.apiKey)
		stop()
		if r.ok() {
			b.progress("  %-28s %s  hits %d  upstream calls %d  errors %d", t.name, l.name, r.res.CacheCount("HIT"), r.calls.Requests, r.res.Errors)
		}
		rows = append(rows, r)
	}
	run(direct(dName, b.upM), func() {})
	run(b.baseline(ctx, aName, "memory", b.upM))
	run(b.ditto(ctx, "ditto (memory)", b.upM, false))
	run(b.ditto(ctx, "ditto (Redis)", b.upM, true))

	spellings := ""
	for i, sp := range workload.Spellings {
		if i > 0 {
			spellings += ", "
		}
		spellings += "`" + sp.Name + "`"
	}
	s.para("%d requests, open loop at %.0f req/s, prompt drawn by Zipf (s = 1.1, seed 1) over %d real prompts "+
		"(GSM8K, MT-Bench, awesome-chatgpt-prompts; `benchmarks/testdata/`), each sent in one of %d byte spellings "+
		"of the same logical request chosen uniformly: %s (key order, whitespace, escaping, explicit defaults, `stop` string vs list, "+
		"content string vs text-part array). Upstream: %s. Prices: %s $%.2f / $%.2f per 1M input / output tokens, counted at the upstream.",
		n, b.o.mixRate, len(b.prompts), len(workload.Spellings), spellings, b.upM.desc, b.o.model, price.Input, price.Output)
	s.para("Ideal hit ratio if spellings share a key: %.1f%% (%d distinct logical prompts); if only identical bytes do: %.1f%% (%d distinct bodies). "+
		"Coalesced answers (an identical request already in flight) also save an upstream call.",
		100*float64(logical)/float64(n), n-logical, 100*float64(exact)/float64(n), n-exact)

	var costD float64
	if d, ok := find(rows, dName, l.name); ok {
		costD = price.Cost(d.calls.PromptTokens, d.calls.CompletionTokens)
	}
	header := []string{"target", "hit ratio", "coalesced", "upstream calls", "calls saved", "p50", "p99", "upstream cost", "cost saved", "errors"}
	var out [][]string
	for _, r := range rows {
		if !r.ok() {
			out = append(out, skipCells(r, len(header)))
			continue
		}
		ok := r.res.Requests - r.res.Errors
		cost := price.Cost(r.calls.PromptTokens, r.calls.CompletionTokens)
		saved := "–"
		if costD > 0 {
			saved = fmt.Sprintf("$%.6f (%.0f%%)", costD-cost, 100*(costD-cost)/costD)
		}
		out = append(out, []string{r.target,
			fmt.Sprintf("%.1f%%", 100*float64(r.res.CacheCount("HIT"))/float64(max(ok, 1))),
			fmt.Sprint(r.res.CacheCount("COALESCED")),
			fmt.Sprint(r.calls.Requests),
			fmt.Sprintf("%d (%.0f%%)", r.res.Requests-r.calls.Requests, 100*float64(r.res.Requests-r.calls.Requests)/float64(max(r.res.Requests, 1))),
			ms(q(r, 50)), ms(q(r, 99)), fmt.Sprintf("$%.6f", cost), saved, errCell(r.res)})
	}
	s.table(header, out)
}

// coalescing is scenario 6: a burst of identical cold requests.
func (b *bench) coalescing(ctx context.Context) {
	s := b.rep.section("Coalescing: a burst of identical cold requests")
	n := b.o.burst
	l := load{name: fmt.Sprintf("%d at once", n), concurrency: n, requests: int64(n)}
	var rows []row
	run := func(t target, stop func()) {
		body := workload.Body(workload.Chat{Model: b.o.model, Prompt: "Coalescing burst " + b.runID + "-" + fresh() + ": what is 17 × 23?"})
		r := measure(ctx, t, l, cycle([][]byte{body}), b.o.apiKey)
		stop()
		if r.ok() {
			b.progress("  %-28s upstream calls %d  errors %d", t.name, r.calls.Requests, r.res.Errors)
		}
		rows = append(rows, r)
	}
	run(direct("(d) upstream direct", b.upM), func() {})
	run(b.baseline(ctx, "(a) map, no coalescing", "memory", b.upM))
	run(b.ditto(ctx, "ditto (memory)", b.upM, false))
	run(b.ditto(ctx, "ditto (Redis)", b.upM, true))
	s.para("%d concurrent requests with one identical, never-seen prompt; upstream %s. Counted at the upstream.", n, b.upM.desc)
	header := []string{"target", "requests", "upstream calls", "X-Ditto-Cache", "p50", "p99", "errors"}
	var out [][]string
	for _, r := range rows {
		if !r.ok() {
			out = append(out, skipCells(r, len(header)))
			continue
		}
		out = append(out, []string{r.target, fmt.Sprint(r.res.Requests), fmt.Sprint(r.calls.Requests), cacheCell(r.res),
			ms(q(r, 50)), ms(q(r, 99)), errCell(r.res)})
		if r.target == "ditto (memory)" || r.target == "ditto (Redis)" {
			b.rep.check("coalescing: "+r.target+", "+l.name, "1 upstream call", fmt.Sprint(r.calls.Requests), r.calls.Requests == 1 && r.res.Errors == 0)
		}
	}
	s.table(header, out)
}
