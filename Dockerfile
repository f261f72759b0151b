# The registrar's image, built from source: a static binary on distroless,
# run as its nonroot user. Offline, from a prebuilt binary: Dockerfile.offline.
#   docker build -t registrar .
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=v1.2.3 --build-arg COMMIT=$(git rev-parse HEAD) -t registrar .
# The release workflow builds it with docker buildx (see its header for why
# not ko), passing VERSION from the tag: the same value `registrar --version`
# prints, the label below carries and the chart's appVersion names.
ARG GO_VERSION=1.26
# The builder runs natively and cross-compiles: no emulation for other arches.
FROM --platform=${BUILDPLATFORM:-linux/amd64} golang:${GO_VERSION} AS build
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY cmd/ cmd/
COPY pkg/ pkg/
ARG TARGETOS
ARG TARGETARCH
# After the sources, so that a new version reuses the layers above. The
# -X flags are those of hack/make/release.mk (pkg/version tests both).
ARG VERSION=dev
ARG COMMIT=
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH:-amd64} \
    go build -trimpath \
      -ldflags "-s -w -X github.com/registrar-dev/registrar/pkg/version.version=${VERSION} -X github.com/registrar-dev/registrar/pkg/version.commit=${COMMIT}" \
      -o /out/registrar ./cmd/registrar

# static: no libc, no shell; nonroot is uid/gid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG COMMIT=
LABEL org.opencontainers.image.title="registrar" \
      org.opencontainers.image.description="Registers every vcluster of a host cluster in Argo CD as a declarative cluster Secret." \
      org.opencontainers.image.source="https://github.com/registrar-dev/registrar" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
COPY --from=build /out/registrar /registrar
USER 65532:65532
ENTRYPOINT ["/registrar"]
