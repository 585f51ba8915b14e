package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/dittocache/ditto/benchmarks/loadgen"
)

// report is the Markdown document a run produces.
type report struct {
	notes    []string // paragraphs under the machine description
	sections []*section
	checks   []check
}

type section struct {
	title string
	text  []string // paragraphs and tables, in order
}

func (r *report) section(title string) *section {
	s := &section{title: title}
	r.sections = append(r.sections, s)
	return s
}

func (s *section) para(format string, args ...any) {
	s.text = append(s.text, fmt.Sprintf(format, args...))
}

func (s *section) table(header []string, rows [][]string) {
	var b strings.Builder
	b.WriteString("| " + strings.Join(header, " | ") + " |\n|")
	for range header {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	s.text = append(s.text, strings.TrimRight(b.String(), "\n"))
}

// check is one target of the issue, with its verdict.
type check struct {
	name     string
	measured string
	goal     string
	verdict  string // pass, MISS, or why it could not be judged
}

func (r *report) check(name, goal string, measured string, pass bool) {
	v := "pass"
	if !pass {
		v = "**MISS**"
	}
	r.checks = append(r.checks, check{name, measured, goal, v})
}

func (r *report) unjudged(name, goal, why string) {
	r.checks = append(r.checks, check{name, "–", goal, "n/a: " + why})
}

// ms prints a duration in milliseconds, with three decimals below 10 ms.
func ms(d time.Duration) string {
	f := float64(d) / float64(time.Millisecond)
	if f < 10 {
		return fmt.Sprintf("%.3f ms", f)
	}
	return fmt.Sprintf("%.1f ms", f)
}

// us prints a duration in microseconds; 0 means unknown.
func us(d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}

func ratio(a, b float64) string {
	if b == 0 || a == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func q(r row, p float64) time.Duration  { return loadgen.Quantile(r.res.Latency, p) }
func qf(r row, p float64) time.Duration { return loadgen.Quantile(r.res.TTFB, p) }

// cacheCell summarizes X-Ditto-Cache answers: "HIT 100%", or counts
// ("COALESCED 199, MISS 1") for phases of up to 1000 answers.
func cacheCell(res *loadgen.Result) string {
	ok := res.Requests - res.Errors
	if ok == 0 {
		return "–"
	}
	var keys []string
	for k := range res.Cache {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return res.Cache[keys[i]] > res.Cache[keys[j]] })
	var parts []string
	for _, k := range keys {
		if k == "" {
			continue
		}
		n := res.Cache[k]
		switch pct := 100 * float64(n) / float64(ok); {
		case ok <= 1000:
			parts = append(parts, fmt.Sprintf("%s %d", k, n)) // small phases: exact counts
		case pct < 1:
			parts = append(parts, k+" <1%")
		default:
			parts = append(parts, fmt.Sprintf("%s %.0f%%", k, pct))
		}
	}
	if len(parts) == 0 {
		return "–"
	}
	return strings.Join(parts, ", ")
}

func errCell(res *loadgen.Result) string {
	if res.Errors == 0 {
		return "0"
	}
	var kinds []string
	for k, n := range res.ErrKinds {
		kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
	}
	sort.Strings(kinds)
	return fmt.Sprintf("%d (%s)", res.Errors, strings.Join(kinds, ", "))
}

// skipRow fills a table row for a target with no figures: target, load, reason.
func skipRow(r row, width int) []string {
	return pad([]string{r.target, r.load, "skipped: " + r.skip}, width)
}

// skipCells is skipRow for tables without a load column.
func skipCells(r row, width int) []string {
	return pad([]string{r.target, "skipped: " + r.skip}, width)
}

func pad(cells []string, width int) []string {
	for len(cells) < width {
		cells = append(cells, "")
	}
	return cells
}

// throughputTable prints rows with ratios to the reference target under the same load.
func throughputTable(s *section, rows []row, ref string) {
	header := []string{"target", "load", "req/s", "× " + ref, "p50", "p50 × " + ref, "p90", "p99", "p99.9", "CPU/req", "CPU × " + ref, "errors", "X-Ditto-Cache", "upstream calls"}
	var out [][]string
	for _, r := range rows {
		if !r.ok() {
			out = append(out, skipRow(r, len(header)))
			continue
		}
		tp, p50r, cpur := "–", "–", "–"
		if b, ok := find(rows, ref, r.load); ok {
			tp = ratio(r.res.Throughput(), b.res.Throughput())
			p50r = ratio(float64(q(r, 50)), float64(q(b, 50)))
			cpur = ratio(float64(r.cpuPerReq()), float64(b.cpuPerReq()))
		}
		out = append(out, []string{r.target, r.load, fmt.Sprintf("%.0f", r.res.Throughput()), tp,
			ms(q(r, 50)), p50r, ms(q(r, 90)), ms(q(r, 99)), ms(q(r, 99.9)), us(r.cpuPerReq()), cpur,
			errCell(r.res), cacheCell(r.res), fmt.Sprint(r.calls.Requests)})
	}
	s.table(header, out)
}

// machine describes where the run happened.
type machine struct {
	cpus               int
	model, kernel, goV string
	commit             string
	loadStart          string // /proc/loadavg before the run
}

// loadavg returns the 1-, 5- and 15-minute load averages, or "".
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func describeMachine() machine {
	m := machine{cpus: runtime.NumCPU(), goV: runtime.Version(), model: "unknown CPU"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = "Linux " + strings.TrimSpace(string(b))
	} else {
		m.kernel = runtime.GOOS
	}
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.commit = strings.TrimSpace(string(out))
		if out, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(out) > 0 {
			m.commit += " (with uncommitted changes)"
		}
	}
	return m
}

