#!/usr/bin/env bash
# The kind suite of `make e2e` on a machine without the internet: dockerd
# (Debian's docker.io, unpacked by hack/build-docker.sh) started inside a
# network namespace of its own, `kind create cluster` with the project's
# kind-config.yaml and a node image built here (hack/e2e/kind-node-image.sh),
# the story's images put in with `kind load`, Argo CD, the registrar and two
# vclusters installed as on the real node (hack/e2e/node.sh), then the story.
#
# Usage (the environment hack/make/e2e.mk sets):
#   kind-offline.sh run    up, the story, down whatever happens (also on
#                          Ctrl-C), then a check that the machine is as it
#                          was; without IMAGES and E2E_TEST_BINARY it stops
#                          once the node is Ready
#   kind-offline.sh down   tear down what a killed run left
# Nothing stays up after `run`: the lock it holds is the machine's one real
# cluster, and it is given back only after teardown.
#
# The machine's own network namespace is never touched: dockerd, its
# iptables rules and bridges, the node's container and every client (kind,
# kubectl, helm, the test) live in the namespace made here, which has no link
# out. One real cluster at a time on a machine: this takes the lock of
# `make e2e-node` before it starts anything and gives it back after teardown.
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${E2E_KIND_DIR:=/var/tmp/registrar-e2e-kind}"
NS=${E2E_KIND_NETNS:-registrar-e2e-kind}
LOCK=${E2E_LOCK:-/var/tmp/registrar-e2e-node.lock}
CLUSTER=${KIND_CLUSTER:-registrar-e2e}
CGROUP=registrar-e2e-kind
D=$E2E_KIND_DIR
KUBECONFIG_KIND=$D/kubeconfig
# Sysctls a privileged node changes machine-wide: the kubelet's
# (setupKernelTunables), and those of Debian's systemd-sysctl files, which
# the node image masks (kept here in case it does not).
SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes
  kernel.pid_max fs.protected_hardlinks fs.protected_symlinks fs.protected_regular fs.protected_fifos)
# Paths dockerd, its containerd and docker's -v create whatever their flags
# say: containerd's shim sockets and opt plugin, the trust key under
# /etc/docker, kind's /lib/modules mount source (merged /usr), the CLI's
# config, libnetwork's state.
FIXED_PATHS=(/run/containerd /opt/containerd /etc/docker /usr/lib/modules /root/.docker /run/docker /var/lib/docker /etc/cni /var/lib/cni)

log() { printf '%s kind: %s\n' "$(date +%T)" "$*" >&2; }
in_ns() {
  nsenter --net="/run/netns/$NS" env DOCKER_HOST="unix://$D/docker.sock" DOCKER_CONFIG="$D/docker-config" \
    KIND_EXPERIMENTAL_PROVIDER=docker PATH="$DOCKER_DIR/usr/bin:$PATH" "$@"
}
kind() { in_ns "$KIND" "$@"; }
docker() { in_ns docker "$@"; }
kubectl() { in_ns "$KUBECTL" --kubeconfig "$KUBECONFIG_KIND" "$@"; }
helm() { in_ns "$HELM" --kubeconfig "$KUBECONFIG_KIND" "$@"; }

