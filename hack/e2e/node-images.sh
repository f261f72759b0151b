#!/usr/bin/env bash
# Builds every image the real node of `make e2e-node` runs, offline: no
# registry, no Docker engine, no base image pulled. Each image is a
# docker-archive tarball written by test/nodeimage (go-containerregistry)
# from binaries built here and, where an image needs a distribution, a
# Debian root made by debootstrap from Debian's packages.
#
# Usage: hack/e2e/node-images.sh OUT, with the environment hack/make/node.mk
# sets: NODEIMAGE REGISTRAR_STATIC REGISTRAR_IMG NODE_BINS TESTBINS VCLUSTER_BIN
# VCLUSTER_VERSION VCLUSTER_CHART HELM ARGOCD_BIN ARGOCD_SRC ARGOCD_MANIFEST
# DEBIAN_ROOT. Writes OUT/<image>.tar and OUT/images.txt, every reference
# tagged, one per line.
set -euo pipefail

out=${1:?usage: node-images.sh OUT}
: "${NODEIMAGE:?}" "${REGISTRAR_STATIC:?}" "${REGISTRAR_IMG:?}" "${NODE_BINS:?}" "${TESTBINS:?}"
: "${VCLUSTER_BIN:?}" "${VCLUSTER_VERSION:?}" "${VCLUSTER_CHART:?}" "${HELM:?}"
: "${ARGOCD_BIN:?}" "${ARGOCD_SRC:?}" "${ARGOCD_MANIFEST:?}" "${DEBIAN_ROOT:?}"
mkdir -p "$out"
: > "$out/images.txt"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# image NAME TAG... -- NODEIMAGE-FLAGS...
image() {
  local name=$1 tags=() flags=()
  shift
  while [[ $1 != -- ]]; do tags+=(-tag "$1"); echo "$1" >> "$out/images.txt"; shift; done
  shift
  "$NODEIMAGE" -o "$out/$name.tar" "${tags[@]}" "$@"
}

# The pause container, under the name containerd's sandbox_image names
# (hack/e2e/node.sh), so that containerd never tries to pull it.
image pause registry.k8s.io/pause:3.10 -- -file "$NODE_BINS/pause:/pause:0755" -entrypoint '["/pause"]' -user 65535:65535

# CoreDNS: the cluster's DNS (hack/e2e/node/coredns.yaml), and the image
# vcluster's chart deploys inside each vcluster (its values name
# coredns/coredns:1.12.1, synced to the host as a pod).
image coredns registry.k8s.io/coredns/coredns:e2e-node docker.io/coredns/coredns:1.12.1 -- \
  -file "$NODE_BINS/coredns:/coredns:0755" -entrypoint '["/coredns"]'

# The registrar, by the recipe the release's Dockerfiles follow.
image registrar "$REGISTRAR_IMG" -- -registrar "$REGISTRAR_STATIC" -version e2e-node

# Argo CD, laid out as its Dockerfile (argo-cd module, argocd-base and the
# final stage): the Debian root with git, tini, gpg, user argocd (999),
# /usr/local/bin/argocd and one symlink per component, the hack/ wrappers,
# /app/config, tini as entrypoint. Tagged with every image reference of the
# install manifest.
cp "$DEBIAN_ROOT/etc/passwd" "$work/passwd"
cp "$DEBIAN_ROOT/etc/group" "$work/group"
echo "argocd:x:999:999::/home/argocd:/bin/sh" >> "$work/passwd"
echo "argocd:x:999:" >> "$work/group"
argocd_links=()
for c in server repo-server cmp-server application-controller dex notifications applicationset-controller k8s-auth commit-server; do
  argocd_links+=(-symlink "/usr/local/bin/argocd-$c:/usr/local/bin/argocd")
