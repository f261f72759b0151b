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

require github.com/prometheus/prometheus $version
MOD
cat > tools.go <<'SRC'
//go:build tools

package tools

import _ "github.com/prometheus/prometheus/cmd/promtool"
SRC
go mod tidy >/dev/null
go build -trimpath -o "$dir/promtool.tmp" github.com/prometheus/prometheus/cmd/promtool
mv "$dir/promtool.tmp" "$dir/promtool"
