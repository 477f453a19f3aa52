#!/usr/bin/env bash
# Helm post-renderer: adds arroyo-exporter to an installation of Arroyo's Helm chart.
#
#   helm install arroyo arroyo/arroyo --post-renderer deploy/kubernetes/helm/post-renderer.sh
#   helm install arroyo arroyo/arroyo --post-renderer deploy/kubernetes/helm/post-renderer.sh \
#     --post-renderer-args sidecar
#
# Helm pipes the rendered chart to stdin; this prints it back with the objects of ../base
# appended: by default the standalone exporter (its own Deployment, scraping the chart's
# Service); with the argument "sidecar" (Helm 3.9+: --post-renderer-args; any version:
# ARROYO_EXPORTER_MODE=sidecar in helm's environment) the ../sidecar component, which
# puts the exporter into the controller Deployment instead (read the risk in
# ../sidecar/controller-sidecar-patch.yaml). Ports and names are not set here:
# ../base/deployment.yaml and ../sidecar assume release "arroyo" (Service "arroyo",
# Deployment "arroyo-controller") and the chart's default ports. Needs kubectl (with its
# built-in kustomize) or kustomize.
set -euo pipefail
mode="${1:-${ARROYO_EXPORTER_MODE:-standalone}}"
case "$mode" in
  standalone | sidecar) ;;
  *)
    echo "post-renderer.sh: unknown mode '$mode' (standalone or sidecar)" >&2
    exit 2
    ;;
esac
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# kustomize wants the directories of a kustomization below it: work on copies.
cp -R "$here/../base" "$work/base"
cp -R "$here/../sidecar" "$work/sidecar"
cat > "$work/chart.yaml"
{
  printf '%s\n' \
    'apiVersion: kustomize.config.k8s.io/v1beta1' \
    'kind: Kustomization' \
    'resources:' \
    '  - chart.yaml' \
    '  - base'
  if [ "$mode" = sidecar ]; then
    printf '%s\n' 'components:' '  - sidecar'
  fi
} > "$work/kustomization.yaml"
if command -v kustomize >/dev/null 2>&1; then
  kustomize build "$work"
else
  kubectl kustomize "$work"
fi
