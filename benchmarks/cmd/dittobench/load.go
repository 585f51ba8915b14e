package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dittocache/ditto/benchmarks/loadgen"
	"github.com/dittocache/ditto/benchmarks/workload"
)

// targetFlags collects repeated -target NAME=URL flags.
type targetFlags []target

func (t *targetFlags) String() string { return fmt.Sprint(len(*t)) }

func (t *targetFlags) Set(v string) error {
	name, base, ok := strings.Cut(v, "=")
	if !ok || strings.Contains(name, "://") {
		name, base = v, v
	}
	if err := checkLoopback(base); err != nil {
		return err
	}
	tg := target{name: name, base: strings.TrimRight(base, "/")}
	if u, err := url.Parse(base); err == nil {
		if port, err := strconv.Atoi(u.Port()); err == nil {
			tg.pid = listenerPID(port) // for CPU/req; 0 when not found
		}
	}
	*t = append(*t, tg)
	return nil
}

// checkLoopback refuses any target that is not on this machine: load is
// only ever sent to loopback addresses.
func checkLoopback(base string) error {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return fmt.Errorf("target %q: want a base URL such as http://127.0.0.1:8080/v1", base)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("target %q: only loopback targets (127.0.0.0/8, ::1, localhost) are allowed", base)
}

type headerFlags http.Header

func (h headerFlags) String() string { return "" }

func (h headerFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, ":")
	if !ok {
		return fmt.Errorf("header %q: want \"Name: value\"", v)
	}
	http.Header(h).Add(strings.TrimSpace(k), strings.TrimSpace(val))
	return nil
}

// loadCmd sends one load to every -target in turn and prints them side by
// side, with ratios to the first.
func loadCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	var targets targetFlags
	header := headerFlags{}
	fs.Var(&targets, "target", "NAME=BASE_URL or BASE_URL of an OpenAI-compatible server, e.g. ditto=http://127.0.0.1:8080/v1 (repeat; ratios are to the first)")
	fs.Var(header, "header", "extra request header \"Name: value\" (repeatable), e.g. \"Cache-Control: no-store\"")
	conc := fs.Int("c", 1, "closed-loop concurrency (when -rate is 0)")
	rate := fs.Float64("rate", 0, "open-loop rate in req/s")
	duration := fs.Duration("duration", 5*time.Second, "measured time per target")
	warmup := fs.Duration("warmup", time.Second, "warm-up per target")
	requests := fs.Int64("requests", 0, "cap on measured requests per target (0: none)")
	rounds := fs.Int("rounds", 1, "rounds, interleaved across targets; the best is kept")
	kind := fs.String("workload", "hot", "hot (a primed set of repeated prompts), unique (every prompt new) or mix (Zipf over real prompts in SDK spellings)")
	hot := fs.Int("hot", 64, "distinct prompts of the hot workload")
	stream := fs.Bool("stream", false, "send stream:true with include_usage")
	model := fs.String("model", "gpt-4o-mini", "model of every request")
	apiKey := fs.String("api-key", "sk-bench-not-a-real-key", "bearer token")
	upstreamURL := fs.String("upstream", "", "origin of a dittobench upstream shared by the targets, to count the calls that reach it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(targets) == 0 {
		return errors.New("load: at least one -target is required")
	}
	if *duration <= 0 && *requests <= 0 {
		return errors.New("load: set -duration or -requests")
	}
	var up *upstreamRef
	if *upstreamURL != "" {
		if err := checkLoopback(*upstreamURL); err != nil {
			return err
		}
		up = &upstreamRef{origin: strings.TrimRight(*upstreamURL, "/")}
	}
	for i := range targets {
		targets[i].up = up
		targets[i].header = http.Header(header)
	}
	prompts, err := workload.Prompts()
	if err != nil {
		return err
	}
	var src func(target, load, int) loadgen.Source
	switch *kind {
	case "hot":
		var bodies [][]byte
		for i := range *hot {
			p := prompts[i*len(prompts)/(*hot)]
			bodies = append(bodies, workload.Body(workload.Chat{Model: *model, Prompt: p.Text, Stream: *stream, IncludeUsage: *stream}))
		}
		for i := range targets {
			if !prime(ctx, &targets[i], bodies, *apiKey) {
				fmt.Fprintf(stdout, "%s: %s\n", targets[i].name, targets[i].skip)
			}
		}
		src = func(target, load, int) loadgen.Source { return cycle(bodies) }
	case "unique":
		runID := fmt.Sprint(time.Now().UnixNano())
		src = func(target, load, int) loadgen.Source {
			next := workload.Unique(workload.Chat{Model: *model, Prompt: "Benchmark miss.", Stream: *stream, IncludeUsage: *stream}, runID+"-"+fresh())
			return func(i int64) loadgen.Request { return loadgen.Request{Body: next(i)} }
		}
	case "mix":
		n := 100000
		if *requests > 0 {
			n = int(*requests)
		}
		items := workload.Mix(prompts, workload.MixConfig{Seed: 1, S: 1.1, Requests: n, Model: *model})
		src = func(target, load, int) loadgen.Source {
			return func(i int64) loadgen.Request { return loadgen.Request{Body: items[i%int64(n)].Body} }
		}
	default:
		return fmt.Errorf("load: unknown -workload %q", *kind)
	}
	l := load{concurrency: *conc, rate: *rate, duration: *duration, warmup: *warmup, requests: *requests}
	l.name = fmt.Sprintf("c=%d", *conc)
	if *rate > 0 {
		l.name = fmt.Sprintf("%.0f req/s", *rate)
	}
	rows := grid(ctx, targets, []load{l}, *rounds, *apiKey, src, func(s string) { fmt.Fprintln(stdout, s) })
	rep := &report{}
	throughputTable(rep.section(""), rows, targets[0].name)
	fmt.Fprintln(stdout, rep.sections[0].text[0])
	if *stream {
		fmt.Fprintln(stdout)
		for _, r := range rows {
			if r.ok() {
				fmt.Fprintf(stdout, "%s: time to first byte p50 %s, p99 %s\n", r.target, ms(qf(r, 50)), ms(qf(r, 99)))
			}
		}
	}
	return ctx.Err()
}
