#!/usr/bin/env bash
# A real single-node Kubernetes cluster on this machine, offline, for
# `make e2e-node`: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, a kubelet on containerd and runc, kube-proxy (iptables),
# CNI bridge networking and CoreDNS, all inside one network namespace made
# for it. Nothing is pulled: every image is built here (node-images.sh) and
# imported into the node's containerd.
#
# Usage (the environment hack/make/node.mk sets):
#   node.sh run      up, the suite, down, whatever happens (also on Ctrl-C),
#                    then a check that the machine is as it was before
#   node.sh up       bring the node up and install the story's software
#   node.sh down     tear everything down
# E2E_NODE_KEEP=1 leaves the cluster up after `run` (then `make e2e-node-down`).
#
# The machine's own network namespace is never touched: no link, route or
# iptables rule is added there; the node's namespace has no link to the
# outside, so no packet can leave the machine. Paths the components create
# whatever their flags say are removed by `down` when they did not exist
# before `up`; kernel settings the kubelet changes are restored.
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${E2E_NODE_DIR:=/var/tmp/registrar-e2e-node}"
NS=${E2E_NODE_NETNS:-registrar-e2e-node}
NODE_IP=10.200.0.1
SERVICE_CIDR=10.96.0.0/16
KUBERNETES_SVC_IP=10.96.0.1
DNS_IP=10.96.0.10
POD_CIDR=10.244.0.0/24
NODE_NAME=e2e-node
D=$E2E_NODE_DIR
PKI=$D/pki
SOCK=$D/containerd/containerd.sock
KUBECONFIG_ADMIN=$D/admin.kubeconfig
# Sysctls the kubelet sets machine-wide (kubelet's setupKernelTunables).
KUBELET_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes)
# Paths components create whatever their flags say (../shared notes of the
# project: "A real Kubernetes node, offline").
FIXED_PATHS=(/run/containerd /var/lib/cni /var/log/containers /var/log/pods /var/lib/kubelet /usr/libexec/kubernetes /etc/cni /opt/cni /opt/containerd)

