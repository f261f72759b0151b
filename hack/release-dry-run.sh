#!/usr/bin/env bash
# Rehearses a release with no network: what .github/workflows/release.yaml
# publishes is what this builds and checks. Steps:
#   1. static binaries (CGO_ENABLED=0) for each of RELEASE_PLATFORMS, their
#      build settings checked, and the one this host can run asked --version;
#   2. the chart packaged with version and appVersion from the tag, linted,
#      rendered, and its Deployment checked to run exactly
#      RELEASE_IMAGE:RELEASE_VERSION;
#   3. checksums.txt over the binaries and the chart;
#   4. the offline image (Dockerfile.offline, FROM scratch) from this host's
#      binary, its label, user and --version checked: only where a Docker
#      engine answers, else reported as skipped (RELEASE_REQUIRE_IMAGE=1
#      makes that a failure).
# The multi-arch image from the Dockerfile needs a registry and is built by
# the release workflow only.
#
# Usage: make release-dry-run RELEASE_VERSION=v1.2.3 (make passes RELEASE_*
# and HELM). Leaves everything in RELEASE_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${RELEASE_VERSION:?}" "${RELEASE_COMMIT:?}" "${RELEASE_DIR:?}" "${RELEASE_LDFLAGS:?}" \
  "${RELEASE_PLATFORMS:?}" "${RELEASE_IMAGE:?}" "${HELM:?}"
