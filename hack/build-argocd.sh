#!/usr/bin/env bash
# Builds Argo CD's single `argocd` binary from the Go module proxy into a cache
# directory outside the clone, for the offline e2e twin (make e2e-local). The
# binary picks its component from the name it is started under, so DIR also
# gets the symlinks argocd-application-controller and argocd-repo-server.
#
# The build happens in a throwaway module so that Argo CD's choice of
# dependency versions never leaks into the registrar's go.mod. Two replaces
# are needed (docs: /work/shared/NOTES.md, "Argo CD's Go code from the module
# proxy"): the gitops-engine pseudo-version Argo CD's go.mod names is refused
# by the proxy, and k8s.io/kubelet is left at v0.0.0 otherwise.
#
# Usage: hack/build-argocd.sh DIR
# Leaves DIR/argocd (+ symlinks); does nothing when it exists. About 15 minutes
# cold on two cores.
set -euo pipefail

dir=${1:?usage: build-argocd.sh DIR}
version=${ARGOCD_VERSION:-v3.5.7}
gitops_engine=${ARGOCD_GITOPS_ENGINE:-v0.0.0-20260914071520-c9c369efcc5b}
kubelet=${ARGOCD_KUBELET:-v0.36.1}

link() {
  ln -sfn argocd "$dir/argocd-application-controller"
  ln -sfn argocd "$dir/argocd-repo-server"
}

if [[ -x "$dir/argocd" ]]; then
  link
  exit 0
fi
mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "building argocd $version (about 15 minutes on a cold cache)" >&2
cd "$work"
cat > go.mod <<MOD
module e2e/argocd

go 1.26

require github.com/argoproj/argo-cd/v3 $version

replace (
	github.com/argoproj/argo-cd/gitops-engine => github.com/argoproj/argo-cd/gitops-engine $gitops_engine
	k8s.io/kubelet => k8s.io/kubelet $kubelet
)
MOD
cat > tools.go <<'SRC'
//go:build tools

package tools

import _ "github.com/argoproj/argo-cd/v3/cmd"
SRC
go mod tidy >/dev/null
go build -trimpath -o "$dir/argocd.tmp" github.com/argoproj/argo-cd/v3/cmd
mv "$dir/argocd.tmp" "$dir/argocd"
link
