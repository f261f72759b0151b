# The kind suite offline (`make e2e KIND_OFFLINE=1`; the default when no
# Docker engine answers): Debian's dockerd started by hack/e2e/kind-offline.sh
# inside a network namespace of its own, a kind node image built here
# (hack/e2e/kind-node-image.sh), the same images, charts and manifests as
# `make e2e-node` (hack/make/node.mk), put into the cluster with `kind load`.
# Everything is cached in $(CACHE) like the other test binaries; the node
# image is named after everything it is made of.

DOCKER_DIR         = $(CACHE)/docker-$(DOCKER_DEB_VERSION)
KIND_NODE_BINS_DIR = $(CACHE)/kind-node-bins-$(K8S_VERSION)-crictl-$(CRICTL_VERSION)-local-path-$(LOCAL_PATH_VERSION)
KIND_ROOT_DIR      = $(CACHE)/debian-$(DEBIAN_SUITE)-$(shell echo -n '$(KIND_DEBIAN_PACKAGES)' | sha256sum | cut -c1-12)
# The node image's key: the script that assembles it and every input's version.
KIND_NODE_KEY      = $(shell cat hack/e2e/kind-node-image.sh test/nodeimage/*.go | cat - <(echo '$(KIND_VERSION) $(K8S_VERSION) $(ETCD_VERSION) $(COREDNS_VERSION) $(CRICTL_VERSION) $(LOCAL_PATH_VERSION) $(KIND_DEBIAN_PACKAGES)') | sha256sum | cut -c1-12)
KIND_NODE_DIR      = $(CACHE)/kind-node-$(K8S_VERSION)-$(KIND_NODE_KEY)
KIND_NODE_IMG      = registrar.local/kind-node:$(K8S_VERSION)-$(KIND_NODE_KEY)
E2E_KIND_OUT      := $(CURDIR)/bin/e2e-kind
E2E_LOCK          ?= /var/tmp/registrar-e2e-node.lock

.PHONY: docker-engine kind-node-bins kind-root kind-node-image e2e-kind-offline e2e-kind-offline-node e2e-kind-offline-down

docker-engine: ## Unpack Debian's docker.io into the cache, not installed (offline kind suite).
	@DOCKER_DEB_VERSION=$(DOCKER_DEB_VERSION) hack/build-docker.sh "$(DOCKER_DIR)"

kind-node-bins: ## Build kubeadm, crictl and local-path-provisioner for the offline kind node image (cached).
	@K8S_VERSION=$(K8S_VERSION) CRICTL_VERSION=$(CRICTL_VERSION) LOCAL_PATH_VERSION=$(LOCAL_PATH_VERSION) \
	  nice -n 10 hack/build-kind-node.sh "$(KIND_NODE_BINS_DIR)"

kind-root: ## debootstrap the kind node image's root (cached).
	@DEBIAN_SUITE=$(DEBIAN_SUITE) DEBIAN_PACKAGES=$(KIND_DEBIAN_PACKAGES) hack/build-debian-root.sh "$(KIND_ROOT_DIR)"

kind-node-image: kind kind-root kind-node-bins node-bins testbins ## Build the offline kind node image (cached under $(CACHE)/kind-node-*).
	@go build -o $(E2E_KIND_OUT)/nodeimage ./test/nodeimage
	@NODEIMAGE=$(E2E_KIND_OUT)/nodeimage KIND_SRC=$$(go list -m -f '{{.Dir}}' sigs.k8s.io/kind) \
	  KIND_ROOT=$(KIND_ROOT_DIR)/rootfs NODE_BINS=$(NODE_BINS_DIR) TESTBINS=$(TESTBIN_DIR) \
	  KIND_NODE_BINS=$(KIND_NODE_BINS_DIR) K8S_VERSION=$(K8S_VERSION) KIND_NODE_IMG=$(KIND_NODE_IMG) \
	  LOCK=$(E2E_LOCK) hack/e2e/kind-node-image.sh "$(KIND_NODE_DIR)"

KIND_OFFLINE_ENV = KIND="$(KIND)" KUBECTL="$(NODE_BINS_DIR)/kubectl" HELM="$(HELM)" DOCKER_DIR="$(DOCKER_DIR)" \
  KIND_CLUSTER="$(KIND_CLUSTER)" KIND_NODE_IMAGE_TAR="$(KIND_NODE_DIR)/node.tar" KIND_NODE_IMG="$(KIND_NODE_IMG)" \
  E2E_LOCK="$(E2E_LOCK)" E2E_LOGS="$(E2E_KIND_OUT)/logs"

e2e-kind-offline-node: kind-node-image docker-engine helm ## Offline kind up to a Ready node, then torn down (root).
	$(KIND_OFFLINE_ENV) hack/e2e/kind-offline.sh run

e2e-kind-offline: kind-node-image docker-engine node-images ## The story on kind, offline (root; logs kept in bin/e2e-kind/logs).
	go test -c -tags e2e -o $(E2E_KIND_OUT)/e2e.test ./test/e2e
	$(KIND_OFFLINE_ENV) IMAGES=$(E2E_NODE_OUT)/images REGISTRAR_IMG=$(E2E_NODE_IMG) VCLUSTER_CHART=$(E2E_NODE_OUT)/vcluster-chart \
	  ARGOCD_MANIFEST=$$(go list -m -f '{{.Dir}}' github.com/argoproj/argo-cd/v3)/manifests/core-install.yaml \
	  E2E_TEST_BINARY=$(E2E_KIND_OUT)/e2e.test hack/e2e/kind-offline.sh run

e2e-kind-offline-down: ## Tear down what a killed offline kind run left.
	$(KIND_OFFLINE_ENV) hack/e2e/kind-offline.sh down
