#!/usr/bin/env bash
# The version of a release build, from one place: the Git tag. Prints, and
# checks, the version (vMAJOR.MINOR.PATCH or vMAJOR.MINOR.PATCH-PRERELEASE,
# SemVer 2 with a leading v and no +build part, which an image tag cannot
# carry) or the commit a build embeds.
#
# Usage: hack/release-version.sh [VERSION]
#          VERSION checked and printed; without it the v* tag at HEAD, or
#          v0.0.0-dev.g<commit> on an untagged commit.
#        hack/release-version.sh --commit
#          the commit at HEAD, with -dirty when tracked files have changes.
set -euo pipefail
cd "$(dirname "$0")/.."

semver='^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-(0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*)?$'

if [[ "${1:-}" == --commit ]]; then
  commit=$(git rev-parse HEAD)
  git diff --quiet HEAD -- || commit+=-dirty
  echo "$commit"
  exit 0
fi

version=${1:-}
if [[ -z "$version" ]]; then
  version=$(git describe --tags --exact-match --match 'v*' 2>/dev/null || echo "v0.0.0-dev.g$(git rev-parse --short=12 HEAD)")
fi
if ! [[ "$version" =~ $semver ]]; then
  echo "release version '$version' is not vMAJOR.MINOR.PATCH[-PRERELEASE] (SemVer with a leading v, no +build)" >&2
  exit 1
fi
echo "$version"
