#!/usr/bin/env bash
# Profiles Ditto's hit path (or miss path) under benchmark load with pprof.
#
#   benchmarks/profile.sh [hit|miss|miss-store|stream-miss|hit-redis] [seconds]
#
# miss sends unique prompts with Cache-Control: no-store (the bypass path);
# miss-store sends unique prompts that are looked up and stored;
# stream-miss is miss with stream: true.
#
# Builds cmd/ditto (whose DITTO_PPROF_ADDR serves net/http/pprof on a port of
# its own), starts the simulated upstream and Ditto on loopback
# ports, primes the hot set, sends closed-loop load at c=50 and takes a CPU
# profile, then an allocation profile, of Ditto meanwhile. Prints the top
# functions; the profiles are kept in benchmarks/out/ (git-ignored) for
# `go tool pprof -http`.
# DITTO_CONFIG, if set, is passed to Ditto.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-hit}
secs=${2:-10}
out=benchmarks/out
mkdir -p "$out"
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/dittobench" ./benchmarks/cmd/dittobench
go build -o "$tmp/ditto" ./cmd/ditto

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

"$tmp/dittobench" upstream -addr 127.0.0.1:0 >"$tmp/up.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q listening "$tmp/up.out" 2>/dev/null && break; sleep 0.05; done
up=$(sed -n 's/^listening //p' "$tmp/up.out")

addr=127.0.0.1:$(port)
pprof=127.0.0.1:$(port)
env=(DITTO_ADDR="$addr" DITTO_PPROF_ADDR="$pprof" OPENAI_BASE_URL="$up/v1" OPENAI_API_KEY=sk-bench)
if [ "$mode" = hit-redis ]; then
  rport=$(port)
  redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no >"$tmp/redis.log" 2>&1 &
  pids+=($!)
  env+=(REDIS_URL="redis://127.0.0.1:$rport/0")
  sleep 0.3
fi
[ -n "${DITTO_CONFIG:-}" ] && env+=(DITTO_CONFIG="$DITTO_CONFIG")
env "${env[@]}" "$tmp/ditto" 2>"$out/ditto.log" &
pids+=($!)
for _ in $(seq 200); do curl -fs "http://$addr/healthz" >/dev/null 2>&1 && break; sleep 0.05; done

workload=hot
header=()
case $mode in
  miss) workload=unique; header=(-header "Cache-Control: no-store") ;;
  miss-store) workload=unique ;;
  stream-miss) workload=unique; header=(-header "Cache-Control: no-store" -stream) ;;
esac
"$tmp/dittobench" load -target "ditto=http://$addr/v1" -workload "$workload" "${header[@]}" \
  -c 50 -warmup 1s -duration "$((2 * secs + 3))s" >"$tmp/load.out" &
loadpid=$!
sleep 1.5
curl -fs -o "$out/ditto-$mode.cpu.pprof" "http://$pprof/debug/pprof/profile?seconds=$secs"
curl -fs -o "$out/ditto-$mode.allocs.pprof" "http://$pprof/debug/pprof/allocs?seconds=$secs"
wait "$loadpid"
cat "$tmp/load.out" | tail -3
echo
go tool pprof -top -nodecount=40 "$out/ditto-$mode.cpu.pprof" 2>/dev/null | head -50
echo
echo "cumulative:"
go tool pprof -top -cum -nodecount=45 "$out/ditto-$mode.cpu.pprof" 2>/dev/null | sed -n '6,55p'
echo
echo "allocated bytes, cumulative:"
go tool pprof -sample_index=alloc_space -top -cum -nodecount=30 "$out/ditto-$mode.allocs.pprof" 2>/dev/null | sed -n '5,40p'
