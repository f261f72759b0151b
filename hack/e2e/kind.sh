#!/usr/bin/env bash
# Brings up (or deletes) the kind cluster of `make e2e`: Argo CD and vcluster
# from their official Helm charts at pinned versions, the registrar image
# built by `make docker-build` and loaded into kind, charts/registrar, and
# two vclusters, sandbox and staging. The Go suite (test/e2e, build tag e2e)
# then checks the story against it.
#
# Usage: hack/e2e/kind.sh up|down, with the environment hack/make/e2e.mk sets:
# KIND HELM KIND_CLUSTER KUBECONFIG IMG ARGOCD_VERSION ARGOCD_CHART_VERSION
# VCLUSTER_CHART_VERSION. Needs Docker and the internet.
set -euo pipefail
cd "$(dirname "$0")/../.."
export KUBECONFIG

up() {
  : "${IMG:?}" "${ARGOCD_VERSION:?}" "${ARGOCD_CHART_VERSION:?}" "${VCLUSTER_CHART_VERSION:?}" "${HELM:?}"
  mkdir -p "$(dirname "$KUBECONFIG")"
  if "$KIND" get clusters | grep -qx "$KIND_CLUSTER"; then
    "$KIND" export kubeconfig --name "$KIND_CLUSTER" --kubeconfig "$KUBECONFIG"
  else
    "$KIND" create cluster --name "$KIND_CLUSTER" --config kind-config.yaml --kubeconfig "$KUBECONFIG" --wait 180s
  fi

  # Argo CD at the version the offline twin builds, whatever the chart's
  # appVersion. Dex and notifications play no part in the story.
  "$HELM" upgrade --install argocd argo-cd --repo https://argoproj.github.io/argo-helm \
    --version "$ARGOCD_CHART_VERSION" --namespace argocd --create-namespace \
    --set global.image.tag="$ARGOCD_VERSION" \
    --set dex.enabled=false --set notifications.enabled=false \
    --wait --timeout 10m

  # The registrar, from this clone's image and chart.
  "$KIND" load docker-image "$IMG" --name "$KIND_CLUSTER"
  "$HELM" upgrade --install registrar charts/registrar --namespace argocd \
    --set image.repository="${IMG%:*}" --set image.tag="${IMG##*:}" --set image.pullPolicy=IfNotPresent \
    --wait --timeout 5m

  # Two vclusters, each in a namespace of its own, as a user creates them.
  for name in sandbox staging; do
    "$HELM" upgrade --install "$name" vcluster --repo https://charts.loft.sh \
      --version "$VCLUSTER_CHART_VERSION" --namespace "vcluster-$name" --create-namespace \
      --wait --timeout 10m
  done
}

down() {
  "$KIND" delete cluster --name "$KIND_CLUSTER" --kubeconfig "$KUBECONFIG"
  rm -f "$KUBECONFIG"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
