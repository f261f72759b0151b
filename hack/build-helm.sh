#!/usr/bin/env bash
# Builds helm from the Go module proxy into a cache directory outside the
# clone (helm's release tarballs need the internet; this needs only the proxy).
#
# Usage: HELM_VERSION=v3.X.Y hack/build-helm.sh DIR
# (make helm passes the version pinned in hack/versions.mk, and names DIR after
# it). Leaves DIR/helm; does nothing when it exists.
set -euo pipefail

dir=${1:?usage: HELM_VERSION=v3.X.Y build-helm.sh DIR}
version=${HELM_VERSION:?HELM_VERSION is not set (make helm passes the one in hack/versions.mk)}

if [[ -x "$dir/helm" ]]; then
  exit 0
fi
mkdir -p "$dir"
# Concurrent make runs (two clones, a test beside a build) build it once:
# the later waits for the first and finds it done.
exec 9>"$dir.lock"
flock 9
[[ -x "$dir/helm" ]] && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "building helm $version (a few minutes on a cold cache)" >&2
cd "$work"
cat > go.mod <<MOD
module testbins/helm

go 1.26

require helm.sh/helm/v3 $version
MOD
cat > tools.go <<'SRC'
//go:build tools

package tools

import _ "helm.sh/helm/v3/cmd/helm"
SRC
go mod tidy >/dev/null
# The ldflags of helm's own Makefile: its version, and the Kubernetes version
# `helm template` and `helm lint` assume (that of its client-go, 1.<minor>);
# without them it assumes v1.20 and refuses charts needing a newer one.
client_go=$(go list -m -f '{{.Version}}' k8s.io/client-go)
minor=$(cut -d. -f2 <<<"$client_go")
ldflags="-X helm.sh/helm/v3/internal/version.version=$version"
for pkg in pkg/lint/rules pkg/chartutil; do
  ldflags+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$minor"
done
go build -trimpath -ldflags "$ldflags" -o "$dir/helm.tmp" helm.sh/helm/v3/cmd/helm
mv "$dir/helm.tmp" "$dir/helm"
