# The two commands of a fresh machine: `make demo` and `make test`.
# Test binaries (kube-apiserver, etcd) are built from the Go module proxy
# into a cache outside the clone, shared by every clone and CI run on the
# machine, and linked at bin/k8s.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c

CACHE        ?= $(HOME)/.cache/registrar
# Every tool version, one line each.
include hack/versions.mk
TESTBIN_DIR  := $(CACHE)/k8s-$(K8S_VERSION)-etcd-$(ETCD_VERSION)
KUBEBUILDER_ASSETS := $(CURDIR)/bin/k8s
export KUBEBUILDER_ASSETS

GO_TEST_FLAGS ?=
# Checks that `make test` runs besides the Go tests; each file in hack/make
# adds its own (TEST_CHECKS += ...), so no file edits another's target.
TEST_CHECKS :=

.DEFAULT_GOAL := all
# Further targets (chart, image, e2e, ...) live beside this file, one file each.
include $(wildcard hack/make/*.mk)

.PHONY: all build test unit integration vet testbins demo fuzz reliability docs-update clean help

all: build

help: ## List the targets.
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## Build bin/registrar.
	go build -o bin/registrar ./cmd/registrar

vet: ## go vet and a gofmt check.
	@unformatted=$$(gofmt -l cmd pkg test); if [[ -n "$$unformatted" ]]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	go vet ./...
	go vet -tags e2e ./test/e2e/...
	go vet -tags e2elocal ./test/e2e/...
	go vet -tags e2e,e2enode ./test/e2e/...

# Phony, and quick once cached: the script returns at once when the binaries
# are there, and bin/k8s is re-pointed at the folder of the pinned versions
# on every run, so a version bump takes effect without `make clean`.
testbins: ## Build kube-apiserver and etcd for the integration tests (cached).
	@K8S_VERSION=$(K8S_VERSION) ETCD_VERSION=$(ETCD_VERSION) hack/build-testbins.sh "$(TESTBIN_DIR)"
	@mkdir -p bin && ln -sfn "$(TESTBIN_DIR)" bin/k8s

unit: ## Unit tests and the docs' checks (no API server).
	go test $(GO_TEST_FLAGS) ./pkg/... ./cmd/... ./docs/...

integration: testbins ## Integration tests against a real kube-apiserver and etcd.
	go test $(GO_TEST_FLAGS) ./test/integration/...

test: vet testbins build helm promtool $(TEST_CHECKS) ## Everything a pull request must pass: vet, gofmt, lint, actionlint, unit, integration, chart and docs tests.
	go test $(GO_TEST_FLAGS) ./...

FUZZTIME ?= 60s
fuzz: ## Fuzz kubeconfig parsing (against client-go's) and the builder, FUZZTIME each (their seeds run in every make test).
	go test ./pkg/vcluster/ -run '^$$' -fuzz '^FuzzParseKubeconfig$$' -fuzztime $(FUZZTIME)
	go test ./pkg/registration/ -run '^$$' -fuzz '^FuzzBuild$$' -fuzztime $(FUZZTIME)

# The list of tests is test/reliability's table, which also gives the -run
# pattern and the packages. RELIABILITY_FLAGS=-markdown prints docs/reliability.md's table.
RELIABILITY_FLAGS ?=
reliability: testbins ## Security and fault tests, summarised in one table.
	go build -o bin/reliability ./test/reliability
	pattern=$$(bin/reliability -pattern); pkgs=$$(bin/reliability -packages); \
	go test -count=1 -json -run "$$pattern" $$pkgs | bin/reliability $(RELIABILITY_FLAGS)

demo: testbins build ## A local control plane, a vcluster stand-in, the registrar, the Argo CD Secret it wrote.
	go run ./test/demo --registrar bin/registrar --assets "$(KUBEBUILDER_ASSETS)"

# Every generated reference is checked by a test of make test; this rewrites
# them from their sources.
docs-update: ## Regenerate docs/cli.md and the generated tables of docs/api.md and docs/troubleshooting.md.
	go test -count=1 ./cmd/registrar -run '^TestCLIReferenceIsCurrent$$' -update
	go test -count=1 ./docs -run '^TestGeneratedReferencesAreCurrent$$' -update

clean: ## Remove bin/ (the binary cache under $(CACHE) stays).
	rm -rf bin
