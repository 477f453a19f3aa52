#!/usr/bin/env bash
# Builds the container images of deploy/docker/Dockerfile with podman and runs them:
# the exporter next to the simulator, as in deploy/compose/compose.yml.
#
#   bash scripts/test-container.sh
#
# Checks: the exporter scrapes the simulator (arroyo_up 1 and subtask series), runs as
# uid 10001 with a read-only root filesystem, its HEALTHCHECK passes (and fails when it
# probes a port nothing listens on), it stops on SIGTERM within 5 s, and the image stays
# within the size goal below. Then it tries the compose stack with podman-compose.
#
# What this machine cannot do, and what the script does instead:
#   - no image registry: the runtime stages' base (debian:bookworm-slim) is made from
#     Debian packages with mmdebstrap (minbase, with the path excludes and apt settings
#     of Debian's slim images), cached as a tar under .tmp/container/, and substituted
#     for debian:bookworm-slim with --build-context;
#   - no Rust image: the builder stages cannot run. The binaries are built on the host
#     with the Dockerfile's own commands (cargo build --release --locked ...) and the
#     stages "builder" and "simulator-builder" are replaced, with --build-context, by a
#     directory holding out/<binary>, the path the stages install to. Everything from
#     the runtime-base stage on (apt-get install ca-certificates, the user, the
#     healthcheck, USER, HEALTHCHECK, ENTRYPOINT) runs from the Dockerfile unchanged;
#   - crun cannot use this host's cgroups ("cgroups in hybrid mode not supported"):
#     podman --runtime runc;
#   - the process lacks CAP_SYS_RESOURCE: --ulimit nofile=4096:4096 --ulimit
#     nproc=4096:4096 on build and run;
#   - podman writes OCI images by default, which have no HEALTHCHECK: --format docker.
# The build's RUN apt-get reaches the Debian mirror (--network host); the containers
# themselves run without a network (--network none; the exporter joins the simulator's
# namespace, as compose's network_mode: service:arroyo does) and talk over loopback.
#
# Installs, idempotently: Debian packages podman, runc, mmdebstrap and CNI's dnsname
# plugin (golang-github-containernetworking-plugin-dnsname); podman-compose from
# PyPI into .tmp/container/compose-venv.
# Ends with "container: N passed, M failed", exits non-zero when anything failed, and
# removes the containers and images it made (the base tar stays cached).
#
# Environment: REFRESH_BASE=1 remakes the cached base tar (Debian updates);
# CARGO_BUILD=0 takes the binaries in target/release as they are (no cargo build);
# KEEP=1 leaves the containers and images for a look.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
TMP="$ROOT/.tmp/container"
mkdir -p "$TMP"
export DEBIAN_FRONTEND=noninteractive

# The size goal for the exporter image, in MB (10^6 bytes; podman's unit). The
# Debian-made base is about 78 MB of it (deploy/README.md).
SIZE_GOAL_MB=110
DEBIAN_RELEASE=bookworm
SHUTDOWN_GOAL_S=5

passed=0
failed=0
failures=()
notes=()
started_all=$SECONDS

log() { printf '\n=== %s\n' "$*"; }
ok() { passed=$((passed + 1)); echo "--- ok: $*"; }
bad() { failed=$((failed + 1)); failures+=("$*"); echo "--- FAILED: $*"; }
note() { notes+=("$*"); echo "$*"; }
# check NAME COMMAND...: one counted check.
check() {
  local name="$1"
  shift
  if "$@"; then ok "$name"; else bad "$name"; fi
}

# ---------------------------------------------------------------- setup

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; fi

