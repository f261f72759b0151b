# Benchmark (test/bench): the registrar binary at scale against the real
# kube-apiserver and etcd of the integration tests. Prints one table of
# figures; fails only when a scenario cannot complete.
# `make bench BENCH_FLAGS=-quick` is a smoke run with small sizes.

BENCH_FLAGS ?=

.PHONY: bench

bench: build testbins ## Benchmark at scale against a real API server; prints one table (BENCH_FLAGS=-quick for a smoke run).
	go build -o bin/bench ./test/bench
	bin/bench -registrar bin/registrar -assets "$(KUBEBUILDER_ASSETS)" $(BENCH_FLAGS)
