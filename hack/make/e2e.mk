# End-to-end suites (test/e2e): `make e2e-local` runs the offline twin on
# this machine with Argo CD's real controller; `make e2e` runs the same story
# on kind (with Docker and the internet, or offline: hack/make/kind.mk);
# `make e2e-clean` deletes the kind cluster of the online path. Tools are built from the Go module proxy into $(CACHE), shared by
# every clone, and linked into bin/.

# Versions: hack/versions.mk. The argo-cd chart runs Argo CD
# $(ARGOCD_VERSION) whatever its own appVersion (global.image.tag), the
# version the offline twin builds. Recursive (=), so go.mod is read only by
# the recipes that need it.
ARGOCD_DIR              = $(CACHE)/argocd-$(ARGOCD_VERSION)
KIND_DIR                = $(CACHE)/kind-$(KIND_VERSION)
KIND                   := $(CURDIR)/bin/kind
KIND_CLUSTER           ?= registrar-e2e
E2E_IMG                ?= registrar:e2e
E2E_KUBECONFIG         := $(CURDIR)/bin/e2e/kubeconfig

.PHONY: argocd kind e2e-deps e2e-local e2e e2e-kind-online e2e-cluster e2e-clean e2e-vet

# Like testbins: re-linked on every run, a no-op build once cached.
argocd: ## Build Argo CD's binary for the offline e2e twin (cached; ~15 min cold).
	@ARGOCD_VERSION=$(ARGOCD_VERSION) hack/build-argocd.sh "$(ARGOCD_DIR)"
	@mkdir -p bin && for b in argocd argocd-application-controller argocd-repo-server; do \
	  ln -sfn "$(ARGOCD_DIR)/$$b" "bin/$$b"; done

# `go install` builds kind with its own go.mod's dependencies.
kind: ## Build kind from the Go module proxy (cached), at the version go.mod requires.
	@[[ -x "$(KIND_DIR)/kind" ]] || GOBIN="$(KIND_DIR)" go install sigs.k8s.io/kind@$(KIND_VERSION)
	@mkdir -p bin && ln -sfn "$(KIND_DIR)/kind" bin/kind

# Checks only: on a laptop nothing is installed behind the user's back
# (.ci/run runs `hack/e2e/deps.sh install` on a bare CI machine).
e2e-deps: ## Check the Debian packages e2e-local needs; say how to install what is missing.
	@hack/e2e/deps.sh check

# helm (hack/make/chart.mk, which exports HELM) renders charts/registrar for
# the registrar's args and RBAC.
# Then the real-vcluster suite (test/realvcluster) at VCLUSTER_VERSION; one
# after the other, since two real vclusters cannot run at once.
e2e-local: testbins build argocd helm vcluster e2e-deps ## Offline e2e twin (a real vcluster, a stand-in, the registrar, Argo CD's controller), then the real-vcluster suite (root).
	E2E_BIN="$(CURDIR)/bin" $(VCLUSTER_ENV) go test -tags e2elocal -count=1 -timeout 10m -v ./test/e2e/...
	$(VCLUSTER_ENV) go test -tags realvcluster -count=1 -timeout 15m -v ./test/realvcluster/...

e2e-vet: ## go vet the tagged e2e suites (plain `go vet ./...` skips them).
	go vet -tags e2e ./test/e2e/...
	go vet -tags e2elocal ./test/e2e/...
	go vet -tags e2e,e2enode ./test/e2e/...

e2e-cluster: kind helm ## Create the kind cluster and install Argo CD, the registrar and two vclusters.
	$(MAKE) docker-build IMG=$(E2E_IMG)
	KIND="$(KIND)" HELM="$(HELM)" KIND_CLUSTER="$(KIND_CLUSTER)" KUBECONFIG="$(E2E_KUBECONFIG)" \
	  IMG="$(E2E_IMG)" ARGOCD_VERSION="$(ARGOCD_VERSION)" ARGOCD_CHART_VERSION="$(ARGOCD_CHART_VERSION)" \
	  VCLUSTER_CHART_VERSION="$(VCLUSTER_CHART_VERSION)" hack/e2e/kind.sh up

# Without a Docker engine (this machine kind), `make e2e` runs the same
# story on kind offline (hack/make/kind.mk); KIND_OFFLINE=1 or 0 chooses.
e2e: ## End-to-end on kind: the same story as e2e-local; offline (hack/make/kind.mk) when no Docker engine answers or KIND_OFFLINE=1.
	@if [ "$(KIND_OFFLINE)" = 1 ] || { [ -z "$(KIND_OFFLINE)" ] && ! docker info > /dev/null 2>&1; }; then \
	  echo "make e2e: kind offline (KIND_OFFLINE=$(or $(KIND_OFFLINE),unset; no Docker engine answers))"; \
	  $(MAKE) e2e-kind-offline; \
	else \
	  $(MAKE) e2e-kind-online; \
	fi

e2e-kind-online: e2e-cluster ## End-to-end on kind with a Docker engine and the internet.
	KUBECONFIG="$(E2E_KUBECONFIG)" HELM="$(HELM)" go test -tags e2e -count=1 -timeout 15m -v ./test/e2e/...

e2e-clean: kind ## Delete the kind cluster.
	KIND="$(KIND)" KIND_CLUSTER="$(KIND_CLUSTER)" KUBECONFIG="$(E2E_KUBECONFIG)" hack/e2e/kind.sh down
