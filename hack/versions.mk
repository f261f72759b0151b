# Every pinned tool version, one line each: a bump is a one-line change here.
# Each hack/ script is handed its version by make and has no default of its
# own, and each tool's cache folder ($(CACHE)/NAME-VERSION) is named after
# the version it holds. Override one for a single run with
# `make VAR=version ...`.

# kube-apiserver and etcd of the integration tests (hack/build-testbins.sh).
K8S_VERSION            ?= v1.37.2
ETCD_VERSION           ?= v3.6.7
# helm, for the chart tests and e2e (hack/build-helm.sh).
HELM_VERSION           ?= v3.19.0
# promtool, which checks the chart's alerts in the chart tests
# (hack/build-promtool.sh): the Go module version of Prometheus v3.16.0.
PROMETHEUS_VERSION     ?= v0.316.0
# make lint (hack/build-golangci-lint.sh).
GOLANGCI_LINT_VERSION  ?= v2.15.0
# make lint-workflows (hack/make/release.mk).
ACTIONLINT_VERSION     ?= v1.7.12
# make mutate (hack/make/mutate.mk).
GREMLINS_VERSION       ?= v0.6.0
# vcluster: the binary the real-vcluster tests run (hack/build-vcluster.sh,
# make vcluster), whose module also ships the chart they install; the kind
# suite installs the published chart of the same release.
VCLUSTER_VERSION       ?= v0.30.0
# The releases make e2e-vcluster measures (docs/supported-versions.md).
VCLUSTER_VERSIONS      ?= v0.20.0 v0.26.0 v0.30.0 v0.34.0
# Charts `make e2e` installs on kind (hack/e2e/kind.sh).
ARGOCD_CHART_VERSION   ?= 9.1.0
VCLUSTER_CHART_VERSION ?= $(patsubst v%,%,$(VCLUSTER_VERSION))

# Go modules the tests already import are pinned by go.mod alone: Argo CD
# (with the two replaces that make it resolvable) and kind. The binaries
# built from them (hack/build-argocd.sh, `go install sigs.k8s.io/kind`) take
# the version go.mod selects, read once and only when a recipe needs it.
gomod_version = $(shell go list -m -f '{{.Version}}' $(1))
ARGOCD_VERSION = $(eval ARGOCD_VERSION := $(call gomod_version,github.com/argoproj/argo-cd/v3))$(ARGOCD_VERSION)
KIND_VERSION   = $(eval KIND_VERSION := $(call gomod_version,sigs.k8s.io/kind))$(KIND_VERSION)
# The real single-node cluster of make e2e-node (hack/build-node.sh): its
# kubelet, kube-proxy, controller manager and scheduler are K8S_VERSION;
# CoreDNS serves cluster DNS; kine is vcluster's default backing store, which
# the vcluster image carries.
COREDNS_VERSION        ?= v1.15.0
KINE_VERSION           ?= v0.14.4
# The Debian release and packages of the images that need a distribution
# (hack/build-debian-root.sh): what Argo CD's Dockerfile installs, Redis, and curl
# for the pods of the node suite that scrape the registrar's metrics.
DEBIAN_SUITE           ?= bookworm
DEBIAN_PACKAGES        ?= git,tini,gpg,gpg-agent,ca-certificates,openssh-client,tzdata,redis-server,curl
# The offline kind suite (`make e2e` without a Docker engine or the
# internet, hack/make/kind.mk): Debian's Docker engine, unpacked and never
# installed (hack/build-docker.sh); the node image's root (bookworm: its
# systemd 252 still boots on cgroup v1), with kind's base packages minus the
# storage test tools, plus Debian's containerd, runc and CNI plugins; crictl
# and kind's storage provisioner from the Go module proxy
# (hack/build-kind-node.sh). kind v0.33.0 builds local-path-provisioner
# v0.0.34, which the proxy does not serve; v0.0.30 takes the same flags.
DOCKER_DEB_VERSION     ?= 20.10.24+dfsg1-1+deb12u1+b6
KIND_DEBIAN_PACKAGES   ?= systemd,containerd,runc,containernetworking-plugins,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz,bash,ca-certificates,curl,jq,procps
CRICTL_VERSION         ?= v1.37.0
LOCAL_PATH_VERSION     ?= v0.0.30
