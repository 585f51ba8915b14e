#!/usr/bin/env bash
# Deploy checks: the Helm chart, the compose stack and the container image,
# offline (no registry but the Go module proxy and Debian's apt). Called by
# .ci/run and `make deploy-check`; installs what it needs, stops by itself
# (every wait is bounded) and exits non-zero on a real failure.
#
#   bash deploy/check.sh            all steps
#   SKIP_IMAGE=1 bash deploy/check.sh   without the container build
#
# What each step proves is in docs/deploy.md ("What CI verifies").
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

HELM_VERSION=v4.3.2
CACHE=${DITTO_DEPLOY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ditto-deploy}
BIN=$CACHE/bin
WORK=$(mktemp -d)
PIDS=()
CONTAINER_NAME=ditto-deploy-check-$$
# The uncompressed image budget, in bytes: issue 16's 25 MB. The image is
# 22.3 MB (docs/deploy.md, "Image size"); this catches regressions.
IMAGE_MAX_BYTES=${IMAGE_MAX_BYTES:-25000000}
mkdir -p "$BIN"

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if command -v podman >/dev/null 2>&1; then podman rm -f -t 0 "$CONTAINER_NAME" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

step_start=$SECONDS
step() { echo "deploy-check: [$((SECONDS - step_start))s] $*"; }
fail() { echo "deploy-check: FAIL: $*" >&2; exit 1; }

# free_port prints a TCP port nothing listens on (bind, then release).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_healthy ADDR: ditto healthcheck until it passes, at most 20 s.
wait_healthy() {
  for _ in $(seq 200); do
    if "$ROOT/bin/ditto" healthcheck -addr "$1" -timeout 1s >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  "$ROOT/bin/ditto" healthcheck -addr "$1" -timeout 1s || true
  return 1
}

# --- tools -------------------------------------------------------------
need=()
command -v caddy >/dev/null 2>&1 || need+=(caddy)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if [ -z "${SKIP_IMAGE:-}" ]; then
  command -v podman >/dev/null 2>&1 || need+=(podman)
  command -v runc >/dev/null 2>&1 || need+=(runc)
  [ -x /bin/busybox ] || need+=(busybox-static)
