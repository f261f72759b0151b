# Helm chart: helm built from the Go module proxy (cached outside the clone,
# like kube-apiserver), lint, and the chart tests under test/chart.

HELM_DIR     := $(CACHE)/helm-$(HELM_VERSION)
# Exported for every target: test/chart finds helm through $HELM, so a plain
# `make test` (go test ./...) runs the chart tests once `helm` is built.
HELM         := $(CURDIR)/bin/helm
export HELM
# promtool, Prometheus's rule checker, the same way ($PROMTOOL).
PROMTOOL_DIR := $(CACHE)/promtool-$(PROMETHEUS_VERSION)
PROMTOOL     := $(CURDIR)/bin/promtool
export PROMTOOL

.PHONY: helm promtool chart-lint chart-test chart-docs

# Like testbins: re-linked on every run, a no-op build once cached.
helm: ## Build helm from the Go module proxy (cached).
	@HELM_VERSION=$(HELM_VERSION) hack/build-helm.sh "$(HELM_DIR)"
	@mkdir -p bin && ln -sfn "$(HELM_DIR)/helm" bin/helm

promtool: ## Build promtool from the Go module proxy (cached; checks the chart's alerts).
	@PROMETHEUS_VERSION=$(PROMETHEUS_VERSION) nice -n 10 hack/build-promtool.sh "$(PROMTOOL_DIR)"
	@mkdir -p bin && ln -sfn "$(PROMTOOL_DIR)/promtool" bin/promtool

chart-lint: helm ## helm lint charts/registrar (strict), default and namespaced values.
	$(HELM) lint --strict charts/registrar
	$(HELM) lint --strict charts/registrar --set 'watchNamespaces={team-a,team-b}' \
		--set metrics.service.enabled=true --set serviceMonitor.enabled=true \
		--set prometheusRule.enabled=true --set grafanaDashboard.enabled=true

chart-test: helm promtool testbins ## Chart tests: rendered manifests, real API server, RBAC as the chart's ServiceAccount.
	go test $(GO_TEST_FLAGS) ./test/chart/...

# The values table of charts/registrar/README.md is generated from the
# `# --` comments of values.yaml; test/chartdocs fails when it drifts.
chart-docs: ## Regenerate the values table of charts/registrar/README.md from values.yaml.
	go test -count=1 ./test/chartdocs -update
