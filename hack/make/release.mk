# Releases. A v* tag runs .github/workflows/release.yaml, which publishes
# what `make release-dry-run` builds and checks on any machine: static
# binaries for both architectures, the chart packaged with the tag as its
# version, checksums. The tag is the one source of the version: it goes into
# the binary (ldflags below), the image label (the Dockerfiles' VERSION) and
# the chart's version and appVersion.
#
#   make release-dry-run RELEASE_VERSION=v1.2.3   # default: the tag at HEAD, or v0.0.0-dev.g<commit>
#   make lint-workflows                           # actionlint on .github/workflows (part of make test)

ACTIONLINT         := $(CACHE)/actionlint-$(ACTIONLINT_VERSION)/actionlint

# Where the release workflow pushes; the dry run checks that the chart's
# default image is exactly $(RELEASE_IMAGE):$(RELEASE_VERSION).
RELEASE_IMAGE      ?= ghcr.io/registrar-dev/registrar
RELEASE_CHART_REPO ?= oci://ghcr.io/registrar-dev/charts
RELEASE_PLATFORMS  ?= linux/amd64 linux/arm64
# Computed once, and only when a recipe needs them (a command-line value wins).
RELEASE_VERSION = $(eval RELEASE_VERSION := $(shell hack/release-version.sh))$(RELEASE_VERSION)
RELEASE_COMMIT  = $(eval RELEASE_COMMIT := $(shell hack/release-version.sh --commit))$(RELEASE_COMMIT)
RELEASE_DIR     = bin/release/$(RELEASE_VERSION)
VERSION_PKG    := github.com/registrar-dev/registrar/pkg/version
# -s -w: no symbol table or DWARF (panics still carry file:line).
RELEASE_LDFLAGS = -s -w -X $(VERSION_PKG).version=$(RELEASE_VERSION) -X $(VERSION_PKG).commit=$(RELEASE_COMMIT)
# 1 turns the offline image step from skipped into failed when no Docker
# engine answers (CI has one, so it must not skip there).
RELEASE_REQUIRE_IMAGE ?= 0

TEST_CHECKS += lint-workflows

.PHONY: release-dry-run release-env lint-workflows

release-dry-run: helm ## Rehearse a release offline: both arches, offline image (needs Docker), chart, checksums (RELEASE_VERSION=v1.2.3).
	@hack/release-version.sh "$(RELEASE_VERSION)" >/dev/null
	@RELEASE_VERSION="$(RELEASE_VERSION)" RELEASE_COMMIT="$(RELEASE_COMMIT)" RELEASE_DIR="$(RELEASE_DIR)" \
	  RELEASE_LDFLAGS="$(RELEASE_LDFLAGS)" RELEASE_PLATFORMS="$(RELEASE_PLATFORMS)" \
	  RELEASE_IMAGE="$(RELEASE_IMAGE)" RELEASE_REQUIRE_IMAGE="$(RELEASE_REQUIRE_IMAGE)" HELM="$(HELM)" \
	  hack/release-dry-run.sh

# KEY=value lines for the release workflow ($GITHUB_ENV), so that names and
# versions live here and nowhere else.
release-env: ## Print the release's version, commit, image, chart and paths as KEY=value lines.
	@hack/release-version.sh "$(RELEASE_VERSION)" >/dev/null
	@echo "RELEASE_VERSION=$(RELEASE_VERSION)"
	@echo "RELEASE_CHART_VERSION=$(patsubst v%,%,$(RELEASE_VERSION))"
	@echo "RELEASE_COMMIT=$(RELEASE_COMMIT)"
	@echo "RELEASE_IMAGE=$(RELEASE_IMAGE)"
	@echo "RELEASE_CHART_REPO=$(RELEASE_CHART_REPO)"
	@echo "RELEASE_DIR=$(RELEASE_DIR)"

$(ACTIONLINT):
	GOBIN="$(dir $(ACTIONLINT))" go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)

# actionlint checks expressions, contexts, permissions, the inputs of the
# local action and, with shellcheck on PATH, every run: script (without
# shellcheck it says so). It cannot know the inputs of actions pinned by
# commit, which is how the workflows pin every external action.
lint-workflows: $(ACTIONLINT) ## actionlint on .github/workflows (built from the Go module proxy, cached).
	@if command -v shellcheck >/dev/null; then \
	  echo "actionlint $(ACTIONLINT_VERSION), shellcheck $$(shellcheck --version | sed -n 's/^version: //p') on run: scripts"; \
	else \
	  echo "actionlint $(ACTIONLINT_VERSION); shellcheck not on PATH, so run: scripts are NOT shell-checked (apt-get install shellcheck)"; \
	fi
	$(ACTIONLINT) -no-color
	@echo "lint-workflows: ok ($$(ls .github/workflows | wc -l) workflows)"
