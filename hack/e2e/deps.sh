#!/usr/bin/env bash
# The Debian packages the offline e2e twin (make e2e-local) runs: Redis for
# Argo CD, git for its repository, unshare (util-linux) and mount for the
# controller's private /etc/hosts. And those of the real node (make
# e2e-node): containerd, runc, the CNI plugins, iptables for kube-proxy,
# iproute2 and nsenter for its network namespace, openssl for its
# certificates, debootstrap for the Debian root of its images.
#
# Usage: hack/e2e/deps.sh check|install
#   check    (make e2e-deps) lists what is missing with the command that
#            installs it, and fails; it installs nothing.
#   install  (.ci/run, root on a bare Debian machine) installs what is missing
#            with apt-get.
set -euo pipefail

# command:package, one per tool the suites start; a command given as a
# path is looked for there.
deps=(redis-server:redis-server git:git unshare:util-linux mount:mount
  containerd:containerd ctr:containerd runc:runc /usr/lib/cni/bridge:containernetworking-plugins
  iptables:iptables ip:iproute2 nsenter:util-linux openssl:openssl debootstrap:debootstrap gcc:gcc)

missing=()
for dep in "${deps[@]}"; do
  cmd=${dep%%:*}
  if [[ $cmd == /* ]]; then [[ -x $cmd ]] && continue; else command -v "$cmd" >/dev/null && continue; fi
  [[ " ${missing[*]} " == *" ${dep#*:} "* ]] || missing+=("${dep#*:}")
done

case "${1:-}" in
  check)
    if (( ${#missing[@]} )); then
      sudo=$([[ $(id -u) == 0 ]] || echo "sudo ")
      echo "make e2e-local and make e2e-node need these Debian/Ubuntu packages, not installed here: ${missing[*]}" >&2
      echo "install them with:" >&2
      echo "  ${sudo}apt-get update && ${sudo}apt-get install --no-install-recommends ${missing[*]}" >&2
      exit 1
    fi
    ;;
  install)
    if (( ${#missing[@]} )); then
      echo "installing ${missing[*]}" >&2
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
    ;;
  *) echo "usage: $0 check|install" >&2; exit 2 ;;
esac