log() { printf '%s node: %s\n' "$(date +%T)" "$*" >&2; }
in_ns() { nsenter --net="/run/netns/$NS" "$@"; }
kubectl() { in_ns "$NODE_BINS/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
helm() { in_ns "$HELM" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

# start NAME CMD...: a process of the node, in its network namespace, in a
# session of its own; its PID is recorded for `down`.
start() {
  local name=$1
  shift
  # nsenter and setsid exec what they run: $! is the component's PID.
  nsenter --net="/run/netns/$NS" setsid "$@" > "$D/logs/$name.log" 2>&1 < /dev/null &
  echo "$! $name" >> "$D/pids"
}

wait_for() {
  local what=$1 timeout=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" > /dev/null 2>&1; do
    if ((SECONDS > deadline)); then
      log "timed out after ${timeout}s waiting for $what"
      return 1
    fi
    sleep 1
  done
}

# --- before and after -------------------------------------------------------

# The machine's state `down` must leave as it found it.
snapshot() {
  {
    echo "## netns"; ip netns list | sort
    echo "## links"; ip -o link show | awk -F': ' '{print $2}' | sort
    echo "## routes"; ip route show table all | sort
    echo "## iptables"; { iptables-save 2>/dev/null || true; } | { grep -vE '^#|^:' || true; } | sort
    echo "## mounts"; awk '{print $2, $3}' /proc/mounts | sort
    echo "## sysctls"; for s in "${KUBELET_SYSCTLS[@]}"; do echo "$s=$(sysctl -n "$s")"; done
    echo "## paths"; for p in "${FIXED_PATHS[@]}"; do if [[ -e $p ]]; then echo "$p"; fi; done
  } 2>&1
}

# --- certificates and kubeconfigs -------------------------------------------

cert() { # NAME SUBJECT [SANS]
  local name=$1 subj=$2 sans=${3:-}
  openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  local ext="$PKI/$name.ext"
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=serverAuth,clientAuth"
    [[ -n $sans ]] && echo "subjectAltName=$sans"
  } > "$ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 2 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
}

kubeconfig() { # FILE CERT
  cat > "$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e-node
  cluster:
    server: https://$NODE_IP:6443
    certificate-authority: $PKI/ca.crt
users:
- name: $2
  user:
    client-certificate: $PKI/$2.crt
    client-key: $PKI/$2.key
contexts:
- name: e2e-node
  context: {cluster: e2e-node, user: $2}
current-context: e2e-node
EOF
}

pki() {
  mkdir -p "$PKI"
  openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$PKI/ca.key" -subj "/CN=e2e-node-ca" \
    -days 2 -out "$PKI/ca.crt" 2>/dev/null
  cert apiserver "/CN=kube-apiserver" \
    "IP:$NODE_IP,IP:$KUBERNETES_SVC_IP,IP:127.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  # The control plane's clients other than the kubelet act as cluster
  # admins: this node tests the registrar, not Kubernetes' RBAC defaults.
  cert admin "/O=system:masters/CN=e2e-admin"
  cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" "IP:$NODE_IP,DNS:$NODE_NAME"
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  kubeconfig "$KUBECONFIG_ADMIN" admin
  kubeconfig "$D/kubelet.kubeconfig" kubelet
}

# --- the node ---------------------------------------------------------------

network() {
  ip netns add "$NS"
  in_ns ip link set lo up
  # The node's address sits on a bridge without ports: the namespace has no
  # way out. The default route into it gives Service IPs a route (kube-proxy
  # rewrites them before it matters).
  in_ns ip link add br-node type bridge
  in_ns ip addr add "$NODE_IP/24" dev br-node
  in_ns ip link set br-node up
  in_ns ip route add default dev br-node
  in_ns sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
}

containerd_up() {
  mkdir -p "$D/containerd" "$D/cni/net.d" "$D/cni/ipam"
  cat > "$D/containerd/config.toml" <<EOF
version = 2
root = "$D/containerd/root"
state = "$D/containerd/state"
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
# containerd's opt plugin makes /opt/containerd/{bin,lib} unless told
# otherwise (containerd's docs/managed-opt.md: "default: /opt/containerd").
[plugins."io.containerd.internal.v1.opt"]
  path = "$D/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  # The machine's capability bounding set lacks CAP_SYS_RESOURCE: runc
  # cannot lower oom_score_adj without this.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$D/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
EOF
  cat > "$D/cni/net.d/10-bridge.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "e2e-node", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$D/cni/ipam", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
EOF
  start containerd containerd --config "$D/containerd/config.toml"
  wait_for containerd 30 ctr --address "$SOCK" version
}

control_plane() {
  start etcd "$TESTBINS/etcd" --data-dir "$D/etcd" --listen-client-urls http://127.0.0.1:2379 \
    --advertise-client-urls http://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380
  start kube-apiserver "$TESTBINS/kube-apiserver" \
    --etcd-servers http://127.0.0.1:2379 --bind-address "$NODE_IP" --advertise-address "$NODE_IP" --secure-port 6443 \
    --service-cluster-ip-range "$SERVICE_CIDR" --allow-privileged=false \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --client-ca-file "$PKI/ca.crt" --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --kubelet-client-certificate "$PKI/admin.crt" --kubelet-client-key "$PKI/admin.key" \
    --kubelet-preferred-address-types InternalIP \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local
  wait_for kube-apiserver 90 kubectl get --raw /readyz
  start kube-controller-manager "$NODE_BINS/kube-controller-manager" --kubeconfig "$KUBECONFIG_ADMIN" \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --use-service-account-credentials --leader-elect=false --flex-volume-plugin-dir "$D/flex" \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key"
  start kube-scheduler "$NODE_BINS/kube-scheduler" --kubeconfig "$KUBECONFIG_ADMIN" --leader-elect=false
}

kubelet_up() {
  mkdir -p "$D/kubelet" "$D/pod-logs" "$D/volume-plugins"
  echo "nameserver $NODE_IP" > "$D/resolv.conf"
  cat > "$D/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine has cgroup v1 and PID 1 is not systemd.
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
containerRuntimeEndpoint: unix://$SOCK
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
clusterDNS: [$DNS_IP]
clusterDomain: cluster.local
resolvConf: $D/resolv.conf
podLogsDir: $D/pod-logs
volumePluginDir: $D/volume-plugins
serializeImagePulls: false
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF
  start kubelet "$NODE_BINS/kubelet" --config "$D/kubelet.yaml" --kubeconfig "$D/kubelet.kubeconfig" \
    --root-dir "$D/kubelet" --node-ip "$NODE_IP" --hostname-override "$NODE_NAME"
  cat > "$D/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_CIDR
clientConnection: {kubeconfig: $KUBECONFIG_ADMIN}
# Zero: leave the machine-wide conntrack settings alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
  start kube-proxy "$NODE_BINS/kube-proxy" --config "$D/kube-proxy.yaml"
  wait_for "node $NODE_NAME Ready" 120 kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=1s
}

import_images() {
  local tar
  for tar in "$IMAGES"/*.tar; do
    ctr --address "$SOCK" -n k8s.io images import "$tar" > /dev/null
  done
  log "imported $(wc -l < "$IMAGES/images.txt") image references"
}

# --- the story's software ---------------------------------------------------

install() {
  kubectl apply -f hack/e2e/node/coredns.yaml > /dev/null
  # Argo CD from its own install manifest; the one edit: a node without a
  # registry cannot pull `Always`.
  kubectl create namespace argocd > /dev/null
  sed 's/imagePullPolicy: Always/imagePullPolicy: IfNotPresent/' "$ARGOCD_MANIFEST" > "$D/argocd-install.yaml"
  kubectl apply --server-side -n argocd -f "$D/argocd-install.yaml" > /dev/null
  kubectl apply -n argocd -f hack/e2e/node/argocd-project.yaml > /dev/null

  # The registrar, at its chart's defaults: the image built here, nothing
  # else set.
  helm install registrar charts/registrar --namespace argocd \
    --set image.repository="${REGISTRAR_IMG%:*}" --set image.tag="${REGISTRAR_IMG##*:}" \
    --wait --timeout 3m > /dev/null

  # Two vclusters from vcluster's own chart, each with a hostPath volume as
  # a cluster without a StorageClass offers.
  local name
  for name in sandbox staging; do
    mkdir -p "$D/volumes/$name"
    kubectl apply -f - > /dev/null <<EOF
apiVersion: v1
kind: PersistentVolume
metadata: {name: e2e-$name}
spec:
  capacity: {storage: 5Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  claimRef: {namespace: vcluster-$name, name: data-$name-0}
  hostPath: {path: $D/volumes/$name, type: DirectoryOrCreate}
EOF
    helm install "$name" "$VCLUSTER_CHART" --namespace "vcluster-$name" --create-namespace \
      -f hack/e2e/node/vcluster-values.yaml > /dev/null
  done
  kubectl -n argocd rollout status deploy/argocd-repo-server --timeout=3m > /dev/null
  kubectl -n argocd rollout status statefulset/argocd-application-controller --timeout=3m > /dev/null
  for name in sandbox staging; do
    kubectl -n "vcluster-$name" rollout status "statefulset/$name" --timeout=5m > /dev/null
  done
}

up() {
  : "${TESTBINS:?}" "${NODE_BINS:?}" "${HELM:?}" "${IMAGES:?}" "${REGISTRAR_IMG:?}" "${ARGOCD_MANIFEST:?}" "${VCLUSTER_CHART:?}"
  [[ $(id -u) == 0 ]] || { echo "make e2e-node runs a kubelet and containerd: run it as root" >&2; exit 2; }
  if ip netns list | grep -qw "$NS" || [[ -e $D/pids ]]; then
    if pgrep -f -- "$D" > /dev/null; then
      echo "a node is already up ($D, network namespace $NS): run \`make e2e-node-down\` first" >&2
      exit 2
    fi
    # No process of it runs: a run ended without its teardown (killed, or
    # the machine restarted). What it left is undone as `down` would.
    log "a node left by a run that ended without tearing it down (no process of it runs): tearing it down first"
    down
  fi
  rm -rf "$D"
  mkdir -p "$D/logs"
  snapshot > "$D/before.txt"
  ip netns list | awk '{print $1}' > "$D/netns-before.txt"
  local t0=$SECONDS
  network
  pki
  containerd_up
  import_images
  control_plane
  kubelet_up
  log "node Ready after $((SECONDS - t0)) s"
  install
  log "Argo CD, the registrar and two vclusters up after $((SECONDS - t0)) s"
}

# --- teardown ---------------------------------------------------------------

pids_named() { [[ -e $D/pids ]] && awk -v n="$1" '$2 == n {print $1}' "$D/pids"; }

stop() { # NAME...
  local name pid
  for name in "$@"; do
    for pid in $(pids_named "$name"); do
      kill "$pid" 2> /dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.2; done
      kill -9 "$pid" 2> /dev/null || true
    done
  done
}

# Every process in the node's pod cgroups, and the shims of the node's
# containerd (they name its socket), are the node's.
kill_containers() {
  local pids
  pids=$(find /sys/fs/cgroup/pids/kubepods -name cgroup.procs -exec cat {} + 2> /dev/null || true)
  pids+=" $(pgrep -f -- "containerd-shim.* -address $SOCK" || true)"
  for pid in $pids; do kill -9 "$pid" 2> /dev/null || true; done
}

down() {
  [[ -d $D ]] || { log "nothing to tear down"; return 0; }
  log "tearing down"
  stop kubelet
  kill_containers
  stop kube-proxy kube-scheduler kube-controller-manager containerd kube-apiserver etcd
  # Mounts the kubelet and containerd made: pods' volumes, overlay roots,
  # network namespaces of pod sandboxes (containerd names them cni-*).
  local m
  awk '{print $2}' /proc/mounts | grep -E "^$D/|^/run/netns/cni-|^/run/containerd/" | sort -r | while read -r m; do
    umount -l "$m" 2> /dev/null || true
  done
  for m in /run/netns/cni-*; do
    [[ -e $m ]] || continue
    grep -qx "${m##*/}" "$D/netns-before.txt" 2> /dev/null || rm -f "$m"
  done
  # Cgroups the kubelet and containerd made in every hierarchy.
  local hier
  for hier in /sys/fs/cgroup/*/; do
    for cg in kubepods k8s.io; do
      [[ -d $hier$cg ]] && find "$hier$cg" -depth -type d -exec rmdir {} \; 2> /dev/null || true
    done
  done
  ip netns list | grep -qw "$NS" && ip netns delete "$NS"
  # ip netns add bind-mounts /run/netns on itself the first time: undo it
  # when it was not a mount point before and no namespace is left in it.
  if [[ -e $D/before.txt ]] && ! grep -q '^/run/netns ' "$D/before.txt" &&
    mountpoint -q /run/netns && [[ -z $(ls -A /run/netns) ]]; then
    umount /run/netns || true
  fi
  if [[ -e $D/before.txt ]]; then
    # Kernel settings and paths, as they were.
    local line
    sed -n '/^## sysctls/,/^## /p' "$D/before.txt" | grep = | while read -r line; do
      sysctl -qw "$line" || true
    done
    local p
    for p in "${FIXED_PATHS[@]}"; do
      if [[ -e $p ]] && ! grep -qxF "$p" <(sed -n '/^## paths/,$p' "$D/before.txt"); then rm -rf "$p"; fi
    done
  fi
  rm -f "$D/pids"
}

# The machine as `up` found it: what differs is printed and fails the run.
check_restored() {
  local diff
  if diff=$(diff <(grep -v '^## sysctls' "$D/before.txt") <(snapshot | grep -v '^## sysctls')); then
    log "machine state restored: network namespaces, links, routes, iptables, mounts, sysctls, paths"
  else
    log "the machine is not as it was before the node:"
    echo "$diff" >&2
    return 1
  fi
  if pgrep -f -- "$D" > /dev/null; then
    log "processes of the node are still running:"
    pgrep -af -- "$D" >&2
    return 1
  fi
}

run() {
  : "${E2E_TEST_BINARY:?}"
  exec 8> /var/tmp/registrar-e2e-node.lock
  flock -n 8 || { echo "another make e2e-node is running on this machine (lock /var/tmp/registrar-e2e-node.lock)" >&2; exit 2; }
  local status=0
  trap 'exit 130' INT TERM
  trap 'cleanup' EXIT
  up || status=$?
  if ((status == 0)); then
    # From its package's folder, as `go test` runs a test.
    (cd test/e2e && in_ns env KUBECONFIG="$KUBECONFIG_ADMIN" HELM="$HELM" E2E_NODE_DIR="$D" VCLUSTER_CHART="$VCLUSTER_CHART" \
      E2E_NODE_IMAGE_REPOSITORY="${REGISTRAR_IMG%:*}" E2E_NODE_IMAGE_TAG="${REGISTRAR_IMG##*:}" \
      "$E2E_TEST_BINARY" -test.v -test.count=1 -test.timeout 20m) || status=$?
  fi
  return $status
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ ${E2E_NODE_KEEP:-} == 1 ]]; then
    log "kept up (E2E_NODE_KEEP=1): KUBECONFIG=$KUBECONFIG_ADMIN, enter with nsenter --net=/run/netns/$NS; make e2e-node-down ends it"
    exit $status
  fi
  [[ -n ${E2E_LOGS:-} ]] && { rm -rf "$E2E_LOGS"; mkdir -p "$E2E_LOGS"; cp -r "$D/logs/." "$E2E_LOGS/" 2> /dev/null || true; }
  down
  check_restored || status=1
  ((status == 0)) && rm -rf "$D"
  exit $status
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  run) run ;;
  *) echo "usage: $0 run|up|down" >&2; exit 2 ;;
esac