const commandsNote = "Other commands: `benchmarks/run.sh -quick` (a one-minute smoke run that only prints), " +
	"`benchmarks/run.sh -scenarios hit-memory,miss` (some scenarios; `micro` is the Go benchmarks behind the decode and memory-overhead targets), `benchmarks/profile.sh hit|miss|hit-redis` (pprof CPU and allocation profiles of Ditto under load), " +
	"`go run ./benchmarks/cmd/dittobench load -target a=http://127.0.0.1:8080/v1 -target b=http://127.0.0.1:4000/v1 -c 50` " +
	"(the same load against any OpenAI-compatible servers on this machine, side by side); see `benchmarks/README.md`."

func (r *report) markdown(m machine, o *options, started time.Time, took time.Duration, command string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Ditto benchmark results\n\n")
	fmt.Fprintf(&b, "Regenerate with `%s` (about %s here). Generated %s", command, took.Round(time.Second), started.UTC().Format("2006-01-02 15:04 MST"))
	if m.commit != "" {
		fmt.Fprintf(&b, " at commit %s", m.commit)
	}
	fmt.Fprintf(&b, ".\n\n")
	b.WriteString(commandsNote + "\n\n")
	fmt.Fprintf(&b, "**Machine:** %d cores (nproc), %s, %s, %s, GOMAXPROCS %d per process.", m.cpus, m.model, m.kernel, m.goV, runtime.GOMAXPROCS(0))
	if m.loadStart != "" {
		fmt.Fprintf(&b, " Load average (1, 5, 15 min) before the run: %s; after: %s — a shared machine: other work competes for the cores.", m.loadStart, loadavg())
	}
	b.WriteString("\n\n")
	fmt.Fprintf(&b, "**Read the ratios, not the absolute numbers.** The load generator, the simulated upstream, the baselines, Redis and Ditto "+
		"all run on these %d cores at once, so every absolute figure (req/s, ms) is machine-specific and held down by the generator's own CPU use; "+
		"each ratio compares two targets measured in the same run under the same load. "+
		"Closed-loop phases: %s measured after %s warm-up, rounds interleaved across targets, best of %d kept. "+
		"Open-loop latency counts from each request's scheduled start (no coordinated omission). Latency histograms: HdrHistogram, 3 significant digits; "+
		"percentiles are over successful requests, errors are counted separately. "+
		"**CPU/req** is the user+system CPU time of the target's own server process during the measured phase (from /proc/PID/stat, 10 ms resolution) "+
		"divided by its successful requests (shown when the phase used at least 200 ms of CPU): the efficiency figure least disturbed by other load on a shared machine.\n\n", m.cpus, o.phase, o.warmup, o.rounds)
	for _, n := range r.notes {
		b.WriteString(n + "\n\n")
	}
	b.WriteString("## Targets\n\n")
	b.WriteString("| target | goal | measured | result |\n|---|---|---|---|\n")
	for _, c := range r.checks {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", c.name, c.goal, c.measured, c.verdict)
	}
	b.WriteString("\n")
	for i, s := range r.sections {
		fmt.Fprintf(&b, "## %d. %s\n\n", i+1, s.title)
		for _, t := range s.text {
			b.WriteString(t + "\n\n")
		}
	}
	return b.String()
}
