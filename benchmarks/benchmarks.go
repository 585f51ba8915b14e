// Package benchmarks is Ditto's load-benchmark suite; run it with
// benchmarks/run.sh (see README.md here). This package only embeds the prompt
// sample in testdata/ for the workload package; the product never imports it.
package benchmarks

import "embed"

// Prompts is the bounded real-prompt sample (see testdata/SOURCES.md).
//
//go:embed testdata/*.jsonl testdata/*.csv
var Prompts embed.FS
