#!/usr/bin/env bash
# Builds vcluster's in-pod binary (`vcluster start`: the syncer, proxy and
# control-plane supervisor the chart's container runs) from the Go module
# proxy into a cache directory outside the clone, for the tests that run a
# real vcluster (fixture.StartRealVCluster: make e2e-local, make
# e2e-vcluster).
#
# The build happens in a throwaway module so that vcluster's choice of
# dependency versions never leaks into the registrar's go.mod. `go install
# ...@vX` does not work here (the proxy refuses the version list it asks
# for); `go get` in a throwaway module does, with no replaces. CGO is off:
# the default backing store (kine with sqlite, a separate binary) is not
# used, the tests give vcluster an external etcd. SyncerVersion is what the
# release's image would report.
#
# Usage: VCLUSTER_VERSION=vX.Y.Z hack/build-vcluster.sh DIR
# (make vcluster passes the version hack/versions.mk pins, and names DIR
# after it). Leaves DIR/vcluster; does nothing when it exists. Two builds
# into the same DIR wait for each other (flock on DIR.lock), so concurrent
# make runs build once. About 30 minutes cold on two cores, 4 with a warm
# Go build cache.
set -euo pipefail

dir=${1:?usage: VCLUSTER_VERSION=vX.Y.Z build-vcluster.sh DIR}
version=${VCLUSTER_VERSION:?VCLUSTER_VERSION is not set (make vcluster passes the one hack/versions.mk pins)}
if [[ ! "$version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  echo "VCLUSTER_VERSION=$version: want a release tag like v0.30.0" >&2
  exit 1
fi

[[ -x "$dir/vcluster" ]] && exit 0

mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
if ! flock -n 9; then
  echo "another build of vcluster $version is under way; waiting for it" >&2
  flock 9
fi
[[ -x "$dir/vcluster" ]] && exit 0

mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "building vcluster $version (about 30 minutes on a cold cache)" >&2
cd "$work"
cat > go.mod <<MOD
module e2e/vcluster

go 1.26
MOD
go get "github.com/loft-sh/vcluster/cmd/vcluster@$version" >/dev/null
CGO_ENABLED=0 go build -trimpath \
  -ldflags "-X github.com/loft-sh/vcluster/pkg/telemetry.SyncerVersion=${version#v}" \
  -o "$dir/vcluster.tmp" github.com/loft-sh/vcluster/cmd/vcluster
mv "$dir/vcluster.tmp" "$dir/vcluster"
