package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dittocache/ditto/benchmarks/loadgen"
	"github.com/dittocache/ditto/benchmarks/workload"
)

// options are the flags of "dittobench run".
type options struct {
	phase, warmup time.Duration
	rounds        int
	conc          int     // the high concurrency (c=50)
	rate          float64 // the fixed rate of the miss scenario
	mixRequests   int
	mixRate       float64
	burst         int
	hotPrompts    int
	scenarios     string
	dittoBin      string
	dittoPkg      string
	dittoConfig   string
	noDitto       bool
	write         string
	timeout       time.Duration
	quick         bool
	apiKey        string
	model         string
	logs          string
	microCount    int
	microTime     time.Duration
}

var allScenarios = []string{"hit-memory", "hit-redis", "miss", "streaming", "mix", "coalescing", "micro"}

func (o *options) flags(fs *flag.FlagSet) {
	fs.DurationVar(&o.phase, "phase", 3*time.Second, "measured time of each closed-loop phase")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "warm-up before each phase")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds of the hit and miss grids; the best of each is kept")
	fs.IntVar(&o.conc, "c", 50, "the high concurrency")
	fs.Float64Var(&o.rate, "rate", 1000, "fixed rate (req/s) of the miss scenario's open-loop phase")
	fs.IntVar(&o.mixRequests, "mix-requests", 2000, "requests in the realistic mix")
	fs.Float64Var(&o.mixRate, "mix-rate", 200, "rate (req/s) of the realistic mix")
	fs.IntVar(&o.burst, "burst", 200, "concurrent identical cold requests in the coalescing burst")
	fs.IntVar(&o.hotPrompts, "hot", 64, "distinct prompts in the hit-path hot set")
	fs.StringVar(&o.scenarios, "scenarios", strings.Join(allScenarios, ","), "comma-separated scenarios to run")
	fs.StringVar(&o.dittoBin, "ditto-bin", "", "a prebuilt ditto binary (default: go build -o TMP/ditto -ditto-pkg)")
	fs.StringVar(&o.dittoPkg, "ditto-pkg", "./cmd/ditto", "package to build the ditto binary from")
	fs.StringVar(&o.dittoConfig, "ditto-config", "", "YAML config file given to every Ditto process as DITTO_CONFIG (default: none, env vars only)")
	fs.BoolVar(&o.noDitto, "no-ditto", false, "skip every Ditto row (harness and baselines only)")
	fs.StringVar(&o.write, "write", "", "also write the report to this file (e.g. benchmarks/RESULTS.md)")
	fs.DurationVar(&o.timeout, "timeout", 9*time.Minute+30*time.Second, "stop the whole run after this long")
	fs.BoolVar(&o.quick, "quick", false, "a smoke run: short phases, one round, small mix")
	fs.StringVar(&o.apiKey, "api-key", "sk-bench-not-a-real-key", "bearer token sent to every target and given to Ditto as OPENAI_API_KEY")
	fs.StringVar(&o.model, "model", "gpt-4o-mini", "model of every request (and of the price table)")
	fs.StringVar(&o.logs, "logs", "", "keep child logs in this directory (default: a temporary one, removed)")
	fs.IntVar(&o.microCount, "micro-count", 5, "runs (go test -count) of each timed Go benchmark in the micro scenario")
	fs.DurationVar(&o.microTime, "micro-benchtime", 200*time.Millisecond, "go test -benchtime of each timed Go benchmark run in the micro scenario")
}

// bench holds what the scenarios share.
type bench struct {
	o        *options
	ps       *procs
	self     string
	dittoBin string
	noDitto  string // why Ditto rows are skipped
	redisURL string
	noRedis  string // why Redis rows are skipped
	rdb      *redis.Client
	prompts  []workload.Prompt
	hot      []workload.Prompt
	up0      *upstreamRef // zero latency
	upS      *upstreamRef // streaming: 20 ms first token, 1 ms between chunks
	upM      *upstreamRef // realistic: 300 ms ± 50 ms
	rep      *report
	log      io.Writer
	runID    string
}