version=$(hack/release-version.sh "$RELEASE_VERSION")
chart_version=${version#v}
out=$RELEASE_DIR
start=$SECONDS
skipped=()

step() { printf '\n== %s\n' "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
size() { du -h "$1" | cut -f1; }
sha256() { if command -v sha256sum >/dev/null; then sha256sum "$@"; else shasum -a 256 "$@"; fi; }

echo "release dry run of $version (commit $RELEASE_COMMIT) into $out"
rm -rf "$out"
mkdir -p "$out"

step "binaries: ${RELEASE_PLATFORMS}"
host=$(go env GOHOSTOS)/$(go env GOHOSTARCH)
want_version="registrar $version (commit $RELEASE_COMMIT, $(go env GOVERSION), "
binaries=()
for platform in $RELEASE_PLATFORMS; do
  os=${platform%/*} arch=${platform#*/}
  bin=$out/registrar-$os-$arch
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -ldflags "$RELEASE_LDFLAGS" -o "$bin" ./cmd/registrar
  binaries+=("$bin")
  # The toolchain's record of the build: static (no cgo), the right target.
  # (-trimpath keeps -ldflags out of that record.)
  info=$(go version -m "$bin")
  for setting in "CGO_ENABLED=0" "GOOS=$os" "GOARCH=$arch"; do
    grep -qE "^\s+build\s+$setting\$" <<<"$info" || fail "$bin: build setting $setting missing:"$'\n'"$info"
  done
  # The values -X linked in, as strings in the binary.
  for s in "$version" "$RELEASE_COMMIT"; do
    grep -qaF -- "$s" "$bin" || fail "$bin: '$s' is not linked in"
  done
  if [[ "$platform" == "$host" ]]; then
    got=$("$bin" --version)
    [[ "$got" == "$want_version$platform)" ]] || fail "$bin --version printed '$got', want '$want_version$platform)'"
    echo "$platform: $(size "$bin"), static, ran: $got"
  else
    echo "$platform: $(size "$bin"), static, version and commit linked in (not run: this host is $host)"
  fi
done

step "chart $chart_version (appVersion $version)"
# Artifact Hub's image annotation names the released image: package a copy
# whose annotation carries the release's tag (helm package sets only the
# versions).
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp -r charts/registrar "$stage/registrar"
sed -i -E "s|^(      image: ).*\$|\1$RELEASE_IMAGE:$version|" "$stage/registrar/Chart.yaml"
"$HELM" package "$stage/registrar" --version "$chart_version" --app-version "$version" --destination "$out" >/dev/null
chart=$out/registrar-$chart_version.tgz
[[ -f "$chart" ]] || fail "helm package wrote no $chart"
meta=$("$HELM" show chart "$chart")
grep -qx "version: $chart_version" <<<"$meta" || fail "packaged chart version is not $chart_version:"$'\n'"$meta"
grep -qx "appVersion: $version" <<<"$meta" || fail "packaged chart appVersion is not $version:"$'\n'"$meta"
grep -qx "      image: $RELEASE_IMAGE:$version" <<<"$meta" || fail "packaged chart's artifacthub.io/images does not name $RELEASE_IMAGE:$version:"$'\n'"$meta"
"$HELM" lint --strict "$chart" >/dev/null || { "$HELM" lint --strict "$chart"; fail "helm lint $chart"; }

# Every distinct image: line of the whole rendering (the controller, and
# the helm test Pod running the same image, so one image).
images() { "$HELM" template registrar "$chart" --namespace argocd "$@" | sed -nE 's/^[[:space:]]*(- )?image:[[:space:]]*"?([^"[:space:]]+)"?[[:space:]]*$/\2/p' | sort -u; }
check_image() {
  local want=$1 got
  shift
  got=$(images "$@")
  [[ "$got" == "$want" ]] || { echo "rendered images: '${got//$'\n'/, }', want exactly '$want'"; return 1; }
}
want_image=$RELEASE_IMAGE:$version
check_image "$want_image" || fail "the packaged chart's Deployment does not run $want_image"
# The check must be able to fail: a render with another tag is refused.
if check_image "$want_image" --set image.tag=not-"$version" >/dev/null; then
  fail "the image check accepted a Deployment running another tag"
fi
echo "$(basename "$chart"): $(size "$chart"), lint ok, Deployment runs $want_image (a render with another tag is refused)"

step "checksums"
(cd "$out" && sha256 "${binaries[@]##*/}" "$(basename "$chart")" > checksums.txt && sha256 -c --quiet checksums.txt)
cat "$out/checksums.txt"

step "offline image (Dockerfile.offline, FROM scratch, $host)"
offline_bin=$out/registrar-${host/\//-}
reason=
if ! command -v docker >/dev/null; then
  reason="no docker command"
elif ! docker_err=$(docker info 2>&1 >/dev/null); then
  reason=$(grep -m1 . <<<"$docker_err" || echo "docker info failed")
fi
if [[ -n "$reason" ]]; then
  [[ "${RELEASE_REQUIRE_IMAGE:-0}" != 1 ]] || fail "no Docker engine and RELEASE_REQUIRE_IMAGE=1: $reason"
  echo "SKIPPED: no Docker engine answers here ($reason); the image was NOT built"
  skipped+=("offline image")
elif [[ ! -f "$offline_bin" ]]; then
  [[ "${RELEASE_REQUIRE_IMAGE:-0}" != 1 ]] || fail "no binary for $host among $RELEASE_PLATFORMS"
  echo "SKIPPED: no binary for this host ($host) among $RELEASE_PLATFORMS"
  skipped+=("offline image")
else
  img=registrar:$version-offline
  build=(docker build)
  docker buildx version >/dev/null 2>&1 || build=(env DOCKER_BUILDKIT=0 docker build)
  # The context is the release folder: the binary, nothing else of the tree.
  "${build[@]}" -q -f Dockerfile.offline -t "$img" --build-arg BINARY="$(basename "$offline_bin")" \
    --build-arg VERSION="$version" --build-arg COMMIT="$RELEASE_COMMIT" "$out" >/dev/null
  label=$(docker image inspect -f '{{index .Config.Labels "org.opencontainers.image.version"}}' "$img")
  [[ "$label" == "$version" ]] || fail "$img: label org.opencontainers.image.version is '$label', want $version"
  user=$(docker image inspect -f '{{.Config.User}}' "$img")
  case "${user%%:*}" in ""|0|root) fail "$img runs as root ('$user')";; esac
  got=$(docker run --rm --read-only --cap-drop ALL --security-opt no-new-privileges "$img" --version)
  [[ "$got" == "$want_version$host)" ]] || fail "$img --version printed '$got'"
  echo "$img: label version $label, user $user, ran: $got"
fi

step "summary"
for f in "$out"/*; do printf '%6s  %s\n' "$(size "$f")" "$f"; done
if (( ${#skipped[@]} )); then
  echo "release dry run of $version: done in $((SECONDS - start)) s, SKIPPED: ${skipped[*]}"
else
  echo "release dry run of $version: done in $((SECONDS - start)) s, nothing skipped"
fi
