#!/usr/bin/env bash
# Debian's Docker engine (package docker.io) for the offline kind suite,
# unpacked into a cache directory and never installed: the package's
# postinst would start a daemon in the machine's own network namespace
# (hack/e2e/kind-offline.sh starts dockerd in a namespace of its own). Gives
# DIR/usr/sbin/dockerd, DIR/usr/sbin/docker-proxy and DIR/usr/bin/docker;
# containerd and runc come from their own Debian packages (hack/e2e/deps.sh).
#
# Usage: DOCKER_DEB_VERSION=.. hack/build-docker.sh DIR
set -euo pipefail

dir=${1:?usage: DOCKER_DEB_VERSION=.. build-docker.sh DIR}
version=${DOCKER_DEB_VERSION:?DOCKER_DEB_VERSION is not set (make docker-engine passes the one in hack/versions.mk)}

[[ -x "$dir/usr/sbin/dockerd" ]] && exit 0
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9
[[ -x "$dir/usr/sbin/dockerd" ]] && exit 0
rm -rf "$dir.tmp"
mkdir -p "$dir.tmp"
# apt's sandbox user cannot write into root's cache: download in /tmp.
work=$(mktemp -d)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download -q "docker.io=$version" > /dev/null) || {
  echo "apt-get download docker.io=$version failed (apt-get update? another Debian release?)" >&2
  exit 1
}
dpkg-deb -x "$work"/docker.io_*.deb "$dir.tmp"
rm -rf "$dir"
mv "$dir.tmp" "$dir"