func runAll(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := &options{}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	o.flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.quick {
		o.phase, o.warmup, o.rounds, o.mixRequests, o.burst = 500*time.Millisecond, 200*time.Millisecond, 1, 300, 50
		o.microCount, o.microTime = 2, 100*time.Millisecond
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	started := time.Now()
	loadStart := loadavg()

	dir, err := os.MkdirTemp("", "dittobench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	logDir := dir
	if o.logs != "" {
		logDir = o.logs
		if err := os.MkdirAll(logDir, 0o755); err != nil {
			return err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	b := &bench{o: o, ps: &procs{dir: logDir}, self: self, rep: &report{}, log: stderr, runID: strconv.FormatInt(started.UnixNano(), 36)}
	defer b.ps.stopAll()

	if b.prompts, err = workload.Prompts(); err != nil {
		return err
	}
	for i := range o.hotPrompts {
		b.hot = append(b.hot, b.prompts[i*len(b.prompts)/o.hotPrompts])
	}
	b.setupDitto(ctx, dir)
	b.setupRedis(ctx)
	b.describeSetup()
	if err := b.setupUpstreams(ctx); err != nil {
		return err
	}

	scenarios := map[string]func(context.Context){
		"hit-memory": func(ctx context.Context) { b.hitPath(ctx, false) },
		"hit-redis":  func(ctx context.Context) { b.hitPath(ctx, true) },
		"miss":       b.missPath,
		"streaming":  b.streaming,
		"mix":        b.mix,
		"coalescing": b.coalescing,
		"micro":      b.micro,
	}
	for _, name := range strings.Split(o.scenarios, ",") {
		name = strings.TrimSpace(name)
		fn, ok := scenarios[name]
		if !ok {
			return fmt.Errorf("unknown scenario %q (have %s)", name, strings.Join(allScenarios, ", "))
		}
		if ctx.Err() != nil {
			fmt.Fprintf(stderr, "out of time: scenario %s not run\n", name)
			continue
		}
		b.progress("== %s", name)
		t0 := time.Now()
		fn(ctx)
		b.progress("   %s took %s", name, time.Since(t0).Round(100*time.Millisecond))
	}

	command := "benchmarks/run.sh" + commandFlags(fs)
	m := describeMachine()
	m.loadStart = loadStart
	md := b.rep.markdown(m, o, started, time.Since(started), command)
	fmt.Fprint(stdout, md)
	if o.write != "" {
		if err := writeReport(o.write, md); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote %s\n", o.write)
	}
	return ctx.Err()
}

func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(b.log, format+"\n", args...)
}

func (b *bench) describeSetup() {
	switch {
	case b.noDitto != "":
		b.rep.notes = append(b.rep.notes, "**Ditto rows skipped:** "+b.noDitto+".")
	default:
		cfg := "configured by environment variables only (`DITTO_ADDR`, `OPENAI_BASE_URL`, `OPENAI_API_KEY`, `REDIS_URL`), i.e. its defaults"
		if b.o.dittoConfig != "" {
			cfg = "configured by `DITTO_CONFIG=" + b.o.dittoConfig + "` plus those environment variables"
		}
		src := "built from `" + b.o.dittoPkg + "` by `go build`"
		if b.o.dittoBin != "" {
			src = "the binary `" + b.o.dittoBin + "`"
		}
		b.rep.notes = append(b.rep.notes, "**Ditto:** "+src+", one process per scenario, "+cfg+
			"; its log (one JSON line per request at the default level) goes to a file.")
	}
	if b.noRedis != "" {
		b.rep.notes = append(b.rep.notes, "**Redis rows skipped:** "+b.noRedis+".")
	} else {
		b.rep.notes = append(b.rep.notes, "**Redis:** a private `redis-server` on a random loopback port, no persistence (`--save \"\" --appendonly no`), flushed before each Ditto-with-Redis process.")
	}
}

// setupDitto builds the ditto binary, or records why Ditto rows are skipped.
func (b *bench) setupDitto(ctx context.Context, dir string) {
	switch {
	case b.o.noDitto:
		b.noDitto = "-no-ditto given"
	case b.o.dittoBin != "":
		b.dittoBin = b.o.dittoBin
	default:
		bin := filepath.Join(dir, "ditto")
		b.progress("building ditto: go build -o %s %s", bin, b.o.dittoPkg)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, b.o.dittoPkg)
		out, err := cmd.CombinedOutput()
		if err != nil {
			first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
			b.noDitto = fmt.Sprintf("`go build %s` failed: %s", b.o.dittoPkg, first)
			b.progress("SKIPPING every Ditto row: %s\n%s", b.noDitto, out)
			return
		}
		b.dittoBin = bin
	}
}

// setupRedis starts a private redis-server on a random loopback port with no
// persistence, or records why Redis rows are skipped.
func (b *bench) setupRedis(ctx context.Context) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		b.noRedis = "redis-server not installed (apt-get install redis-server)"
		b.progress("SKIPPING Redis rows: %s", b.noRedis)
		return
	}
	port, err := freePort()
	if err != nil {
		b.noRedis = err.Error()
		return
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	rdb := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	_, err = b.ps.start(ctx, "redis", path,
		[]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes"},
		baseEnv(), func(ctx context.Context, p *proc) error {
			for rdb.Ping(ctx).Err() != nil {
				select {
				case <-p.exited:
					return fmt.Errorf("redis-server exited")
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(20 * time.Millisecond):
				}
			}
			return nil
		})
	if err != nil {
		rdb.Close()
		b.noRedis = "redis-server did not start: " + err.Error()
		b.progress("SKIPPING Redis rows: %s", b.noRedis)
		return
	}
	b.rdb, b.redisURL = rdb, "redis://"+addr+"/0"
}

func (b *bench) setupUpstreams(ctx context.Context) error {
	start := func(name, desc string, args ...string) (*upstreamRef, error) {
		p, err := b.ps.start(ctx, name, b.self, append([]string{"upstream"}, args...), baseEnv(), nil)
		if err != nil {
			return nil, err
		}
		return &upstreamRef{origin: p.origin, desc: desc, pid: p.cmd.Process.Pid}, nil
	}
	var err error
	if b.up0, err = start("upstream-zero", "0 ms, 16 tokens, no delay between chunks", "-tokens", "16"); err != nil {
		return err
	}
	if b.upS, err = start("upstream-stream", "20 ms to first token, 32 chunks 1 ms apart", "-latency", "20ms", "-tokens", "32", "-chunk-delay", "1ms"); err != nil {
		return err
	}
	b.upM, err = start("upstream-realistic", "300 ms ± 50 ms (normal), 128 tokens", "-latency", "300ms", "-jitter", "50ms", "-dist", "normal", "-tokens", "128")
	return err
}

// ditto starts a Ditto process in front of up, with the Redis store or the
// in-memory one. The returned stop ends it.
func (b *bench) ditto(ctx context.Context, name string, up *upstreamRef, useRedis bool) (target, func()) {
	t := target{name: name, up: up}
	if b.noDitto != "" {
		t.skip = b.noDitto
		return t, func() {}
	}
	if useRedis && b.noRedis != "" {
		t.skip = b.noRedis
		return t, func() {}
	}
	port, err := freePort()
	if err != nil {
		t.skip = err.Error()
		return t, func() {}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	env := append(baseEnv(), "DITTO_ADDR="+addr, "OPENAI_BASE_URL="+up.origin+"/v1", "OPENAI_API_KEY="+b.o.apiKey)
	if b.o.dittoConfig != "" {
		env = append(env, "DITTO_CONFIG="+b.o.dittoConfig)
	}
	if useRedis {
		env = append(env, "REDIS_URL="+b.redisURL)
		b.rdb.FlushAll(ctx)
	}
	logName := strings.NewReplacer(" ", "-", "(", "", ")", "", ",", "").Replace(name)
	p, err := b.ps.start(ctx, logName, b.dittoBin, nil, env, func(ctx context.Context, p *proc) error {
		return waitHTTP(ctx, p, "http://"+addr+"/healthz")
	})
	if err != nil {
		t.skip = "ditto did not start: " + brief(err)
		b.progress("%s: %v", name, err)
		return t, func() {}
	}
	t.base, t.pid = "http://"+addr+"/v1", p.cmd.Process.Pid
	return t, func() { b.ps.stop(p) }
}

// baseline starts one of the baseline servers in front of up.
func (b *bench) baseline(ctx context.Context, name, kind string, up *upstreamRef) (target, func()) {
	t := target{name: name, up: up}
	args := []string{"baseline", "-kind", kind, "-upstream", up.origin}
	if kind == "redis" {
		if b.noRedis != "" {
			t.skip = b.noRedis
			return t, func() {}
		}
		args = append(args, "-redis", b.redisURL)
	}
	p, err := b.ps.start(ctx, "baseline-"+kind, b.self, args, baseEnv(), nil)
	if err != nil {
		t.skip = brief(err)
		return t, func() {}
	}
	t.base, t.pid = p.origin+"/v1", p.cmd.Process.Pid
	return t, func() { b.ps.stop(p) }
}

// direct is the upstream itself as a target: baseline (d).
func direct(name string, up *upstreamRef) target {
	return target{name: name, base: up.origin + "/v1", up: up, pid: up.pid}
}

func (b *bench) closed(c int) load {
	return load{name: fmt.Sprintf("c=%d", c), concurrency: c, duration: b.o.phase, warmup: b.o.warmup}
}

// hotBodies encodes the hot set.
func (b *bench) hotBodies(stream bool) [][]byte {
	var out [][]byte
	for _, p := range b.hot {
		out = append(out, workload.Body(workload.Chat{Model: b.o.model, Prompt: p.Text, Stream: stream, IncludeUsage: stream}))
	}
	return out
}

func cycle(bodies [][]byte) loadgen.Source {
	return func(i int64) loadgen.Request { return loadgen.Request{Body: bodies[i%int64(len(bodies))]} }
}

// A target that fails while priming gets a skip reason instead of figures.
func (b *bench) prime(ctx context.Context, t *target, bodies [][]byte) {
	if prime(ctx, t, bodies, b.o.apiKey) {
		return
	}
	b.progress("  %s: %s", t.name, t.skip)
}

func (b *bench) unique(stream bool, tag string) loadgen.Source {
	next := workload.Unique(workload.Chat{Model: b.o.model, Prompt: "Benchmark miss: answer briefly.", Stream: stream, IncludeUsage: stream}, b.runID+"-"+tag)
	return func(i int64) loadgen.Request { return loadgen.Request{Body: next(i)} }
}

var noStore = http.Header{"Cache-Control": {"no-store"}}

// brief shortens a start-up error to one table cell: its first line and the
// last line of the child's log.
func brief(err error) string {
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	s := lines[0]
	if len(lines) > 1 {
		s += ": " + strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(lines[len(lines)-1]), "|"))
	}
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// commandFlags spells the flags that shape the results, for the report's
// "regenerate with" line; -write benchmarks/RESULTS.md is run.sh's default
// and -logs changes nothing measured.
func commandFlags(fs *flag.FlagSet) string {
	var out string
	fs.Visit(func(f *flag.Flag) {
		switch {
		case f.Name == "logs", f.Name == "write" && f.Value.String() == "benchmarks/RESULTS.md":
			return
		}
		out += " -" + f.Name + "=" + f.Value.String()
	})
	return out
}

// keepMarker ends the generated part of the report file. Sections others
// add below it (e.g. micro-benchmarks of one package) survive regeneration.
const keepMarker = "<!-- Everything above this line is generated by benchmarks/run.sh; sections below it are kept when the file is regenerated. -->"

// writeReport writes md to path, keeping whatever followed keepMarker in the
// file it replaces.
func writeReport(path, md string) error {
	kept := ""
	if old, err := os.ReadFile(path); err == nil {
		if _, after, ok := strings.Cut(string(old), keepMarker); ok {
			kept = strings.TrimLeft(after, "\n")
		}
	}
	out := strings.TrimRight(md, "\n") + "\n\n" + keepMarker + "\n"
	if kept != "" {
		out += "\n" + kept
	}
	return os.WriteFile(path, []byte(out), 0o644)
}
