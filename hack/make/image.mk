# Container image. `docker-build` is what users run (pulls golang and
# distroless); `docker-smoke` builds the offline variant, FROM scratch, from a
# static binary, and runs it once. Neither is part of `make test`.

# IMG is the whole reference (hack/make/e2e.mk passes IMG=registrar:e2e).
IMAGE     ?= ghcr.io/registrar-dev/registrar
IMAGE_TAG ?= dev
IMG       ?= $(IMAGE):$(IMAGE_TAG)
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# Without the buildx plugin, docker's client refuses BuildKit builds: fall
# back to the classic builder, which both Dockerfiles support.
DOCKER_BUILD = $(if $(shell docker buildx version 2>/dev/null),docker build,DOCKER_BUILDKIT=0 docker build)

.PHONY: docker-build docker-build-offline docker-smoke bin/registrar-static

docker-build: ## Build the image from source (multi-stage Dockerfile; needs a registry).
	$(DOCKER_BUILD) -t $(IMG) --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(RELEASE_COMMIT) .

# Static, so it runs on scratch: no libc, no loader.
bin/registrar-static:
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X $(VERSION_PKG).version=$(VERSION) -X $(VERSION_PKG).commit=$(RELEASE_COMMIT)" -o $@ ./cmd/registrar

docker-build-offline: bin/registrar-static ## Build the image from a prebuilt static binary, FROM scratch (no pull).
	$(DOCKER_BUILD) -f Dockerfile.offline -t $(IMG)-offline --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(RELEASE_COMMIT) .

# scratch has no shell and no `id`: the user is read from the image config,
# and --help must exit 0 and print the registrar's usage. The container runs
# as the chart runs it: read-only, no capabilities, no privilege escalation.
docker-smoke: docker-build-offline ## Run `registrar --help` in the offline image as non-root.
	@img=$(IMG)-offline; \
	user=$$(docker image inspect -f '{{.Config.User}}' $$img); \
	echo "image $$img runs as user '$$user'"; \
	case "$${user%%:*}" in ""|0|root) echo "FAIL: image runs as root"; exit 1;; esac; \
	out=$$(docker run --rm --read-only --cap-drop ALL --security-opt no-new-privileges $$img --help 2>&1) || \
	  { echo "FAIL: registrar --help exited $$?"; echo "$$out"; exit 1; }; \
	grep -q -- '-argocd-namespace' <<<"$$out" || { echo "FAIL: unexpected --help output:"; echo "$$out"; exit 1; }; \
	echo "$$out" | head -3; echo "docker-smoke: ok (registrar --help ran in $$img as $$user)"
