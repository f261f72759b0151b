#!/usr/bin/env bash
# The Debian packages the offline e2e twin (make e2e-local) runs: Redis for
# Argo CD, git for its repository, unshare (util-linux) and mount for the
# controller's private /etc/hosts.
#
# Usage: hack/e2e/deps.sh check|install
#   check    (make e2e-deps) lists what is missing with the command that
#            installs it, and fails; it installs nothing.
#   install  (.ci/run, root on a bare Debian machine) installs what is missing
#            with apt-get.
set -euo pipefail

# command:package, one per tool the suite starts.
deps=(redis-server:redis-server git:git unshare:util-linux mount:mount)

missing=()
for dep in "${deps[@]}"; do
  command -v "${dep%%:*}" >/dev/null || missing+=("${dep#*:}")
done

case "${1:-}" in
  check)
    if (( ${#missing[@]} )); then
      sudo=$([[ $(id -u) == 0 ]] || echo "sudo ")
      echo "make e2e-local needs these Debian/Ubuntu packages, not installed here: ${missing[*]}" >&2
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
