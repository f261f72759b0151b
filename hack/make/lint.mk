# Go linters: golangci-lint built from the Go module proxy (cached outside the
# clone, like kube-apiserver), configured by .golangci.yml, over every package
# and the tagged e2e suites.

GOLANGCI_LINT_DIR := $(CACHE)/golangci-lint-$(GOLANGCI_LINT_VERSION)
GOLANGCI_LINT     := $(CURDIR)/bin/golangci-lint

.PHONY: golangci-lint lint

# Like testbins: re-linked on every run, a no-op build once cached.
golangci-lint: ## Build golangci-lint from the Go module proxy (cached).
	@GOLANGCI_LINT_VERSION=$(GOLANGCI_LINT_VERSION) hack/build-golangci-lint.sh "$(GOLANGCI_LINT_DIR)"
	@mkdir -p bin && ln -sfn "$(GOLANGCI_LINT_DIR)/golangci-lint" bin/golangci-lint

lint: golangci-lint ## golangci-lint (.golangci.yml) on every package, e2e suites included.
	$(GOLANGCI_LINT) run ./...

# make test runs the linters too.
TEST_CHECKS += lint
