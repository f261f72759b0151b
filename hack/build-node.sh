#!/usr/bin/env bash
# Builds what the real single-node cluster of `make e2e-node` runs, besides
# kube-apiserver and etcd (hack/build-testbins.sh), from the Go module proxy
# into a cache directory outside the clone:
#   kubelet, kube-proxy, kube-controller-manager, kube-scheduler, kubectl
#                 k8s.io/kubernetes at K8S_VERSION, stamped like kube-apiserver;
#   coredns       github.com/coredns/coredns at COREDNS_VERSION (static);
#   kine          github.com/k3s-io/kine at KINE_VERSION, with cgo for SQLite:
#                 vcluster's default backing store, which its image carries;
#   pause         build/pause/linux/pause.c of the kubernetes module, static.
#
# Usage: K8S_VERSION=.. COREDNS_VERSION=.. KINE_VERSION=.. hack/build-node.sh DIR
# (make node-bins passes the versions hack/versions.mk pins and names DIR
# after them). Each binary is built only when missing; two builds into the
# same DIR wait for each other. About 12 minutes cold on two cores once
# kube-apiserver's build has warmed the Go build cache.
set -euo pipefail

dir=${1:?usage: K8S_VERSION=.. COREDNS_VERSION=.. KINE_VERSION=.. build-node.sh DIR}
k8s_version=${K8S_VERSION:?K8S_VERSION is not set (make node-bins passes the one in hack/versions.mk)}
coredns_version=${COREDNS_VERSION:?COREDNS_VERSION is not set}
kine_version=${KINE_VERSION:?KINE_VERSION is not set}

k8s_cmds=(kubelet kube-proxy kube-controller-manager kube-scheduler kubectl)
all=("${k8s_cmds[@]}" coredns kine pause)
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

# One throwaway module for the Kubernetes commands, made as
# hack/build-testbins.sh makes kube-apiserver's (the same flags, so the Go
# build cache that build left is reused).
mkdir -p "$work/k8s"
cd "$work/k8s"
cat > go.mod <<MOD
module nodebins/k8s

go 1.26

require k8s.io/kubernetes $k8s_version
MOD
{
  echo '//go:build tools'
  echo
  echo 'package tools'
  echo
  for c in "${k8s_cmds[@]}"; do echo "import _ \"k8s.io/kubernetes/cmd/$c\""; done
} > tools.go
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
for c in "${k8s_cmds[@]}"; do
  [[ -x "$dir/$c" ]] && continue
  echo "building $c $k8s_version" >&2
  go build -trimpath -ldflags "$ldflags" -o "$dir/$c.tmp" "k8s.io/kubernetes/cmd/$c"
  mv "$dir/$c.tmp" "$dir/$c"
done

# The pause container: the C program Kubernetes' own pause image holds.
if [[ ! -x "$dir/pause" ]]; then
  src=$(go list -m -f '{{.Dir}}' k8s.io/kubernetes)/build/pause/linux/pause.c
  gcc -Os -static -DVERSION="$k8s_version" -o "$dir/pause.tmp" "$src"
  mv "$dir/pause.tmp" "$dir/pause"
fi

if [[ ! -x "$dir/coredns" ]]; then
  echo "building coredns $coredns_version" >&2
  mkdir -p "$work/coredns"
  cd "$work/coredns"
  printf 'module nodebins/coredns\n\ngo 1.26\n' > go.mod
  go get "github.com/coredns/coredns@$coredns_version" >/dev/null
  CGO_ENABLED=0 go build -trimpath -o "$dir/coredns.tmp" github.com/coredns/coredns
  mv "$dir/coredns.tmp" "$dir/coredns"
fi

if [[ ! -x "$dir/kine" ]]; then
  echo "building kine $kine_version" >&2
  mkdir -p "$work/kine"
  cd "$work/kine"
  printf 'module nodebins/kine\n\ngo 1.26\n' > go.mod
  go get "github.com/k3s-io/kine@$kine_version" >/dev/null
  CGO_ENABLED=1 go build -trimpath -o "$dir/kine.tmp" github.com/k3s-io/kine
  mv "$dir/kine.tmp" "$dir/kine"
fi
