#!/usr/bin/env bash
# Builds what an offline kind node image needs beyond the binaries of
# `make node-bins` and `make testbins`, from the Go module proxy into a cache
# directory outside the clone:
#   kubeadm                 k8s.io/kubernetes at K8S_VERSION, stamped like the
#                           kubelet (kubeadm compares its version with the
#                           cluster's);
#   crictl                  sigs.k8s.io/cri-tools at CRICTL_VERSION (static):
#                           `kind load docker-image` asks it what the node has;
#   local-path-provisioner  github.com/rancher/local-path-provisioner at
#                           LOCAL_PATH_VERSION (static): kind's default
#                           StorageClass. kind v0.33.0 builds v0.0.34, which the
#                           proxy does not serve; v0.0.30 takes the same flags.
#
# Usage: K8S_VERSION=.. CRICTL_VERSION=.. LOCAL_PATH_VERSION=.. hack/build-kind-node.sh DIR
# Each binary is built only when missing; two builds into the same DIR wait
# for each other.
set -euo pipefail

dir=${1:?usage: K8S_VERSION=.. CRICTL_VERSION=.. LOCAL_PATH_VERSION=.. build-kind-node.sh DIR}
k8s_version=${K8S_VERSION:?K8S_VERSION is not set (make kind-node-bins passes the one in hack/versions.mk)}
crictl_version=${CRICTL_VERSION:?CRICTL_VERSION is not set}
local_path_version=${LOCAL_PATH_VERSION:?LOCAL_PATH_VERSION is not set}

all=(kubeadm crictl local-path-provisioner)
complete() {
  local b
  for b in "${all[@]}"; do [[ -x "$dir/$b" ]] || return 1; done
}
complete && exit 0
mkdir -p "$dir"
exec 9>"$dir.lock"
if ! flock -n 9; then
  echo "another build into $dir is under way; waiting for it" >&2
  flock 9
fi
complete && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# kubeadm: the throwaway module hack/build-node.sh makes for the kubelet,
# with the same flags, so that build's Go build cache is reused.
if [[ ! -x "$dir/kubeadm" ]]; then
  echo "building kubeadm $k8s_version" >&2
  mkdir -p "$work/k8s"
  cd "$work/k8s"
  printf 'module kindnode/k8s\n\ngo 1.26\n\nrequire k8s.io/kubernetes %s\n' "$k8s_version" > go.mod
  printf '//go:build tools\n\npackage tools\n\nimport _ "k8s.io/kubernetes/cmd/kubeadm"\n' > tools.go
  gomod=$(go mod download -json "k8s.io/kubernetes@$k8s_version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  staging_version="v0.${k8s_version#v1.}"
  grep -E '^\s+k8s.io/[a-z0-9-]+ => \./staging/' "$gomod" | awk '{print $1}' | while read -r m; do
    echo "replace $m => $m $staging_version" >> go.mod
  done
  go mod tidy > /dev/null
  minor=${k8s_version#v1.}
  ldflags=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=${minor%%.*} -X $pkg.gitTreeState=clean"
  done
  go build -trimpath -ldflags "$ldflags" -o "$dir/kubeadm.tmp" k8s.io/kubernetes/cmd/kubeadm
  mv "$dir/kubeadm.tmp" "$dir/kubeadm"
fi

# gomodbin NAME MODULE VERSION PACKAGE: a static binary from a throwaway module
# (go get of the package, not the module, so that its imports resolve).
gomodbin() {
  local name=$1 module=$2 version=$3 pkg=$4
  [[ -x "$dir/$name" ]] && return 0
  echo "building $name $version" >&2
  mkdir -p "$work/$name"
  cd "$work/$name"
  printf 'module kindnode/%s\n\ngo 1.26\n' "$name" > go.mod
  go get "$pkg@$version" > /dev/null
  CGO_ENABLED=0 go build -trimpath -o "$dir/$name.tmp" "$pkg"
  mv "$dir/$name.tmp" "$dir/$name"
}
gomodbin crictl sigs.k8s.io/cri-tools "$crictl_version" sigs.k8s.io/cri-tools/cmd/crictl
gomodbin local-path-provisioner github.com/rancher/local-path-provisioner "$local_path_version" github.com/rancher/local-path-provisioner
