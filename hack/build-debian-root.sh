#!/usr/bin/env bash
# A Debian root filesystem for the images of `make e2e-node` that need a
# distribution (Argo CD's, its Redis, vcluster's), made by debootstrap from
# Debian's own packages: no base image is pulled from any registry. The
# packages are those Argo CD's Dockerfile installs into its base (git, tini,
# gpg, ca-certificates, tzdata, openssh-client), redis-server, and curl
# for the node suite's pods that scrape the registrar's metrics.
#
# Usage: DEBIAN_SUITE=bookworm hack/build-debian-root.sh DIR
# (make debian-root passes the suite hack/versions.mk pins and names DIR
# after it and the package list). Leaves DIR/rootfs; does nothing when it
# exists; two builds into the same DIR wait for each other. About a minute.
set -euo pipefail

dir=${1:?usage: DEBIAN_SUITE=bookworm build-debian-root.sh DIR}
suite=${DEBIAN_SUITE:?DEBIAN_SUITE is not set (make debian-root passes the one in hack/versions.mk)}
packages=${DEBIAN_PACKAGES:?DEBIAN_PACKAGES is not set}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

[[ -d "$dir/rootfs/usr" ]] && exit 0
command -v debootstrap > /dev/null || {
  echo "make e2e-node needs debootstrap: apt-get install --no-install-recommends debootstrap" >&2
  exit 1
}
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9
[[ -d "$dir/rootfs/usr" ]] && exit 0
rm -rf "$dir.tmp"
mkdir -p "$dir.tmp"
echo "debootstrap $suite with $packages" >&2
debootstrap --variant=minbase --include="$packages" "$suite" "$dir.tmp/rootfs" "$mirror" > "$dir.tmp/debootstrap.log" 2>&1 || {
  tail -20 "$dir.tmp/debootstrap.log" >&2
  exit 1
}
# What an image does not need: package caches and lists.
rm -rf "$dir.tmp/rootfs/var/cache/apt/archives/"*.deb "$dir.tmp/rootfs/var/lib/apt/lists/"*
rm -rf "$dir"
mv "$dir.tmp" "$dir"