apt_updated=0
apt_install() {
  # Debian packages, without starting their services (policy-rc.d says no).
  local created_policy=0 rc=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 0755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  if ! $SUDO apt-get install -y --no-install-recommends "$@"; then
    if [ "$apt_updated" -eq 0 ]; then
      $SUDO apt-get update && apt_updated=1
      $SUDO apt-get install -y --no-install-recommends "$@" || rc=$?
    else
      rc=1
    fi
  fi
  if [ "$created_policy" -eq 1 ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
  return "$rc"
}

ensure_cmd() {  # ensure_cmd COMMAND DEBIAN-PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  log "installing Debian package $2 (for $1)"
  apt_install "$2"
  command -v "$1" >/dev/null 2>&1
}

log "setup"
for pair in podman:podman runc:runc mmdebstrap:mmdebstrap; do
  ensure_cmd "${pair%%:*}" "${pair#*:}" || {
    echo "cannot install ${pair#*:} (Debian package): the container image cannot be built" >&2
    echo "container: $passed passed, $((failed + 1)) failed"
    exit 1
  }
done
# CNI's dnsname plugin: the compose stack's services find each other by name with it.
if [ ! -x /usr/lib/cni/dnsname ]; then
  log "installing Debian package golang-github-containernetworking-plugin-dnsname"
  apt_install golang-github-containernetworking-plugin-dnsname \
    || echo "cannot install the CNI dnsname plugin: the compose stack's names will not resolve" >&2
fi
PODMAN=(podman --runtime runc)
ULIMITS=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
echo "podman:     $(podman --version) (runtime: runc $(runc --version 2>/dev/null | head -1 | awk '{print $3}'))"
echo "mmdebstrap: $(mmdebstrap --version 2>/dev/null)"

# Names of everything this run makes, removed at exit.
RUN_ID="aetest-$$"
BASE_IMAGE="localhost/arroyo-exporter-test-base:$DEBIAN_RELEASE"
EXPORTER_IMAGE="localhost/arroyo-exporter:$RUN_ID"
SIM_IMAGE="localhost/arroyo-exporter-sim:$RUN_ID"
SIM_C="$RUN_ID-sim"
EXPORTER_C="$RUN_ID-exporter"
PROBE_C="$RUN_ID-probe"
made_images=()
made_containers=()
COMPOSE=()

cleanup() {
  if [ "${KEEP:-0}" = 1 ]; then
    echo "KEEP=1: left containers ${made_containers[*]-} and images ${made_images[*]-}"
    return
  fi
  local c i
  if [ "${#COMPOSE[@]}" -gt 0 ]; then "${COMPOSE[@]}" down -v >>"$TMP/cleanup.log" 2>&1; fi
  for c in "${made_containers[@]+"${made_containers[@]}"}"; do
    "${PODMAN[@]}" rm -f -t 0 "$c" >>"$TMP/cleanup.log" 2>&1
  done
  for i in "${made_images[@]+"${made_images[@]}"}"; do
    "${PODMAN[@]}" rmi -f "$i" >>"$TMP/cleanup.log" 2>&1
  done
  rm -rf "$TMP/ctx-exporter" "$TMP/ctx-sim" "$TMP/compose"
}
trap cleanup EXIT

mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
image_bytes() { "${PODMAN[@]}" image inspect --format '{{.Size}}' "$1"; }

# ---------------------------------------------------------------- binaries

# The Dockerfile's builder stages, run on the host (no Rust image here): the same
# commands, the same release profile.
log "release binaries (cargo build --release, as the Dockerfile's builder stages)"
t0=$SECONDS
if [ "${CARGO_BUILD:-1}" = 0 ]; then
  echo "CARGO_BUILD=0: the binaries in target/release as they are"
  ls -l target/release/arroyo-exporter target/release/arroyo-exporter-sim || exit 1
elif cargo build --release --locked --bin arroyo-exporter \
   && cargo build --release --locked --workspace --bins; then
  ok "cargo build --release of arroyo-exporter and arroyo-exporter-sim ($((SECONDS - t0)) s)"
else
  bad "cargo build --release ($((SECONDS - t0)) s)"
  echo "container: $passed passed, $failed failed"
  exit 1
fi
release_build_s=$((SECONDS - t0))
mkdir -p "$TMP/ctx-exporter/out" "$TMP/ctx-sim/out"
install -m 0755 target/release/arroyo-exporter "$TMP/ctx-exporter/out/arroyo-exporter"
install -m 0755 target/release/arroyo-exporter-sim "$TMP/ctx-sim/out/arroyo-exporter-sim"
binary_bytes=$(stat -c %s target/release/arroyo-exporter)

# ---------------------------------------------------------------- base image

# debian:bookworm-slim made from Debian packages: minbase (essential packages and apt),
# merged /usr without the usrmerge package, and what Debian's slim images leave out
# (manuals, translations, documentation but the copyright files). The apt settings keep
# apt's package caches out of image layers, as Debian's images do; without them the
# Dockerfile's `apt-get update` alone would add about 80 MB of cache to the image.
cat >"$TMP/apt-container.conf" <<'EOF'
// Made by scripts/test-container.sh for a container base image: apt keeps no binary
// package cache and no downloaded .deb files, and fetches no translations.
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb || true"; };
Acquire::Languages "none";
EOF
# shellcheck disable=SC2016  # "$1" is the hook's argument (the new root), not ours
MMDEBSTRAP_ARGS=(
  --variant=minbase
  --format=tar
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-include=/usr/share/locale/locale.alias'
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/lintian/*'
  --customize-hook="upload $TMP/apt-container.conf /etc/apt/apt.conf.d/90container"
  # the caches apt made before the settings above (its own clean-up no longer sees them)
  --customize-hook='rm -f "$1"/var/cache/apt/*.bin'
)
recipe=$(printf '%s\n' "$DEBIAN_RELEASE" "${MMDEBSTRAP_ARGS[@]}" | cat - "$TMP/apt-container.conf" \
  | sha256sum | cut -c1-12)
BASE_TAR="$TMP/debian-$DEBIAN_RELEASE-minbase-$recipe.tar"
log "base image ($BASE_TAR)"
if [ "${REFRESH_BASE:-0}" = 1 ] || [ ! -s "$BASE_TAR" ]; then
  t0=$SECONDS
  if mmdebstrap "${MMDEBSTRAP_ARGS[@]}" "$DEBIAN_RELEASE" "$BASE_TAR.part" >"$TMP/mmdebstrap.log" 2>&1 \
     && mv "$BASE_TAR.part" "$BASE_TAR"; then
    ok "mmdebstrap $DEBIAN_RELEASE base ($((SECONDS - t0)) s, first run; cached after)"
  else
    tail -n 20 "$TMP/mmdebstrap.log"
    bad "mmdebstrap $DEBIAN_RELEASE base"
    echo "container: $passed passed, $failed failed"
    exit 1
  fi
else
  echo "cached since $(date -r "$BASE_TAR" '+%Y-%m-%d %H:%M') (REFRESH_BASE=1 remakes it)"
fi
made_images+=("$BASE_IMAGE")
if ! "${PODMAN[@]}" import "$BASE_TAR" "$BASE_IMAGE" >/dev/null; then
  bad "podman import of the base tar"
  echo "container: $passed passed, $failed failed"
  exit 1
fi
base_bytes=$(image_bytes "$BASE_IMAGE")
echo "base image: $(mb "$base_bytes") MB ($BASE_IMAGE)"

# ---------------------------------------------------------------- build

# podman 4.3 matches a build context against FROM as written (before ARG expansion),
# later versions against the expanded name: both spellings are given.
BUILD=("${PODMAN[@]}" build --format docker --pull=never --network host "${ULIMITS[@]}"
  --build-context "debian:\${DEBIAN_RELEASE}-slim=container-image://$BASE_IMAGE"
  --build-context "debian:$DEBIAN_RELEASE-slim=container-image://$BASE_IMAGE"
  -f deploy/docker/Dockerfile)

build_image() {  # build_image TARGET IMAGE CONTEXT-STAGE CONTEXT-DIR
  local t0=$SECONDS
  "${BUILD[@]}" --target "$1" --build-context "$3=$4" -t "$2" . >"$TMP/build-$1.log" 2>&1
  local rc=$?
  echo "podman build --target $1: $((SECONDS - t0)) s (log: ${TMP#"$ROOT"/}/build-$1.log)"
  [ $rc -eq 0 ] || tail -n 20 "$TMP/build-$1.log"
  return $rc
}

log "podman build (deploy/docker/Dockerfile)"
build_t0=$SECONDS
made_images+=("$EXPORTER_IMAGE" "$SIM_IMAGE")
check "build the exporter image (--target exporter)" \
  build_image exporter "$EXPORTER_IMAGE" builder "$TMP/ctx-exporter"
check "build the simulator image (--target simulator)" \
  build_image simulator "$SIM_IMAGE" simulator-builder "$TMP/ctx-sim"
build_s=$((SECONDS - build_t0))

if ! "${PODMAN[@]}" image exists "$EXPORTER_IMAGE" || ! "${PODMAN[@]}" image exists "$SIM_IMAGE"; then
  echo "container: $passed passed, $failed failed"
  exit 1
fi

image_is_configured() {
  local cfg
  cfg=$("${PODMAN[@]}" image inspect --format \
    '{{.Config.User}}|{{json .Config.Entrypoint}}|{{if .Config.Healthcheck}}{{json .Config.Healthcheck.Test}}{{end}}' \
    "$EXPORTER_IMAGE")
  echo "exporter image: $cfg"
  [ "$cfg" = '10001:10001|["/usr/local/bin/arroyo-exporter"]|["CMD","/usr/local/bin/arroyo-exporter-healthcheck"]' ]
}
check "the image keeps USER 10001, the ENTRYPOINT and the HEALTHCHECK (docker format)" image_is_configured

# ---------------------------------------------------------------- run

# Both containers as Kubernetes runs them (deploy/kubernetes: readOnlyRootFilesystem,
# no privilege escalation, no capabilities), without the tmpfs podman adds to
# read-only containers by default. No network but loopback.
# podman's output (the container id, and its complaints that there is no systemd to time
# health checks with: `podman healthcheck run` runs them here) goes to podman-run.log.
RUN=("${PODMAN[@]}" run -d "${ULIMITS[@]}" --read-only --read-only-tmpfs=false
  --cap-drop=ALL --security-opt=no-new-privileges)
run_quiet() { "$@" >>"$TMP/podman-run.log" 2>&1 || { tail -n 5 "$TMP/podman-run.log"; return 1; }; }

log "start the simulator and the exporter"
made_containers+=("$SIM_C" "$EXPORTER_C" "$PROBE_C")
check "start the simulator container" run_quiet "${RUN[@]}" --name "$SIM_C" --network none "$SIM_IMAGE" \
  --arroyo-release=main --scenario=steady \
  --api-listen=127.0.0.1:5115 --rpc-listen=127.0.0.1:5116 --admin-listen=127.0.0.1:5114
check "start the exporter container (in the simulator's network namespace)" \
  run_quiet "${RUN[@]}" --name "$EXPORTER_C" --network "container:$SIM_C" "$EXPORTER_IMAGE" \
  --web.listen-address=0.0.0.0:9731 --controller.endpoint=http://127.0.0.1:5116 \
  --api.endpoint=http://127.0.0.1:5115 --admin.endpoint=http://127.0.0.1:5114

# http_get CONTAINER PORT PATH: a plain HTTP GET from inside the container (the image
# has no curl; bash's /dev/tcp as in the healthcheck).
# shellcheck disable=SC2016  # $1 and $2 are the inner bash's arguments
http_get() {
  "${PODMAN[@]}" exec "$1" bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" "$2" >&3
    cat <&3' http_get "$2" "$3"
}

scrape_ok() {
  local i body=""
  for i in $(seq 1 30); do
    body=$(http_get "$EXPORTER_C" 9731 /metrics 2>/dev/null | tr -d '\r')
    if grep -qx 'arroyo_up 1' <<<"$body"; then break; fi
    sleep 0.5
  done
  printf '%s\n' "$body" >"$TMP/metrics.txt"
  local subtasks
  subtasks=$(grep -c '^arroyo_subtask_[a-z_]*{' <<<"$body")
  echo "after $i tries: $(grep -m1 '^arroyo_up' <<<"$body" || echo 'no arroyo_up'); $subtasks subtask series (${TMP#"$ROOT"/}/metrics.txt)"
  grep -qx 'arroyo_up 1' <<<"$body" && [ "$subtasks" -gt 0 ]
}
log "scrape /metrics"
check "/metrics: arroyo_up 1 and subtask series from the simulator" scrape_ok

log "user and filesystem"
runs_as_10001() {
  local status
  status=$("${PODMAN[@]}" exec "$EXPORTER_C" cat /proc/1/status | awk '/^(Uid|Gid):/ {print $1, $2, $3, $4, $5}')
  awk '{print "exporter process (pid 1): " $0}' <<<"$status"
  [ "$(echo "$status" | awk '{for (i = 2; i <= 5; i++) if ($i != 10001) bad = 1} END {print bad + 0}')" = 0 ] \
    && [ "$(echo "$status" | wc -l)" = 2 ]
}
check "the exporter process runs as uid/gid 10001 (not root)" runs_as_10001
root_is_read_only() {
  local out rc
  out=$("${PODMAN[@]}" exec "$EXPORTER_C" bash -c 'echo x >/written-by-test && echo written' 2>&1)
  rc=$?
  echo "write to / as the container user: ${out:-no output} (exit $rc)"
  out=$("${PODMAN[@]}" exec --user 0 "$EXPORTER_C" bash -c 'echo x >/written-by-test && echo written' 2>&1)
  local rc_root=$?
  echo "write to / as root:               ${out:-no output} (exit $rc_root)"
  [ $rc -ne 0 ] && [ $rc_root -ne 0 ] && grep -q 'Read-only file system' <<<"$out"
}
check "the root filesystem is read-only (--read-only; a write to / fails, even as root)" root_is_read_only

log "HEALTHCHECK"
healthcheck() {  # healthcheck CONTAINER: podman healthcheck run, its word and status
  local out rc
  out=$("${PODMAN[@]}" healthcheck run "$1" 2>"$TMP/healthcheck.err")
  rc=$?
  echo "podman healthcheck run $1: ${out:-(no output)} (exit $rc)"
  return $rc
}
check "HEALTHCHECK passes on the running exporter" healthcheck "$EXPORTER_C"
# An exporter listening on another port without HEALTHCHECK_PORT: the probe finds
# nothing on 9731 and the container is unhealthy; with HEALTHCHECK_PORT it passes.
run_quiet "${RUN[@]}" --name "$PROBE_C" --network none "$EXPORTER_IMAGE" \
  --web.listen-address=127.0.0.1:9740 >/dev/null
wait_listening() {
  local i
  for i in $(seq 1 20); do
    http_get "$1" "$2" /-/healthy 2>/dev/null | grep -q '^HTTP/1.[01] 200' && return 0
    sleep 0.25
  done
  return 1
}
probe_fails_then_passes() {
  wait_listening "$PROBE_C" 9740 || { echo "the second exporter does not answer on 9740"; return 1; }
  ! healthcheck "$PROBE_C" || return 1
  local rc
  "${PODMAN[@]}" exec -e HEALTHCHECK_PORT=9740 "$PROBE_C" /usr/local/bin/arroyo-exporter-healthcheck
  rc=$?
  echo "with HEALTHCHECK_PORT=9740: exit $rc"
  [ $rc -eq 0 ]
}
check "HEALTHCHECK fails when the exporter does not answer on HEALTHCHECK_PORT" probe_fails_then_passes
"${PODMAN[@]}" rm -f -t 0 "$PROBE_C" >/dev/null 2>>"$TMP/podman-run.log"

log "SIGTERM"
stop_is_clean() {
  local t0 t1 ms code
  t0=$(date +%s%N)
  "${PODMAN[@]}" stop -t 10 "$EXPORTER_C" >/dev/null 2>>"$TMP/podman-run.log"
  t1=$(date +%s%N)
  ms=$(((t1 - t0) / 1000000))
  code=$("${PODMAN[@]}" inspect --format '{{.State.ExitCode}}' "$EXPORTER_C")
  echo "podman stop -t 10: $(awk -v ms="$ms" 'BEGIN { printf "%.2f", ms / 1000 }') s, exit code $code"
  "${PODMAN[@]}" logs --tail 3 "$EXPORTER_C" 2>&1 | sed 's/^/exporter log: /'
  { [ "$code" = 0 ] || [ "$code" = 143 ]; } && [ "$ms" -lt $((SHUTDOWN_GOAL_S * 1000)) ]
}
check "the exporter stops on SIGTERM in < ${SHUTDOWN_GOAL_S} s with exit 0 or 143" stop_is_clean

log "image size"
exporter_bytes=$(image_bytes "$EXPORTER_IMAGE")
sim_bytes=$(image_bytes "$SIM_IMAGE")
base_share=$(awk -v b="$base_bytes" -v i="$exporter_bytes" 'BEGIN { printf "%.0f", 100 * b / i }')
echo "exporter image:   $(mb "$exporter_bytes") MB (goal <= $SIZE_GOAL_MB MB)"
echo "  Debian-made base: $(mb "$base_bytes") MB ($base_share %)"
echo "  binary:           $(mb "$binary_bytes") MB"
echo "  rest (ca-certificates and its openssl, user, healthcheck): $(mb $((exporter_bytes - base_bytes - binary_bytes))) MB"
echo "simulator image:  $(mb "$sim_bytes") MB"
check "exporter image $(mb "$exporter_bytes") MB <= goal $SIZE_GOAL_MB MB" \
  test "$exporter_bytes" -le $((SIZE_GOAL_MB * 1000000))

# ---------------------------------------------------------------- compose

# deploy/compose/compose.yml with podman-compose, as far as its images can be made here:
# the simulator and the exporter (just built, tagged as the compose file names them);
# Prometheus and Alertmanager from Debian's packages (older releases than the file's
# prom/* images); Grafana not at all (no registry, no Debian package). podman-compose
# from PyPI (pinned): Debian's 1.0.3 cannot run network_mode "service:arroyo".
# The services talk over the stack's bridge network on this host; the published ports
# are bound to 127.0.0.1, on ports podman picks, instead of the file's fixed ones.
PODMAN_COMPOSE_VERSION=1.6.0
COMPOSE_VENV="$TMP/compose-venv"
PROM_IMAGE="localhost/arroyo-exporter-test-prometheus:$RUN_ID"
compose_tool() {
  if [ "$("$COMPOSE_VENV/bin/pip" freeze 2>/dev/null | grep -i '^podman-compose==')" \
       != "podman-compose==$PODMAN_COMPOSE_VERSION" ]; then
    if ! { [ -x "$COMPOSE_VENV/bin/python" ] || python3 -m venv "$COMPOSE_VENV"; } \
       || ! "$COMPOSE_VENV/bin/pip" install -q --disable-pip-version-check \
              "podman-compose==$PODMAN_COMPOSE_VERSION"; then
      echo "cannot install podman-compose $PODMAN_COMPOSE_VERSION from PyPI"
      return 1
    fi
  fi
  echo "podman-compose: $("$COMPOSE_VENV/bin/podman-compose" --version 2>/dev/null | head -1)"
}
compose_images() {
  local t0=$SECONDS
  made_images+=("localhost/arroyo-exporter-sim:dev" "localhost/arroyo-exporter:dev" "$PROM_IMAGE")
  "${PODMAN[@]}" tag "$SIM_IMAGE" localhost/arroyo-exporter-sim:dev || return 1
  "${PODMAN[@]}" tag "$EXPORTER_IMAGE" localhost/arroyo-exporter:dev || return 1
  mkdir -p "$TMP/compose"
  printf '%s\n' "FROM $BASE_IMAGE" \
    'RUN apt-get update && apt-get install -y --no-install-recommends prometheus prometheus-alertmanager && rm -rf /var/lib/apt/lists/*' \
    >"$TMP/compose/Containerfile"
  if ! "${PODMAN[@]}" build --format docker --pull=never --network host "${ULIMITS[@]}" \
       -t "$PROM_IMAGE" -f "$TMP/compose/Containerfile" "$TMP/compose" >"$TMP/build-prometheus.log" 2>&1; then
    tail -n 20 "$TMP/build-prometheus.log"
    return 1
  fi
  echo "Prometheus/Alertmanager image from Debian packages: $((SECONDS - t0)) s," \
       "$(mb "$(image_bytes "$PROM_IMAGE")") MB," \
       "$("${PODMAN[@]}" run --rm "${ULIMITS[@]}" --network none --entrypoint /usr/bin/prometheus \
          "$PROM_IMAGE" --version 2>&1 | head -1)"
}
compose_up() {
  cat >"$TMP/compose/override.yml" <<YAML
x-podman:
  in_pod: false
services:
  arroyo:
    ports: !override ["127.0.0.1::5115", "127.0.0.1::9731"]
  prometheus:
    image: $PROM_IMAGE
    entrypoint: ["/usr/bin/prometheus"]
    ports: !override ["127.0.0.1::9090"]
  alertmanager:
    image: $PROM_IMAGE
    entrypoint: ["/usr/bin/prometheus-alertmanager"]
    ports: !override ["127.0.0.1::9093"]
YAML
  COMPOSE=("$COMPOSE_VENV/bin/podman-compose" --podman-args "--runtime runc"
    --podman-run-args "--ulimit nofile=4096:4096 --ulimit nproc=4096:4096"
    -p "$RUN_ID" -f deploy/compose/compose.yml -f "$TMP/compose/override.yml")
  "${COMPOSE[@]}" up -d --no-build arroyo exporter prometheus alertmanager >"$TMP/compose-up.log" 2>&1
  local rc=$? running
  echo "podman-compose up: exit $rc (log: ${TMP#"$ROOT"/}/compose-up.log)"
  [ $rc -eq 0 ] || tail -n 20 "$TMP/compose-up.log"
  "${PODMAN[@]}" ps -a --filter "label=io.podman.compose.project=$RUN_ID" --format '{{.Names}}: {{.Status}}'
  running=$("${PODMAN[@]}" ps --filter "label=io.podman.compose.project=$RUN_ID" --format '{{.Names}}' | wc -l)
  [ $rc -eq 0 ] && [ "$running" -eq 4 ]
}
# prom_query EXPR: the first value of an instant query to the stack's Prometheus.
prom_query() {
  curl -sf --max-time 5 "http://$PROM_ADDR/api/v1/query" --data-urlencode "query=$1" \
    | python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "none")'
}
compose_scraped() {
  local prom
  prom=$("${PODMAN[@]}" ps --filter "label=io.podman.compose.project=$RUN_ID" \
    --filter label=com.docker.compose.service=prometheus --format '{{.Names}}' | head -1)
  PROM_ADDR=$("${PODMAN[@]}" port "$prom" 9090/tcp 2>/dev/null | head -1)
  [ -n "$PROM_ADDR" ] || { echo "Prometheus publishes no port"; return 1; }
  local i up="" arroyo_up="" am=""
  for i in $(seq 1 40); do
    up=$(prom_query 'up{job="arroyo-exporter"}' 2>/dev/null)
    arroyo_up=$(prom_query 'arroyo_up' 2>/dev/null)
    am=$(curl -sf --max-time 5 "http://$PROM_ADDR/api/v1/alertmanagers" 2>/dev/null \
      | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["data"]["activeAlertmanagers"]))' 2>/dev/null)
    if [ "$up" = 1 ] && [ "$arroyo_up" = 1 ] && [ "$am" = 1 ]; then break; fi
    sleep 1
  done
  echo "after ${i} s: up{job=\"arroyo-exporter\"} = ${up:-none}, arroyo_up = ${arroyo_up:-none}, active Alertmanagers: ${am:-none}"
  if [ "$up" != 1 ]; then
    curl -sf --max-time 5 "http://$PROM_ADDR/api/v1/targets" | python3 -c '
import json, sys
for t in json.load(sys.stdin)["data"]["activeTargets"]:
    print("target", t["scrapeUrl"], t["health"], t.get("lastError", ""))'
  fi
  [ "$up" = 1 ] && [ "$arroyo_up" = 1 ] && [ "$am" = 1 ]
}
log "compose stack (podman-compose, deploy/compose/compose.yml)"
if compose_tool && compose_images; then
  check "compose: arroyo (simulator), exporter, prometheus, alertmanager start with podman-compose" compose_up
  check "compose: Prometheus scrapes the exporter (up 1, arroyo_up 1) and finds Alertmanager" compose_scraped
else
  bad "compose: podman-compose or the stand-in Prometheus image cannot be made"
fi
note "compose: grafana not started: its image cannot be made here (no image registry, no Debian package); prometheus and alertmanager ran Debian's packages instead of the prom/* images compose.yml names"

# ---------------------------------------------------------------- summary

echo
echo "time: $((SECONDS - started_all)) s (release build ${release_build_s} s, image builds ${build_s} s)"
for n in "${notes[@]+"${notes[@]}"}"; do echo "note: $n"; done
for f in "${failures[@]+"${failures[@]}"}"; do echo "failed: $f"; done
echo "container-image: exporter $(mb "$exporter_bytes") MB (goal <= $SIZE_GOAL_MB MB; Debian-made base" \
     "$(mb "$base_bytes") MB, $base_share %), simulator $(mb "$sim_bytes") MB"
echo "container: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
