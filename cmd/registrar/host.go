package main

import (
	"fmt"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// hostFlags say how to reach the host cluster's API server: every
// subcommand but version takes them.
type hostFlags struct {
	kubeconfig  string
	context     string
	qps         float64
	burst       int
	compression bool
}

func (f *hostFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "Path of the kubeconfig to use (default: $KUBECONFIG, else ~/.kube/config, else the pod's service account in a cluster).")
	fs.StringVar(&f.context, "context", "", "The kubeconfig context to use (default: the current one).")
	fs.Float64Var(&f.qps, "kube-api-qps", -1, "Client-side limit of queries per second to the Kubernetes API; -1 sets none, leaving the API server's priority and fairness to pace requests.")
	fs.IntVar(&f.burst, "kube-api-burst", 100, "Burst of the client-side limit; unused with --kube-api-qps=-1.")
	fs.BoolVar(&f.compression, "kube-api-compression", false, "Ask the Kubernetes API for gzip-compressed responses. Off by default: beside the API server, gzip costs both sides CPU and adds latency; turn it on over a slow link.")
}

func (f *hostFlags) validate() []error {
	var errs []error
	// client-go reads a QPS of 0 as its default of 5 per second.
	if f.qps != -1 && f.qps <= 0 {
		errs = append(errs, fmt.Errorf("--kube-api-qps=%v: use -1 (no client-side limit) or more than 0; 0 would silently mean client-go's 5 per second", f.qps))
	}
	if f.burst < 1 {
		errs = append(errs, fmt.Errorf("--kube-api-burst=%d: use 1 or more", f.burst))
	}
	return errs
}

// restConfig loads the client configuration the flags name: a kubeconfig
// file and context, or, with neither given nor found, the pod's service
// account.
func (f *hostFlags) restConfig() (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = f.kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: f.context}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("no usable Kubernetes configuration: %w; check --kubeconfig and --context (or $KUBECONFIG), or run in a cluster", err)
	}
	cfg.QPS, cfg.Burst = float32(f.qps), f.burst
	cfg.DisableCompression = !f.compression
	return cfg, nil
}
