#!/usr/bin/env bash
# Builds the kube-apiserver and etcd binaries that envtest runs, from the Go
# module proxy, into a cache directory outside the clone so that every clone
# and every CI run on this machine reuses them. envtest's own download of
# prebuilt binaries needs the internet; this needs only the module proxy.
#
# Usage: K8S_VERSION=v1.X.Y ETCD_VERSION=v3.X.Y hack/build-testbins.sh DIR
# (make testbins passes the versions pinned in hack/versions.mk, and names DIR
# after them). Leaves DIR/kube-apiserver and DIR/etcd; does nothing when both
# exist and kube-apiserver reports K8S_VERSION.
#
# kube-apiserver is stamped with its version as Kubernetes' own build does
# (hack/lib/version.sh, kube::version::ldflags: -X on
# k8s.io/component-base/version and k8s.io/client-go/pkg/version). Unstamped
# it reports v0.0.0-master+$Format:%H$ at /version, which vcluster v0.34
# refuses to parse as its host's version; an unstamped binary left in DIR by
# an earlier build is relinked (seconds with a warm build cache).
set -euo pipefail

dir=${1:?usage: K8S_VERSION=v1.X.Y ETCD_VERSION=v3.X.Y build-testbins.sh DIR}
k8s_version=${K8S_VERSION:?K8S_VERSION is not set (make testbins passes the one in hack/versions.mk)}
etcd_version=${ETCD_VERSION:?ETCD_VERSION is not set (make testbins passes the one in hack/versions.mk)}

stamped() { [[ "$("$dir/kube-apiserver" --version 2>/dev/null)" == "Kubernetes $k8s_version" ]]; }
if [[ -x "$dir/kube-apiserver" && -x "$dir/etcd" ]] && stamped; then
  exit 0
fi
mkdir -p "$dir"
# Two builds into the same DIR wait for each other.
exec 9>"$dir.lock"
flock 9
if [[ -x "$dir/kube-apiserver" && -x "$dir/etcd" ]] && stamped; then
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ ! -x "$dir/kube-apiserver" ]] || ! stamped; then
  echo "building kube-apiserver $k8s_version (a few minutes on a cold cache)" >&2
  mkdir -p "$work/apiserver"
  cd "$work/apiserver"
  cat > go.mod <<MOD
module testbins/apiserver

go 1.26

require k8s.io/kubernetes $k8s_version
MOD
  cat > tools.go <<'SRC'
//go:build tools

package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
SRC
  # kubernetes' go.mod points every staging module at ./staging, which does
  # not carry over to a consuming module: pin each to the matching release.
  gomod=$(go mod download -json "k8s.io/kubernetes@$k8s_version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  staging_version="v0.${k8s_version#v1.}"
  grep -E '^\s+k8s.io/[a-z0-9-]+ => \./staging/' "$gomod" | awk '{print $1}' | while read -r m; do
    echo "replace $m => $m $staging_version" >> go.mod
  done
  go mod tidy >/dev/null
  minor=${k8s_version#v1.}
  ldflags=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=${minor%%.*} -X $pkg.gitTreeState=clean"
  done
  go build -trimpath -ldflags "$ldflags" -o "$dir/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
  mv "$dir/kube-apiserver.tmp" "$dir/kube-apiserver"
fi

if [[ ! -x "$dir/etcd" ]]; then
  echo "building etcd $etcd_version" >&2
  mkdir -p "$work/etcd"
  cd "$work/etcd"
  cat > go.mod <<MOD
module testbins/etcd

go 1.26

require go.etcd.io/etcd/server/v3 $etcd_version
MOD
  cat > main.go <<'SRC'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
SRC
  go mod tidy >/dev/null
  go build -trimpath -o "$dir/etcd.tmp" .
  mv "$dir/etcd.tmp" "$dir/etcd"
fi