snapshot() {
  {
    echo "## netns"; ip netns list | sort
    echo "## links"; ip -o link show | awk -F': ' '{print $2}' | sort
    echo "## routes"; ip route show table all | sort
    echo "## iptables"; { iptables-save 2> /dev/null || true; } | { grep -vE '^#|^:' || true; } | sort
    echo "## mounts"; awk '{print $2, $3}' /proc/mounts | sort
    echo "## sysctls"; for s in "${SYSCTLS[@]}"; do echo "$s=$(sysctl -n "$s")"; done
    echo "## paths"; for p in "${FIXED_PATHS[@]}"; do if [[ -e $p ]]; then echo "$p"; fi; done
    echo "## cgroups"; ls -d /sys/fs/cgroup/*/"$CGROUP" 2> /dev/null || true
  } 2>&1
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

# --- dockerd in its own network namespace ------------------------------------

dockerd_up() {
  ip netns add "$NS"
  nsenter --net="/run/netns/$NS" ip link set lo up
  mkdir -p "$D/docker" "$D/run" "$D/docker-config"
  # An empty daemon config, so that /etc/docker/daemon.json is never read.
  echo '{}' > "$D/daemon.json"
  # A mount namespace of its own too: the containers' overlay mounts and
  # network namespace files never appear in the machine's mount table.
  # Privileged containers get every capability from Docker; capsafe-runc
  # drops those this machine's bounding set lacks (CAP_SYS_RESOURCE).
  nsenter --net="/run/netns/$NS" setsid unshare -m --propagation private \
    env PATH="$DOCKER_DIR/usr/sbin:$DOCKER_DIR/usr/bin:$PATH" \
    "$DOCKER_DIR/usr/sbin/dockerd" --config-file "$D/daemon.json" \
    --data-root "$D/docker" --exec-root "$D/run" --pidfile "$D/run/dockerd.pid" \
    -H "unix://$D/docker.sock" --storage-driver overlay2 --iptables=true \
    --add-runtime "capsafe=$PWD/hack/e2e/capsafe-runc" --default-runtime capsafe \
    --userland-proxy-path "$DOCKER_DIR/usr/sbin/docker-proxy" \
    --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent "/$CGROUP" \
    --oom-score-adjust 0 > "$D/logs/dockerd.log" 2>&1 < /dev/null &
  echo $! > "$D/dockerd.pid"
  wait_for dockerd 60 docker version
  log "dockerd $(docker version -f '{{.Server.Version}}') up in network namespace $NS"
}

cluster_up() {
  log "loading the node image $KIND_NODE_IMG"
  docker load -i "$KIND_NODE_IMAGE_TAR" > /dev/null
  # The project's kind-config.yaml names upstream's image by digest, which
  # a `docker load`ed image cannot match: --image replaces it on every node.
  kind create cluster --name "$CLUSTER" --config kind-config.yaml --image "$KIND_NODE_IMG" \
    --kubeconfig "$KUBECONFIG_KIND" --wait 240s
  kubectl wait --for=condition=Ready nodes --all --timeout=60s > /dev/null
}

# --- the story's software ----------------------------------------------------

load_images() {
  local tar
  for tar in "$IMAGES"/*.tar; do
    kind load image-archive "$tar" --name "$CLUSTER" > /dev/null
  done
  log "loaded $(wc -l < "$IMAGES/images.txt") image references"
}

install() {
  kubectl create namespace argocd > /dev/null
  sed 's/imagePullPolicy: Always/imagePullPolicy: IfNotPresent/' "$ARGOCD_MANIFEST" > "$D/argocd-install.yaml"
  kubectl apply --server-side -n argocd -f "$D/argocd-install.yaml" > /dev/null
  kubectl apply -n argocd -f hack/e2e/node/argocd-project.yaml > /dev/null
  helm install registrar charts/registrar --namespace argocd \
    --set image.repository="${REGISTRAR_IMG%:*}" --set image.tag="${REGISTRAR_IMG##*:}" \
    --wait --timeout 3m > /dev/null
  # kind's default StorageClass provisions the vclusters' volumes.
  local name
  for name in sandbox staging; do
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
  : "${KIND:?}" "${KUBECTL:?}" "${HELM:?}" "${DOCKER_DIR:?}" "${KIND_NODE_IMAGE_TAR:?}" "${KIND_NODE_IMG:?}"
  [[ $(id -u) == 0 ]] || { echo "the offline kind suite starts dockerd: run it as root" >&2; exit 2; }
  if ip netns list | grep -qw "$NS" || [[ -e $D/dockerd.pid ]]; then
    echo "a kind cluster is already up ($D, network namespace $NS): run \`$0 down\` first" >&2
    exit 2
  fi
  rm -rf "$D"
  mkdir -p "$D/logs"
  snapshot > "$D/before.txt"
  local t0=$SECONDS
  dockerd_up
  cluster_up
  log "node Ready after $((SECONDS - t0)) s"
  if [[ -n ${IMAGES:-} ]]; then
    load_images
    install
    log "Argo CD, the registrar and two vclusters up after $((SECONDS - t0)) s"
  fi
}

# --- teardown ----------------------------------------------------------------

down() {
  [[ -d $D ]] || { log "nothing to tear down"; return 0; }
  log "tearing down"
  local pid
  pid=$(cat "$D/dockerd.pid" 2> /dev/null || true)
  if [[ -n $pid ]] && kill -0 "$pid" 2> /dev/null; then
    kind delete cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG_KIND" > /dev/null 2>&1 || true
    docker ps -aq 2> /dev/null | xargs -r docker rm -f -v > /dev/null 2>&1 || true
    kill "$pid" 2> /dev/null || true
    for _ in $(seq 1 150); do kill -0 "$pid" 2> /dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2> /dev/null || true
  fi
  # Anything left in the cgroup dockerd gave its containers (the node's
  # systemd and everything under it, shims), and dockerd's containerd.
  local pids hier
  for _ in 1 2 3; do
    pids=$(find /sys/fs/cgroup/pids/"$CGROUP" -name cgroup.procs -exec cat {} + 2> /dev/null || true)
    pids+=" $(pgrep -f -- "$D/run/containerd" || true)"
    [[ -z ${pids// /} ]] && break
    for p in $pids; do kill -9 "$p" 2> /dev/null || true; done
    sleep 1
  done
  for hier in /sys/fs/cgroup/*/; do
    [[ -d $hier$CGROUP ]] && find "$hier$CGROUP" -depth -type d -exec rmdir {} \; 2> /dev/null || true
  done
  ip netns list | grep -qw "$NS" && ip netns delete "$NS"
  if [[ -e $D/before.txt ]] && ! grep -q '^/run/netns ' "$D/before.txt" &&
    mountpoint -q /run/netns && [[ -z $(ls -A /run/netns) ]]; then
    umount /run/netns || true
  fi
  if [[ -e $D/before.txt ]]; then
    local line p
    sed -n '/^## sysctls/,/^## /p' "$D/before.txt" | grep = | while read -r line; do
      sysctl -qw "$line" || true
    done
    for p in "${FIXED_PATHS[@]}"; do
      if [[ -e $p ]] && ! grep -qxF "$p" <(sed -n '/^## paths/,/^## cgroups/p' "$D/before.txt"); then rm -rf "$p"; fi
    done
  fi
  rm -f "$D/dockerd.pid"
}

check_restored() {
  local diff
  if diff=$(diff "$D/before.txt" <(snapshot)); then
    log "machine state restored: network namespaces, links, routes, iptables, mounts, sysctls, paths, cgroups"
  else
    log "the machine is not as it was before the cluster:"
    echo "$diff" >&2
    return 1
  fi
  if pgrep -f -- "$D/" > /dev/null; then
    log "processes of the cluster are still running:"
    pgrep -af -- "$D/" >&2
    return 1
  fi
}

# with_lock CMD...: one real cluster at a time on this machine.
with_lock() {
  exec 8> "$LOCK"
  if ! flock -n 8; then
    log "waiting up to ${E2E_LOCK_WAIT:-1800}s for $LOCK (another real-cluster suite is running)"
    flock -w "${E2E_LOCK_WAIT:-1800}" 8 || { log "gave up waiting for $LOCK"; exit 2; }
  fi
  "$@"
}

run() {
  local status=0
  trap 'exit 130' INT TERM
  trap 'cleanup' EXIT
  up || status=$?
  if ((status == 0)) && [[ -n ${E2E_TEST_BINARY:-} ]]; then
    (cd test/e2e && in_ns env KUBECONFIG="$KUBECONFIG_KIND" HELM="$HELM" \
      "$E2E_TEST_BINARY" -test.v -test.count=1 -test.run '^TestClusterStory$' -test.timeout 20m) || status=$?
  fi
  return $status
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n ${E2E_LOGS:-} ]]; then
    rm -rf "$E2E_LOGS"
    mkdir -p "$E2E_LOGS"
    cp -r "$D/logs/." "$E2E_LOGS/" 2> /dev/null || true
  fi
  if ((status != 0)) && [[ -n ${E2E_LOGS:-} && -e $D/dockerd.pid ]]; then
    kind export logs "$E2E_LOGS/kind" --name "$CLUSTER" > /dev/null 2>&1 || true
  fi
  down
  check_restored || status=1
  # A failed run keeps its logs and the before/after state, not dockerd's
  # gigabytes (the node image, the node's /var).
  if ((status == 0)); then rm -rf "$D"; else rm -rf "$D/docker" "$D/run"; fi
  exit $status
}

case "${1:-}" in
  run) with_lock run ;;
  down) with_lock down ;;
  *) echo "usage: $0 run|down" >&2; exit 2 ;;
esac