done
argocd_img=$(grep -oE 'image: \S*argoproj/argocd:\S+' "$ARGOCD_MANIFEST" | sort -u | awk '{print $2}')
image argocd $argocd_img -- -rootfs "$DEBIAN_ROOT" \
  -file "$work/passwd:/etc/passwd:0644" -file "$work/group:/etc/group:0644" \
  -file "$ARGOCD_BIN:/usr/local/bin/argocd:0755" "${argocd_links[@]}" \
  -file "$ARGOCD_SRC/hack/gpg-wrapper.sh:/usr/local/bin/gpg-wrapper.sh:0755" \
  -file "$ARGOCD_SRC/hack/git-verify-wrapper.sh:/usr/local/bin/git-verify-wrapper.sh:0755" \
  -file "$ARGOCD_SRC/entrypoint.sh:/usr/local/bin/entrypoint.sh:0755" \
  -symlink /usr/local/bin/uid_entrypoint.sh:/usr/local/bin/entrypoint.sh \
  -dir /home/argocd:01777 -dir /app/config/ssh -dir /app/config/tls -dir /app/config/gpg/source -dir /app/config/gpg/keys:0777 \
  -user 999 -workdir /home/argocd -env USER=argocd -env GRPC_ENABLE_TXT_SERVICE_CONFIG=false \
  -entrypoint '["/usr/bin/tini", "--"]'

# Redis from Debian's package, under the manifest's Redis reference; the
# manifest passes redis-server's arguments only.
redis_img=$(grep -oE 'image: \S*redis:\S+' "$ARGOCD_MANIFEST" | sort -u | awk '{print $2}')
image redis $redis_img -- -rootfs "$DEBIAN_ROOT" -entrypoint '["redis-server"]' -user 999 \
  -file "$work/passwd:/etc/passwd:0644" -file "$work/group:/etc/group:0644" -dir /data:0777 -workdir /data

# vcluster, laid out as its Dockerfile's final stage: /vcluster, kine and
# helm in /usr/local/bin, `/vcluster start`; the Debian root gives the libc
# that kine (cgo, SQLite) and the Kubernetes binaries need.
# The control plane's binaries, as the chart's init container copies them
# (`cp -r /kubernetes/. /binaries/`) from ghcr.io/loft-sh/kubernetes.
vcluster_images=$("$HELM" template probe "$VCLUSTER_CHART" --namespace probe -f "$(dirname "$0")/node/vcluster-values.yaml" \
  | grep -oE 'image: "?[^" ]+' | awk '{print $2}' | tr -d '"' | sort -u)
syncer_img=$(grep -E '/vcluster(-pro|-oss)?:' <<<"$vcluster_images")
k8s_img=$(grep -E '/kubernetes:' <<<"$vcluster_images")
[[ -n "$syncer_img" && -n "$k8s_img" ]] || { echo "vcluster's chart renders images $vcluster_images: no syncer or kubernetes image among them" >&2; exit 1; }
image vcluster $syncer_img -- -rootfs "$DEBIAN_ROOT" \
  -file "$VCLUSTER_BIN:/vcluster:0755" -file "$NODE_BINS/kine:/usr/local/bin/kine:0755" \
  -file "$HELM:/usr/local/bin/helm:0755" \
  -dir /data -dir /binaries -dir /var/lib/vcluster -dir /pki -dir /root -dir /tmp:01777 \
  -workdir / -entrypoint '["/vcluster", "start"]'
image kubernetes $k8s_img -- -rootfs "$DEBIAN_ROOT" \
  -file "$TESTBINS/kube-apiserver:/kubernetes/kube-apiserver:0755" \
  -file "$NODE_BINS/kube-controller-manager:/kubernetes/kube-controller-manager:0755" \
  -file "$NODE_BINS/kube-scheduler:/kubernetes/kube-scheduler:0755"

# Anything vcluster's chart renders that was not built above fails here, not
# as an ErrImagePull minutes later.
for img in $vcluster_images; do
  grep -qxF "$img" "$out/images.txt" || { echo "vcluster's chart runs image $img, which is not built here" >&2; exit 1; }
done
