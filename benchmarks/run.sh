#!/usr/bin/env bash
# Runs every Ditto benchmark scenario and regenerates benchmarks/RESULTS.md.
#
#   benchmarks/run.sh                 full run (about 7 minutes on 2 cores), rewrites RESULTS.md
#   benchmarks/run.sh -quick          smoke run, prints the report only
#   benchmarks/run.sh -scenarios miss,streaming -write /tmp/r.md
#
# Flags go to `dittobench run` (see `go run ./benchmarks/cmd/dittobench run -h`).
# Needs Go; redis-server is optional (Redis rows are skipped without it).
# All load goes to 127.0.0.1 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/dittobench" ./benchmarks/cmd/dittobench
# A full run rewrites RESULTS.md; partial, smoke or redirected runs only print.
case " $* " in
  *" -write"* | *" --write"* | *" -quick"* | *" --quick"* | *" -scenarios"* | *" --scenarios"*) ;;
  *) set -- -write benchmarks/RESULTS.md "$@" ;;
esac
"$tmp/dittobench" run "$@"
