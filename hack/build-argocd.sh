#!/usr/bin/env bash
# Builds Argo CD's single `argocd` binary from the Go module proxy into a cache
# directory outside the clone, for the offline e2e twin (make e2e-local). The
# binary picks its component from the name it is started under, so DIR also
# gets the symlinks argocd-application-controller and argocd-repo-server.
#
# The build happens in a throwaway module so that Argo CD's choice of
# dependency versions never leaks into the registrar's go.mod. The version and
# the two replaces that make it resolvable (the gitops-engine pseudo-version
# Argo CD's go.mod names is refused by the proxy, and k8s.io/kubelet is left
# at v0.0.0 otherwise) are read from the registrar's go.mod, their one source;
# why the tests use Argo CD's code: docs/architecture.md, "Argo CD's code in
# tests only".
#
# Usage: ARGOCD_VERSION=v3.X.Y hack/build-argocd.sh DIR
# (make argocd passes the version go.mod requires, and names DIR after it; a
# version go.mod does not require is refused, since its replaces would not
# fit). Leaves DIR/argocd (+ symlinks); does nothing when it exists. About 15
# minutes cold on two cores.
set -euo pipefail

dir=${1:?usage: ARGOCD_VERSION=v3.X.Y build-argocd.sh DIR}
version=${ARGOCD_VERSION:?ARGOCD_VERSION is not set (make argocd passes the one go.mod requires)}

link() {
  ln -sfn argocd "$dir/argocd-application-controller"
  ln -sfn argocd "$dir/argocd-repo-server"
}

if [[ -x "$dir/argocd" ]]; then
  link
  exit 0
fi

# From the registrar's go.mod: the required version, and the replacement
# versions of its two replaces.
gomod() { (cd "$(dirname "$0")/.." && go list -m -f "$1" "$2"); }
required=$(gomod '{{.Version}}' github.com/argoproj/argo-cd/v3)
gitops_engine=$(gomod '{{with .Replace}}{{.Version}}{{end}}' github.com/argoproj/argo-cd/gitops-engine)
kubelet=$(gomod '{{with .Replace}}{{.Version}}{{end}}' k8s.io/kubelet)
if [[ "$version" != "$required" ]]; then
  echo "ARGOCD_VERSION=$version, but go.mod requires github.com/argoproj/argo-cd/v3 $required: bump it in go.mod (with its replaces)" >&2
  exit 1
fi
if [[ -z "$gitops_engine" || -z "$kubelet" ]]; then
  echo "go.mod lacks the replaces of github.com/argoproj/argo-cd/gitops-engine and k8s.io/kubelet that Argo CD $version needs" >&2
  exit 1
fi

mkdir -p "$dir"
# Concurrent make runs build it once: the later waits and finds it done.
exec 9>"$dir.lock"
flock 9
if [[ -x "$dir/argocd" ]]; then
  link
  exit 0
fi
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
