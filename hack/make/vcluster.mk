# vcluster's own binary, for the tests that run a real vcluster
# (test/fixture's RealVCluster): the sandbox of the offline e2e twin and the
# suite in test/realvcluster. Built from the Go module proxy into $(CACHE)
# (hack/build-vcluster.sh), one folder per release, linked at bin/vcluster.

VCLUSTER_DIR = $(CACHE)/vcluster-$(VCLUSTER_VERSION)
# What the suites read (fixture.VClusterFromEnv).
VCLUSTER_ENV = VCLUSTER_BINARY="$(VCLUSTER_DIR)/vcluster" VCLUSTER_VERSION="$(VCLUSTER_VERSION)"

.PHONY: vcluster e2e-vcluster vcluster-vet
TEST_CHECKS += vcluster-vet

# Like argocd: re-linked on every run, a no-op build once cached. nice: the
# cold build takes half an hour of both cores.
vcluster: ## Build vcluster's binary at VCLUSTER_VERSION (cached; ~30 min cold).
	@VCLUSTER_VERSION=$(VCLUSTER_VERSION) nice -n 10 hack/build-vcluster.sh "$(VCLUSTER_DIR)"
	@mkdir -p bin && ln -sfn "$(VCLUSTER_DIR)/vcluster" bin/vcluster

# One run of the real-vcluster suite per release; a summary line each (the
# build's time, zero when cached, and the suite's), and the exit status of
# the worst. Each release is built on first use.
e2e-vcluster: testbins build helm ## The real-vcluster suite for each of VCLUSTER_VERSIONS (root; builds each on first use).
	@failed=0; summary=""; \
	for v in $(VCLUSTER_VERSIONS); do \
	  start=$$(date +%s); \
	  if $(MAKE) --no-print-directory vcluster VCLUSTER_VERSION=$$v; then \
	    built=$$(date +%s); \
	    if VCLUSTER_BINARY="$(CACHE)/vcluster-$$v/vcluster" VCLUSTER_VERSION=$$v \
	       go test -tags realvcluster -count=1 -timeout 15m -v ./test/realvcluster/...; then \
	      result=pass; else result=FAIL; failed=1; fi; \
	  else built=$$(date +%s); result="FAIL (build)"; failed=1; fi; \
	  summary="$$summary\nvcluster $$v: $$result (build $$(( built - start )) s, suite $$(( $$(date +%s) - built )) s)"; \
	done; \
	printf "$$summary\n"; exit $$failed

vcluster-vet: ## go vet the real-vcluster suite (build tag realvcluster).
	go vet -tags realvcluster ./test/realvcluster/...
