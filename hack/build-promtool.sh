#!/usr/bin/env bash
# Builds promtool, Prometheus's own rule checker, from the Go module proxy
# into a cache directory outside the clone. test/chart runs it on the
# chart's rendered PrometheusRule: `promtool check rules` parses the rules
# with Prometheus's parser, `promtool test rules` fires the alerts on
# series shaped like the registrar's.
#
# Usage: PROMETHEUS_VERSION=v0.X.Y hack/build-promtool.sh DIR
# (make promtool passes the Go module version pinned in hack/versions.mk:
# Prometheus v3.N.M is module version v0.30N.M). Leaves DIR/promtool; does
# nothing when it exists.
set -euo pipefail

dir=${1:?usage: PROMETHEUS_VERSION=v0.X.Y build-promtool.sh DIR}
version=${PROMETHEUS_VERSION:?PROMETHEUS_VERSION is not set (make promtool passes the one in hack/versions.mk)}

if [[ -x "$dir/promtool" ]]; then
  exit 0
fi
mkdir -p "$dir"
# Concurrent make runs (two clones, a test beside a build) build it once:
# the later waits for the first and finds it done.
exec 9>"$dir.lock"
flock 9
[[ -x "$dir/promtool" ]] && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "building promtool $version (a few minutes on a cold cache)" >&2
cd "$work"
cat > go.mod <<MOD
module testbins/promtool

go 1.26
MOD
# The package, not `go mod tidy` over a tools file: tidy fetches every
# module any build of Prometheus could need, its service discoveries' cloud
# SDKs among them. remove_all_sd leaves those discoveries out (Prometheus's
# plugins/plugin_*.go); rule checks and rule tests use none of them. Cold
# (empty module and build caches), with both cores shared with other tests:
# 7.6 min, where the whole module took 13.4 min on cores of its own.
go get "github.com/prometheus/prometheus/cmd/promtool@$version" 2> >(grep -Ev '^go: (downloading|added|upgraded) ' >&2)
go build -tags remove_all_sd -trimpath -o "$dir/promtool.tmp" github.com/prometheus/prometheus/cmd/promtool
mv "$dir/promtool.tmp" "$dir/promtool"
