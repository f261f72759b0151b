#!/usr/bin/env bash
# Builds golangci-lint from the Go module proxy into a cache directory outside
# the clone (its release archives need the internet; this needs only the
# proxy). `go install module@version` builds it with exactly the dependency
# versions of golangci-lint's own go.mod, and touches no go.mod of ours.
#
# Usage: GOLANGCI_LINT_VERSION=vX.Y.Z hack/build-golangci-lint.sh DIR
# (make lint passes the version pinned in hack/versions.mk). Leaves
# DIR/golangci-lint; does nothing when it exists. A few minutes cold.
set -euo pipefail

dir=${1:?usage: GOLANGCI_LINT_VERSION=vX.Y.Z build-golangci-lint.sh DIR}
version=${GOLANGCI_LINT_VERSION:?GOLANGCI_LINT_VERSION is not set (make lint passes the one in hack/versions.mk)}

if [[ -x "$dir/golangci-lint" ]]; then
  exit 0
fi
mkdir -p "$dir"
exec 9>"$dir.lock"
flock 9
[[ -x "$dir/golangci-lint" ]] && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "building golangci-lint $version (a few minutes on a cold cache)" >&2
# The version golangci-lint prints; `go install` records no commit or date.
GOBIN="$work" go install -trimpath \
  -ldflags "-X main.version=${version#v} -X main.date=unknown -X main.commit=unknown" \
  "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$version"
mv "$work/golangci-lint" "$dir/golangci-lint"
