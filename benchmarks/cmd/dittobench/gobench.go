package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// benchResult is one result line of `go test -bench` output, e.g.
//
//	BenchmarkDecodeCanonicalKey/1KB-2   29148   8754 ns/op   7019 cpu-ns/op   3538 B/op   15 allocs/op
type benchResult struct {
	name    string             // without the -GOMAXPROCS suffix
	n       int64              // iterations
	metrics map[string]float64 // value by unit: "ns/op", "cpu-ns/op", "overhead-%", …
}

// parseBench returns the result lines of `go test -bench` output, in order,
// skipping everything else (headers, PASS/ok, --- BENCH log blocks). procs
// is the -cpu the benchmarks ran with: the testing package appends "-procs"
// to each name unless it is 1, and only then may a trailing "-N" be
// stripped (a name such as "body=1024-1025" ends in one of its own).
func parseBench(out string, procs int) []benchResult {
	suffix := "-" + strconv.Itoa(procs)
	var rs []benchResult
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		// A name, the iterations, then value-unit pairs.
		if len(f) < 4 || len(f)%2 != 0 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		r := benchResult{name: f[0], n: n, metrics: map[string]float64{}}
		if procs != 1 {
			r.name = strings.TrimSuffix(r.name, suffix)
		}
		ok := true
		for i := 2; i < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				ok = false
				break
			}
			r.metrics[f[i+1]] = v
		}
		if ok {
			rs = append(rs, r)
		}
	}
	return rs
}

// benchCases returns the distinct benchmark names in rs, in order of first
// appearance (the order the benchmark runs its cases).
func benchCases(rs []benchResult) []string {
	var names []string
	for _, r := range rs {
		if !slices.Contains(names, r.name) {
			names = append(names, r.name)
		}
	}
	return names
}

// samples returns the unit's values over every run of the named benchmark.
func samples(rs []benchResult, name, unit string) []float64 {
	var xs []float64
	for _, r := range rs {
		if v, ok := r.metrics[unit]; ok && r.name == name {
			xs = append(xs, v)
		}
	}
	return xs
}

// minMedian returns the smallest value and the median; ok is false when xs
// is empty.
func minMedian(xs []float64) (lo, med float64, ok bool) {
	if len(xs) == 0 {
		return 0, 0, false
	}
	s := slices.Sorted(slices.Values(xs))
	med = s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[0], med, true
}

// goBenchRun is one `go test -bench` invocation.
type goBenchRun struct {
	pkg, pattern, benchtime string
	count, procs            int
	timeout                 time.Duration // the whole command, build included
}

// command spells the invocation for the report, quoted for a shell.
func (g goBenchRun) command() string {
	return fmt.Sprintf("go test %s -run '^$' -bench '%s' -benchtime %s -count %d -cpu %d", g.pkg, g.pattern, g.benchtime, g.count, g.procs)
}

// run runs the benchmarks with the go on PATH in the working directory (the
// repository root under run.sh) and parses the result lines. The error is
// one table cell saying why there are no figures.
func (g goBenchRun) run(ctx context.Context) ([]benchResult, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, errors.New("`go` not on PATH")
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	// -cpu pins GOMAXPROCS, so parseBench knows the name suffix.
	cmd := exec.CommandContext(ctx, goBin, "test", g.pkg, "-run", "^$", "-bench", g.pattern,
		"-benchtime", g.benchtime, "-count", strconv.Itoa(g.count), "-cpu", strconv.Itoa(g.procs))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	switch {
	case parent.Err() != nil:
		return nil, fmt.Errorf("`go test %s` stopped: %v", g.pkg, parent.Err())
	case ctx.Err() != nil:
		return nil, fmt.Errorf("`go test %s` took over %s, stopped", g.pkg, g.timeout)
	case err != nil:
		return nil, fmt.Errorf("`go test %s` failed: %s", g.pkg, failReason(out.String(), err))
	}
	return parseBench(out.String(), g.procs), nil
}

// failReason picks the line of failed `go test` output that says why: a
// compile error, a panic, or a failed benchmark with its last log line.
// Falls back to err (e.g. "exit status 1"). Pipes are replaced, as the
// result goes into a Markdown table.
func failReason(out string, err error) string {
	lines := strings.Split(out, "\n")
	reason := ""
	for i, l := range lines {
		t := strings.TrimSpace(l)
		switch {
		case t == "", t == "PASS", t == "FAIL", strings.HasPrefix(t, "#"), strings.HasPrefix(t, "FAIL\t"),
			strings.HasPrefix(t, "ok "), strings.HasPrefix(t, "ok\t"), strings.HasPrefix(t, "exit status"),
			strings.HasPrefix(t, "goos:"), strings.HasPrefix(t, "goarch:"), strings.HasPrefix(t, "pkg:"), strings.HasPrefix(t, "cpu:"),
			len(parseBench(t, 1)) == 1:
			continue
		case strings.HasPrefix(t, "--- FAIL"):
			// The block's last log line is the b.Fatal message.
			reason = t
			for _, m := range lines[i+1:] {
				if !strings.HasPrefix(m, "    ") {
					break
				}
				reason = t + " " + strings.TrimSpace(m)
			}
		case strings.Contains(t, "panic: "): // may follow a benchmark's name on its line
			reason = t[strings.Index(t, "panic: "):]
		default:
			reason = t
		}
		break
	}
	if reason == "" {
		reason = err.Error()
	}
	reason = strings.ReplaceAll(reason, "|", "/")
	if len(reason) > 200 {
		reason = reason[:200] + "…"
	}
	return reason
}
