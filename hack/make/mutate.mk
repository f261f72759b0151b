# Mutation testing of the registrar's packages with gremlins (built from the Go module
# proxy, cached outside the clone). Slow, so not part of `make test`: its
# last result is in CONTRIBUTING.md.

GREMLINS := $(CACHE)/gremlins-$(GREMLINS_VERSION)/gremlins

.PHONY: mutate

$(GREMLINS):
	GOBIN="$(dir $(GREMLINS))" go install github.com/go-gremlins/gremlins/cmd/gremlins@$(GREMLINS_VERSION)

mutate: testbins $(GREMLINS) ## Mutation testing of pkg/reconcile, pkg/registration, pkg/vcluster and pkg/connection against the unit and integration tests; prints kill rates and survivors.
	GREMLINS="$(GREMLINS)" hack/mutate.sh bin/mutate
