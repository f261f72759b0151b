#!/usr/bin/env bash
# Builds a kind node image for `make e2e` offline: what kind's own
# images/base Dockerfile and `kind build node-image` make, from Debian's
# packages (a debootstrap root with systemd, containerd, runc and the CNI
# plugins), kind's own files from its Go module, and the Kubernetes binaries
# and control-plane images built here from the Go module proxy. Nothing is
# pulled: `kind build node-image` itself cannot run offline (it fetches every
# image it does not find as a tarball).
#
# Usage: hack/e2e/kind-node-image.sh DIR, with the environment
# hack/make/kind.mk sets: NODEIMAGE KIND_SRC KIND_ROOT NODE_BINS TESTBINS
# KIND_NODE_BINS K8S_VERSION KIND_NODE_IMG LOCK. Writes DIR/node.tar (a
# docker-archive tagged KIND_NODE_IMG); does nothing when it exists; two
# builds into the same DIR wait for each other.
#
# Differences from kind's own image, each for this machine or the proxy:
#  - containerd, runc and the CNI plugins are Debian bookworm's (1.6.20,
#    1.1.5, 1.1.1), and the root is bookworm's (systemd 252, which still
#    boots on cgroup v1; kind v0.33.0's trixie has systemd 257);
#  - containerd's restrict_oom_score_adj is true and the kubelet runs with
#    --fail-cgroupv1=false: the machine lacks CAP_SYS_RESOURCE and has
#    cgroup v1 (../shared notes, "A real Kubernetes node, offline");
#  - no kindnetd (the proxy serves no version of it): a static CNI config
#    for the one node's pod range, and kind's kindnet RBAC without its
#    DaemonSet, so kind's `kubectl create` of the default CNI still succeeds;
#  - local-path-provisioner v0.0.30 under the tag of kind's v0.0.34;
#  - Debian's global sysctl.d files are masked: the node's systemd-sysctl
#    would otherwise set kernel.pid_max and fs.protected_* on the machine.
set -euo pipefail

dir=${1:?usage: kind-node-image.sh DIR}
: "${NODEIMAGE:?}" "${KIND_SRC:?}" "${KIND_ROOT:?}" "${NODE_BINS:?}" "${TESTBINS:?}" "${KIND_NODE_BINS:?}"
: "${K8S_VERSION:?}" "${KIND_NODE_IMG:?}" "${LOCK:?}"

[[ -s "$dir/node.tar" ]] && exit 0
mkdir -p "$(dirname "$dir")"
exec 9> "$dir.lock"
flock 9
[[ -s "$dir/node.tar" ]] && exit 0
rm -rf "$dir.tmp"
mkdir -p "$dir.tmp"
w=$dir.tmp
log() { printf '%s kind-node-image: %s\n' "$(date +%T)" "$*" >&2; }
kfiles=$KIND_SRC/images/base/files

# --- the root: kind's base image, from bookworm --------------------------------

