#!/usr/bin/env bash
# Redis commands per request on each path: INFO commandstats deltas over N
# requests to a Ditto on Redis (a private redis-server, a dittobench
# upstream and ditto itself, all on loopback, stopped at the end).
# Usage: benchmarks/roundtrips.sh   (needs redis-server and redis-cli)
set -u
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
go build -o "$tmp/ditto" ./cmd/ditto && go build -o "$tmp/dittobench" ./benchmarks/cmd/dittobench || exit 1
redis-server --port 19379 --save "" --appendonly no --daemonize yes --logfile "$tmp/redis.log"
"$tmp/dittobench" upstream -addr 127.0.0.1:19100 > "$tmp/up.log" 2>&1 &
UP=$!
DITTO_ADDR=127.0.0.1:19101 OPENAI_BASE_URL=http://127.0.0.1:19100/v1 OPENAI_API_KEY=sk-bench \
  REDIS_URL=redis://127.0.0.1:19379/0 "$tmp/ditto" > "$tmp/ditto.log" 2>&1 &
DITTO=$!
trap 'kill $UP $DITTO 2>/dev/null; redis-cli -p 19379 shutdown nosave >/dev/null 2>&1; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do curl -sf 127.0.0.1:19101/readyz >/dev/null && break; sleep 0.1; done
R="redis-cli -p 19379"
snap() { $R INFO commandstats | grep cmdstat_ | sed 's/cmdstat_\([a-z|]*\):calls=\([0-9]*\).*/\1 \2/' | sort; }
req() { # $1 prompt, $2 stream
  curl -s -o /dev/null 127.0.0.1:19101/v1/chat/completions -H 'Content-Type: application/json' ${3:+-H "${3:-}"} \
    -d "{\"model\":\"gpt-4o-mini\",\"stream\":$2,\"messages\":[{\"role\":\"user\",\"content\":\"$1\"}]}"
}
measure() { # label, then a function
  local label=$1; shift
  sleep 1.5; snap > "$tmp/a.txt"; "$@"; sleep 1.5; snap > "$tmp/b.txt"  # > the stats flush interval
  echo "== $label (per request over $N)"; join -a2 "$tmp/a.txt" "$tmp/b.txt" | awk -v n=$N '{d=($3==""?$2:$3-$2); if (NF==2) d=$2; if (d>0) printf "  %-12s %.2f\n", $1, d/n}'
}
N=50
misses() { for i in $(seq $N); do req "miss $RANDOM$i" false; done; }
hits() { for i in $(seq $N); do req "hot prompt" false; done; }
smiss() { for i in $(seq $N); do req "smiss $RANDOM$i" true; done; }
shits() { for i in $(seq $N); do req "hot prompt" true; done; }
req "hot prompt" false
measure "miss, JSON" misses
measure "hit, JSON" hits
measure "miss, stream" smiss
measure "hit, stream" shits
measure "no-store miss" bash -c 'for i in $(seq 50); do curl -s -o /dev/null 127.0.0.1:19101/v1/chat/completions -H "Cache-Control: no-store" -H "Content-Type: application/json" -d "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"ns $i\"}]}"; done'