fi
if [ ${#need[@]} -gt 0 ]; then
  step "apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 apt-get update -qq
  # No recommends: prometheus would bring its whole web stack.
  timeout 600 apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ ! -x "$BIN/helm-$HELM_VERSION" ]; then
  step "go install helm.sh/helm/v4/cmd/helm@$HELM_VERSION (Go module proxy)"
  GOBIN=$WORK/gobin timeout 900 go install "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
  mv "$WORK/gobin/helm" "$BIN/helm-$HELM_VERSION"
fi
HELM=$BIN/helm-$HELM_VERSION
step "helm $($HELM version --short 2>/dev/null || $HELM version)"

step "deploy/check: go vet, go test, build"
(cd deploy/check && timeout 600 go vet . && timeout 600 go test -count=1 . && timeout 600 go build -o "$BIN/deploycheck" .)
CHECK=$BIN/deploycheck

step "make build (bin/ditto)"
timeout 600 make -s build

# --- Helm chart ----------------------------------------------------------
CHART=deploy/helm/ditto
renders=(default redis cluster)
for r in "${renders[@]}"; do
  values=()
  [ "$r" = default ] || values=(-f "$CHART/ci/$r-values.yaml")
  step "helm lint --strict, helm template ($r values)"
  "$HELM" lint --strict "$CHART" "${values[@]}" >/dev/null || "$HELM" lint --strict "$CHART" "${values[@]}"
  "$HELM" template ditto "$CHART" --namespace ditto "${values[@]}" >"$WORK/$r.yaml"
done
step "Kubernetes API types: strict decoding and references"
"$CHECK" k8s "$WORK/default.yaml" "$WORK/redis.yaml" "$WORK/cluster.yaml"
# A values typo must fail the render, not ship.
if "$HELM" template ditto "$CHART" --set autoscaling.enabled=true --set resources.requests.cpu= >/dev/null 2>&1; then
  fail "helm template accepted an HPA without a CPU request"
fi
# A config change must roll the pods.
a=$("$HELM" template ditto "$CHART" | grep checksum/config)
b=$("$HELM" template ditto "$CHART" --set config.log.level=debug | grep checksum/config)
[ "$a" != "$b" ] || fail "checksum/config does not change with the config"
step "the chart's Ditto config starts the gateway (ditto healthcheck)"
for r in "${renders[@]}"; do
  "$CHECK" configmap "$WORK/$r.yaml" config.yaml >"$WORK/$r-config.yaml"
  port=$(free_port)
  DITTO_CONFIG=$WORK/$r-config.yaml DITTO_ADDR=127.0.0.1:$port bin/ditto >"$WORK/$r-ditto.log" 2>&1 &
  pid=$!; PIDS+=("$pid")
  wait_healthy "0.0.0.0:$port" || { cat "$WORK/$r-ditto.log"; fail "ditto did not start with the $r chart config"; }
  kill "$pid"; wait "$pid" || fail "ditto ($r chart config) did not exit cleanly on SIGTERM"
done

# --- compose -------------------------------------------------------------
step "compose: compose-go load, caddy validate, promtool check config, grafana provisioning"
"$CHECK" compose deploy/compose.yaml
caddy validate --adapter caddyfile --config deploy/compose/caddy/Caddyfile >/dev/null 2>&1 ||
  caddy validate --adapter caddyfile --config deploy/compose/caddy/Caddyfile
promtool check config deploy/compose/prometheus/prometheus.yml
promtool check config configs/prometheus.yml
python3 - <<'EOF'
import json, sys
d = json.load(open("configs/grafana/ditto.json"))
ds = open("deploy/compose/grafana/provisioning/datasources/prometheus.yaml").read()
assert "type: prometheus" in ds and "isDefault: true" in ds, "the provisioned datasource must be the default Prometheus"
var = [v for v in d["templating"]["list"] if v["name"] == "datasource"]
assert var and var[0]["query"] == "prometheus", "dashboard's datasource variable is not of type prometheus"
print("ok   grafana: dashboard %r, %d panels, datasource variable resolves to the provisioned Prometheus" % (d["title"], len(d["panels"])))
EOF

step "two replicas + Redis + Caddy on loopback"
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --daemonize no >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
cat >"$WORK/sim.yaml" <<'EOF'
providers:
  sim:
    type: simulated
routes:
  - model: sim-model
    provider: sim
EOF
ports=()
for i in 1 2; do
  p=$(free_port); ports+=("$p")
  DITTO_CONFIG=$WORK/sim.yaml DITTO_ADDR=127.0.0.1:$p REDIS_URL=redis://127.0.0.1:$rport/0 bin/ditto >"$WORK/ditto$i.log" 2>&1 &
  PIDS+=($!)
done
lbport=$(free_port)
# The compose Caddyfile finds replicas by DNS; on loopback the two replicas
# differ by port, so the same proxy options get static upstreams here.
sed -e "s/^:8080 {/:$lbport {/" \
    -e "s|dynamic a .*{\$|to 127.0.0.1:${ports[0]} 127.0.0.1:${ports[1]}|" \
    -e '/refresh 5s/{N;d}' deploy/compose/caddy/Caddyfile >"$WORK/Caddyfile"
caddy run --adapter caddyfile --config "$WORK/Caddyfile" >"$WORK/caddy.log" 2>&1 &
PIDS+=($!)
for p in "${ports[@]}"; do wait_healthy "127.0.0.1:$p" || { cat "$WORK"/ditto*.log; fail "replica on $p did not start"; }; done
for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$lbport/healthz" 2>/dev/null && break; sleep 0.1; done
body='{"model":"sim-model","messages":[{"role":"user","content":"deploy check"}]}'
status() { curl -fsS -m 10 -o /dev/null -D - "$1/v1/chat/completions" -H 'Content-Type: application/json' -d "$body" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-ditto-cache"{print $2}'; }
s1=$(status "http://127.0.0.1:$lbport"); s2=$(status "http://127.0.0.1:$lbport"); s3=$(status "http://127.0.0.1:${ports[1]}"); s4=$(status "http://127.0.0.1:${ports[0]}")
echo "ok   through Caddy: $s1 then $s2; replica 2 direct: $s3; replica 1 direct: $s4"
[ "$s1" = MISS ] && [ "$s2" = HIT ] && [ "$s3" = HIT ] && [ "$s4" = HIT ] || fail "the replicas do not share the cache through Redis (want MISS HIT HIT HIT)"
curl -fsS -m 10 -o /dev/null "http://127.0.0.1:$lbport/dashboard" || fail "/dashboard through Caddy"
for p in "${ports[@]}"; do
  grep -q '^ditto_cache_requests_total' <<<"$(curl -fsS -m 10 "http://127.0.0.1:$p/metrics")" || fail "replica $p exposes no ditto_cache_requests_total"
  grep -q '"ready"' <<<"$(curl -fsS -m 10 "http://127.0.0.1:$p/readyz")" || fail "replica $p is not ready"
done
for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
PIDS=()

# --- container image -------------------------------------------------------
if [ -n "${SKIP_IMAGE:-}" ]; then
  step "image: skipped (SKIP_IMAGE)"; step "done"; exit 0
fi
# This machine's sandbox allows podman only with runc and ulimits no higher
# than its own; a private containers.conf says so without touching the host's.
cat >"$WORK/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
runtime = "runc"
EOF
export CONTAINERS_CONF=$WORK/containers.conf
# vfs: overlay mounts are not available in every sandbox; vfs always works.
cat >"$WORK/storage.conf" <<EOF
[storage]
driver = "vfs"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
EOF
export CONTAINERS_STORAGE_CONF=$WORK/storage.conf
# No registry is reachable: the builder stage runs on a local image made of
# this machine's Go toolchain, static busybox (/bin/sh for RUN) and CA
# certificates. The final stage is FROM scratch, which needs no pull.
gover=$(go env GOVERSION)
GO_IMAGE=localhost/ditto-ci/go:${gover#go}
if ! podman image exists "$GO_IMAGE"; then
  step "assemble $GO_IMAGE from $(go env GOROOT), busybox and CA certificates"
  R=$WORK/rootfs
  mkdir -p "$R/bin" "$R/etc/ssl/certs" "$R/tmp" "$R/root" "$R/usr/local" "$R/go"
  cp /bin/busybox "$R/bin/busybox"
  for a in sh ls cat env mkdir rm cp; do ln -s busybox "$R/bin/$a"; done
  cp /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/"
  chmod 1777 "$R/tmp"
  cp -a "$(go env GOROOT)" "$R/usr/local/go"
  rm -rf "$R/usr/local/go/test" "$R/usr/local/go/pkg/obj"
  tar -C "$R" -c . | timeout 600 podman import \
    --change 'ENV PATH=/usr/local/go/bin:/bin' --change 'ENV GOROOT=/usr/local/go' \
    --change 'ENV GOPATH=/go' --change 'ENV HOME=/root' --change 'ENV GOTOOLCHAIN=local' - "$GO_IMAGE" >/dev/null
fi
IMAGE=localhost/ditto:deploy-check
step "make image (podman build, builder $GO_IMAGE)"
timeout 1200 make -s image CONTAINER=podman IMAGE="$IMAGE" VERSION=deploy-check \
  IMAGE_FLAGS="--isolation chroot --network host --build-arg GO_IMAGE=$GO_IMAGE --build-arg GOPROXY=$(go env GOPROXY)" >"$WORK/build.log" 2>&1 ||
  { tail -50 "$WORK/build.log"; fail "podman build"; }
step "image metadata"
podman image inspect "$IMAGE" >"$WORK/image.json"
python3 - "$WORK/image.json" "$IMAGE_MAX_BYTES" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))[0]
c = d["Config"]
size, limit = d["Size"], int(sys.argv[2])
hc = (d.get("Healthcheck") or c.get("Healthcheck") or {}).get("Test")
checks = [
    (size <= limit, "size %d bytes (%.1f MB), budget %d" % (size, size / 1e6, limit)),
    (c.get("User") == "65532:65532", "user %r" % c.get("User")),
    (hc == ["CMD", "/ditto", "healthcheck"], "healthcheck %r" % hc),
    ("DITTO_ADDR=0.0.0.0:8080" in c.get("Env", []), "env %r" % c.get("Env")),
    ("8080/tcp" in (c.get("ExposedPorts") or {}), "exposed %r" % list(c.get("ExposedPorts") or {})),
    (c.get("Entrypoint") == ["/ditto"], "entrypoint %r" % c.get("Entrypoint")),
    (len(d.get("RootFS", {}).get("Layers", [])) == 2, "%d layers (certificates, binary)" % len(d.get("RootFS", {}).get("Layers", []))),
]
bad = [m for ok, m in checks if not ok]
for ok, m in checks:
    print(("ok   " if ok else "FAIL ") + m)
sys.exit(1 if bad else 0)
EOF
step "run the image: read-only root, healthcheck, non-root, SIGTERM"
cport=$(free_port)
# (podman logs that it cannot reach systemd to time the healthcheck: it is run by hand here.)
podman run -d --name "$CONTAINER_NAME" --network host --read-only -e DITTO_ADDR=127.0.0.1:$cport "$IMAGE" >/dev/null 2>>"$WORK/podman.log"
for _ in $(seq 100); do podman healthcheck run "$CONTAINER_NAME" >/dev/null 2>&1 && break; sleep 0.2; done
podman healthcheck run "$CONTAINER_NAME" >/dev/null 2>&1 || { podman logs "$CONTAINER_NAME"; fail "podman healthcheck run"; }
[ "$(podman exec "$CONTAINER_NAME" /ditto version)" = "ditto deploy-check" ] || fail "version from ldflags"
cpid=$(podman inspect -f '{{.State.Pid}}' "$CONTAINER_NAME")
uid=$(awk '/^Uid:/{print $2}' "/proc/$cpid/status")
[ "$uid" = 65532 ] || fail "the gateway runs as uid $uid, want 65532"
grep -q '"ready"' <<<"$(curl -fsS -m 10 "http://127.0.0.1:$cport/readyz")" || fail "/readyz from the container"
echo "ok   healthy, ditto deploy-check, uid $uid, /readyz ready"
timeout 60 podman stop -t 25 "$CONTAINER_NAME" >/dev/null 2>>"$WORK/podman.log"
code=$(podman inspect -f '{{.State.ExitCode}}' "$CONTAINER_NAME")
[ "$code" = 0 ] || { podman logs "$CONTAINER_NAME" | tail; fail "exit code $code after SIGTERM, want 0"; }
grep -q '"ditto stopped"' <<<"$(podman logs "$CONTAINER_NAME" 2>&1)" || fail "no clean-shutdown log line"
echo "ok   SIGTERM: drained and exited 0"
podman rm -f "$CONTAINER_NAME" >/dev/null 2>>"$WORK/podman.log"
step "done"