log "root from $KIND_ROOT"
root=$w/root
cp -a "$KIND_ROOT" "$root"
# What kind's Dockerfile removes: units a container must not run.
find "$root/lib/systemd/system/sysinit.target.wants/" -name systemd-tmpfiles-setup.service -delete
rm -f "$root"/lib/systemd/system/multi-user.target.wants/* "$root"/etc/systemd/system/*.wants/* \
  "$root"/lib/systemd/system/local-fs.target.wants/* "$root"/lib/systemd/system/sockets.target.wants/*udev* \
  "$root"/lib/systemd/system/sockets.target.wants/*initctl* "$root"/lib/systemd/system/basic.target.wants/*
echo "ReadKMsg=no" >> "$root/etc/systemd/journald.conf"
ln -sfn /usr/lib/systemd/systemd "$root/sbin/init"
# kind's files, with kind's modes (Dockerfile: scripts 0755, the rest 0644).
install -m 0755 "$kfiles"/usr/local/bin/* "$root/usr/local/bin/"
install -d -m 0755 "$root/kind" "$root/kind/bin" "$root/LICENSES"
install -m 0644 "$kfiles/kind/README.txt" "$root/kind/"
install -m 0755 "$kfiles"/kind/bin/* "$root/kind/bin/"
install -m 0644 "$kfiles"/LICENSES/* "$root/LICENSES/"
install -m 0644 "$kfiles/etc/crictl.yaml" "$root/etc/"
install -m 0644 "$kfiles"/etc/sysctl.d/* "$root/etc/sysctl.d/"
install -m 0644 "$kfiles"/etc/systemd/system/*.service "$kfiles"/etc/systemd/system/*.slice "$root/etc/systemd/system/"
install -d -m 0755 "$root/etc/systemd/system/kubelet.service.d" "$root/etc/containerd" "$root/etc/kubernetes/manifests"
install -m 0644 "$kfiles"/etc/systemd/system/kubelet.service.d/* "$root/etc/systemd/system/kubelet.service.d/"
# This machine lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj.
sed 's/^\(\s*restrict_oom_score_adj\s*=\s*\)false/\1true/' "$kfiles/etc/containerd/config.toml" > "$root/etc/containerd/config.toml"
grep -q 'restrict_oom_score_adj = true' "$root/etc/containerd/config.toml" || { echo "kind's containerd config changed: restrict_oom_score_adj not found" >&2; exit 1; }
# And cgroup v1: the kubelet's flag overrides kubeadm's config file.
echo "$(cat "$kfiles/etc/default/kubelet") --fail-cgroupv1=false" > "$root/etc/default/kubelet"
chmod 0644 "$root/etc/default/kubelet"
# kind's units run containerd from /usr/local/bin and the CNI plugins from
# /opt/cni/bin; Debian installs them elsewhere.
ln -sfn /usr/bin/containerd "$root/usr/local/bin/containerd"
install -d -m 0755 "$root/opt/cni/bin"
for p in host-local loopback ptp portmap bridge; do ln -sfn "/usr/lib/cni/$p" "$root/opt/cni/bin/$p"; done
# containerd's base OCI spec with kind's hook, as kind's Dockerfile makes it.
ctr oci spec | jq '.hooks.createContainer[.hooks.createContainer | length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' |
  jq 'del(.process.rlimits)' > "$root/etc/containerd/cri-base.json"
systemctl --root="$root" enable kubelet.service containerd.service undo-mount-hacks.service > /dev/null 2>&1
systemctl --root="$root" mask systemd-binfmt.service > /dev/null 2>&1
# Global kernel settings a node must not change on the machine.
for f in 50-pid-max.conf 99-protect-links.conf; do
  [[ -e "$root/usr/lib/sysctl.d/$f" ]] && ln -sfn /dev/null "$root/etc/sysctl.d/$f"
done
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*

# --- the images kind preloads ------------------------------------------------

images=$w/images
mkdir -p "$images"
: > "$w/refs.txt"
image() { # NAME REF -- NODEIMAGE-FLAGS...
  local name=$1 ref=$2
  shift 3
  echo "$ref" >> "$w/refs.txt"
  "$NODEIMAGE" -o "$images/$name.tar" -tag "$ref" "$@"
}
kubeadm_images=$("$KIND_NODE_BINS/kubeadm" config images list --kubernetes-version "$K8S_VERSION" 2> /dev/null)
ref_of() { grep -E "/$1:" <<< "$kubeadm_images"; }
sandbox_image=$(sed -n 's/^\s*sandbox_image\s*=\s*"\(.*\)"/\1/p' "$root/etc/containerd/config.toml")
kind_const() { sed -n "s/^const $1 = \"\(.*\)\"/\1/p" "$KIND_SRC"/pkg/build/nodeimage/const_*.go; }
provisioner_image=$(kind_const storageProvisionerImage)
helper_image=$(kind_const storageHelperImage)
log "images: $(tr '\n' ' ' <<< "$kubeadm_images")$provisioner_image $helper_image"

# The Kubernetes binaries and etcd are linked against bookworm's libc: a
# layer of the loader and libc under them; kube-proxy also runs iptables,
# so the node's root is its base layer (stored once by containerd).
mkdir -p "$w/libc/lib64" "$w/libc/lib/x86_64-linux-gnu"
cp -L "$root/lib64/ld-linux-x86-64.so.2" "$w/libc/lib64/"
cp -L "$root/lib/x86_64-linux-gnu/libc.so.6" "$w/libc/lib/x86_64-linux-gnu/"
for c in kube-controller-manager kube-scheduler; do
  image "$c" "$(ref_of "$c")" -- -rootfs "$w/libc" -file "$NODE_BINS/$c:/usr/local/bin/$c:0755"
done
image kube-apiserver "$(ref_of kube-apiserver)" -- -rootfs "$w/libc" -file "$TESTBINS/kube-apiserver:/usr/local/bin/kube-apiserver:0755"
image etcd "$(ref_of etcd)" -- -rootfs "$w/libc" -file "$TESTBINS/etcd:/usr/local/bin/etcd:0755"
image kube-proxy "$(ref_of kube-proxy)" -- -rootfs "$root" -file "$NODE_BINS/kube-proxy:/usr/local/bin/kube-proxy:0755"
image coredns "$(ref_of coredns)" -- -file "$NODE_BINS/coredns:/coredns:0755" -entrypoint '["/coredns"]'
image pause "$sandbox_image" -- -file "$NODE_BINS/pause:/pause:0755" -entrypoint '["/pause"]' -user 65535:65535
image local-path-provisioner "$provisioner_image" -- \
  -file "$KIND_NODE_BINS/local-path-provisioner:/usr/local/bin/local-path-provisioner:0755"
image local-path-helper "$helper_image" -- -rootfs "$root"
# Every image kubeadm runs must be here: a missing one is pulled, fails
# offline, and kubeadm's wait for the control plane times out minutes later.
for ref in $kubeadm_images; do
  [[ $ref == */pause:* ]] && continue
  grep -qxF "$ref" "$w/refs.txt" || { echo "kubeadm $K8S_VERSION runs $ref, which is not built here" >&2; exit 1; }
