#!/usr/bin/env bash
# Helm post-renderer: adds arroyo-exporter to an installation of Arroyo's Helm chart.
#
#   helm install arroyo arroyo/arroyo --post-renderer deploy/kubernetes/helm/post-renderer.sh
#
# Helm pipes the rendered chart to stdin; this prints it back with the exporter sidecar
# patched into the controller Deployment and the objects of ../base (Service,
# ServiceMonitor, PrometheusRule, dashboards ConfigMap) appended. Needs kubectl (with
# its built-in kustomize) or kustomize. The Deployment name targeted by the patch is
# set in ../sidecar/kustomization.yaml ("arroyo-controller" = release "arroyo").
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# kustomize wants directories of a kustomization below it: work on copies.
cp -R "$here/../base" "$work/base"
cp -R "$here/../sidecar" "$work/sidecar"
cat > "$work/chart.yaml"
cat > "$work/kustomization.yaml" <<'KUSTOMIZATION'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - chart.yaml
  - base
components:
  - sidecar
KUSTOMIZATION
if command -v kustomize >/dev/null 2>&1; then
  kustomize build "$work"
else
  kubectl kustomize "$work"
fi
