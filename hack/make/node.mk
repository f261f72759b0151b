# The real single-node cluster (`make e2e-node`, hack/e2e/node.sh): a kubelet,
# containerd and every control-plane component on this machine, offline,
# inside a network namespace of its own; the registrar installed by its chart
# from the image built here, vcluster from its own chart, Argo CD from its
# own manifest; then the story the kind suite runs (test/e2e, build tag e2e).
# Everything is built from the Go module proxy and Debian's packages, cached
# in $(CACHE) like the test binaries.

NODE_BINS_DIR   = $(CACHE)/node-$(K8S_VERSION)-coredns-$(COREDNS_VERSION)-kine-$(KINE_VERSION)
DEBIAN_ROOT_DIR = $(CACHE)/debian-$(DEBIAN_SUITE)-$(shell echo -n '$(DEBIAN_PACKAGES)' | sha256sum | cut -c1-12)
E2E_NODE_OUT   := $(CURDIR)/bin/e2e-node
# The tag the node's registrar image carries; the chart is installed with
# image.repository and image.tag set to it, nothing else.
E2E_NODE_IMG   ?= ghcr.io/registrar-dev/registrar:e2e-node

.PHONY: node-bins debian-root node-images e2e-node e2e-node-up e2e-node-down

node-bins: ## Build the node's kubelet, kube-proxy, controller manager, scheduler, kubectl, CoreDNS, kine, pause (cached).
	@K8S_VERSION=$(K8S_VERSION) COREDNS_VERSION=$(COREDNS_VERSION) KINE_VERSION=$(KINE_VERSION) \
	  nice -n 10 hack/build-node.sh "$(NODE_BINS_DIR)"

debian-root: ## debootstrap the Debian root the node's Argo CD, Redis and vcluster images start from (cached).
	@DEBIAN_SUITE=$(DEBIAN_SUITE) DEBIAN_PACKAGES=$(DEBIAN_PACKAGES) hack/build-debian-root.sh "$(DEBIAN_ROOT_DIR)"

# The images are rebuilt on every run (under a minute): they hold this
# tree's registrar.
node-images: $(E2E_NODE_OUT)/vcluster-chart node-bins debian-root testbins helm argocd vcluster bin/registrar-static ## Build every image the node runs, as docker-archive tarballs.
	go build -o $(E2E_NODE_OUT)/nodeimage ./test/nodeimage
	NODEIMAGE=$(E2E_NODE_OUT)/nodeimage REGISTRAR_STATIC=$(CURDIR)/bin/registrar-static REGISTRAR_IMG=$(E2E_NODE_IMG) \
	  NODE_BINS=$(NODE_BINS_DIR) TESTBINS=$(TESTBIN_DIR) VCLUSTER_BIN=$(VCLUSTER_DIR)/vcluster \
	  VCLUSTER_VERSION=$(VCLUSTER_VERSION) VCLUSTER_CHART=$(E2E_NODE_OUT)/vcluster-chart HELM=$(HELM) \
	  ARGOCD_BIN=$(ARGOCD_DIR)/argocd ARGOCD_SRC=$$(go list -m -f '{{.Dir}}' github.com/argoproj/argo-cd/v3) \
	  ARGOCD_MANIFEST=$$(go list -m -f '{{.Dir}}' github.com/argoproj/argo-cd/v3)/manifests/core-install.yaml \
	  DEBIAN_ROOT=$(DEBIAN_ROOT_DIR)/rootfs hack/e2e/node-images.sh $(E2E_NODE_OUT)/images

# vcluster's chart from its module, at the version its release gives it.
$(E2E_NODE_OUT)/vcluster-chart: hack/versions.mk
	@rm -rf $@ && mkdir -p $@
	src=$$(go mod download -json github.com/loft-sh/vcluster@$(VCLUSTER_VERSION) | sed -n 's/.*"Dir": "\(.*\)".*/\1/p'); \
	cp -r "$$src/chart/." $@/ && chmod -R u+w $@ && \
	sed -i 's/^version:.*/version: $(patsubst v%,%,$(VCLUSTER_VERSION))\nappVersion: $(patsubst v%,%,$(VCLUSTER_VERSION))/' $@/Chart.yaml

NODE_ENV = TESTBINS=$(TESTBIN_DIR) NODE_BINS=$(NODE_BINS_DIR) HELM=$(HELM) IMAGES=$(E2E_NODE_OUT)/images \
  REGISTRAR_IMG=$(E2E_NODE_IMG) VCLUSTER_CHART=$(E2E_NODE_OUT)/vcluster-chart \
  ARGOCD_MANIFEST=$$(go list -m -f '{{.Dir}}' github.com/argoproj/argo-cd/v3)/manifests/core-install.yaml

e2e-node: $(E2E_NODE_OUT)/vcluster-chart node-images ## The story on a real single-node cluster, offline (root; logs kept in bin/e2e-node/logs).
	go test -c -tags e2e,e2enode -o $(E2E_NODE_OUT)/e2e.test ./test/e2e
	$(NODE_ENV) E2E_TEST_BINARY=$(E2E_NODE_OUT)/e2e.test E2E_LOGS=$(E2E_NODE_OUT)/logs hack/e2e/node.sh run

e2e-node-up: $(E2E_NODE_OUT)/vcluster-chart node-images ## Bring the node up and leave it up (make e2e-node-down ends it).
	$(NODE_ENV) hack/e2e/node.sh up

e2e-node-down: ## Tear down a node left up.
	hack/e2e/node.sh down