done

# kind imports its images into the node's containerd and commits the node
# (`kind build node-image`); here a containerd of the node's version (the
# machine's, Debian's 1.6.20) imports them into a folder that becomes the
# image's /var/lib/containerd, with kind's flags (pinned, not unpacked: the
# CRI plugin unpacks an image on first use). That containerd runs no
# container; it still holds the suites' lock, since the real-node suite
# compares /run/containerd and /opt/containerd before and after.
staging=$w/staging
mkdir -p "$staging/var/lib/containerd" "$w/ctrd"
cat > "$w/ctrd/config.toml" << EOF
version = 2
root = "$staging/var/lib/containerd"
state = "$w/ctrd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$w/ctrd/sock"
[ttrpc]
  address = "$w/ctrd/sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$w/ctrd/opt"
EOF
import_images() {
  unshare -m --propagation private containerd --config "$w/ctrd/config.toml" > "$w/ctrd/log" 2>&1 &
  local pid=$! t
  for _ in $(seq 1 30); do ctr --address "$w/ctrd/sock" version > /dev/null 2>&1 && break; sleep 1; done
  for t in "$images"/*.tar; do
    ctr --address "$w/ctrd/sock" -n k8s.io images import --label=io.cri-containerd.pinned=pinned \
      --all-platforms --no-unpack --digests "$t" > /dev/null
  done
  kill "$pid"
  wait "$pid" || true
}
log "importing $(wc -l < "$w/refs.txt") images (waiting for $LOCK)"
flock -w 1800 "$LOCK" bash -c "$(declare -f import_images); w='$w' images='$images' import_images"
rm -rf "$staging/var/lib/containerd/tmpmounts"

# --- the node image ----------------------------------------------------------

top=$w/top
mkdir -p "$top/usr/bin" "$top/usr/local/bin" "$top/kind/manifests" "$top/etc/cni/net.d"
cp "$NODE_BINS/kubelet" "$NODE_BINS/kubectl" "$KIND_NODE_BINS/kubeadm" "$top/usr/bin/"
cp "$KIND_NODE_BINS/crictl" "$top/usr/local/bin/"
echo "$K8S_VERSION" > "$top/kind/version"
# kind's default storage, verbatim (its Go constant), images by their tags.
awk '/^const defaultStorageManifest = `/ {on=1; next} on && /^`/ {exit} on' "$KIND_SRC/pkg/build/nodeimage/const_storage.go" |
  sed "s|\` + storageProvisionerImage + \`|$provisioner_image|; s|\` + storageHelperImage + \`|$helper_image|" > "$top/kind/manifests/default-storage.yaml"
# kind's default CNI without kindnetd's DaemonSet and without the markers
# that ask kind to template or patch it: its RBAC only.
awk '/^const defaultCNIManifest = `/ {on=1; next} on && /^kind: DaemonSet/ {exit} on' "$KIND_SRC/pkg/build/nodeimage/const_cni.go" |
  grep -v 'would you kindly' | sed '$d' > "$top/kind/manifests/default-cni.yaml"
grep -q 'kind: ServiceAccount' "$top/kind/manifests/default-cni.yaml" || { echo "kind's CNI manifest changed" >&2; exit 1; }
# What kindnetd writes on a node (kind main, images/kindnetd/cmd/kindnetd/cni.go):
# ptp and host-local over the node's pod range, which kubeadm gives the first
# node out of kind's default podSubnet 10.244.0.0/16; ipMasq stands in for
# kindnetd's masquerade agent.
cat > "$top/etc/cni/net.d/10-kindnet.conflist" << 'EOF'
{
  "cniVersion": "0.4.0",
  "name": "kindnet",
  "plugins": [
    {
      "type": "ptp",
      "ipMasq": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "/run/cni-ipam-state",
        "routes": [{"dst": "0.0.0.0/0"}],
        "ranges": [[{"subnet": "10.244.0.0/24"}]]
      },
      "mtu": 1500
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
chmod -R go-w "$top"

log "writing $KIND_NODE_IMG"
"$NODEIMAGE" -o "$w/node.tar" -tag "$KIND_NODE_IMG" -rootfs "$root" -rootfs "$staging" -rootfs "$top" \
  -env container=docker -stop-signal SIGRTMIN+3 \
  -entrypoint '["/usr/local/bin/entrypoint", "/sbin/init"]'
mv "$w/refs.txt" "$w/images.txt"
rm -rf "$root" "$images" "$staging" "$top" "$w/ctrd" "$w/libc"
rm -rf "$dir"
mv "$w" "$dir"
log "done: $dir/node.tar"
