package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
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

func (f *hostFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "Path of the kubeconfig to use (default: $KUBECONFIG, else ~/.kube/config, else the pod's service account in a cluster).")
	fs.StringVar(&f.context, "context", "", "The kubeconfig context to use (default: the current one).")
	fs.Float64Var(&f.qps, "kube-api-qps", -1, "Client-side limit of queries per second to the Kubernetes API; -1 sets none, leaving the API server's priority and fairness to pace requests.")
	fs.IntVar(&f.burst, "kube-api-burst", 100, "Burst of the client-side limit; unused with --kube-api-qps=-1.")
	fs.BoolVar(&f.compression, "kube-api-compression", false, "Ask the Kubernetes API for gzip-compressed responses. Off by default: beside the API server, gzip costs both sides CPU and adds latency; turn it on over a slow link.")
	// Completing --context offers the contexts of the kubeconfig the
	// command line names so far.
	completeFlag(cmd, "context", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		rules.ExplicitPath = f.kubeconfig
		raw, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).RawConfig()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		return slices.Sorted(maps.Keys(raw.Contexts)), cobra.ShellCompDirectiveNoFileComp
	})
}

func (f *hostFlags) validate() []error {
	var errs []error
	// client-go reads a QPS of 0 as its default of 5 per second.
	if f.qps != -1 && f.qps <= 0 {
		errs = append(errs, fmt.Errorf("--kube-api-qps=%v: use -1 (no client-side limit) or more than 0, e.g. 50; 0 would silently mean client-go's 5 per second", f.qps))
	}
	if err := atLeastOne("kube-api-burst", f.burst); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// restConfig loads the client configuration the flags name: a kubeconfig
// file and context, or, with neither given nor found, the pod's service
// account. Its errors say which flag to fix.
func (f *hostFlags) restConfig() (*rest.Config, error) {
	if f.kubeconfig != "" {
		if _, err := os.Stat(f.kubeconfig); err != nil {
			return nil, fmt.Errorf("--kubeconfig=%s: cannot read it (%w); pass the path of a readable kubeconfig", f.kubeconfig, unwrapPath(err))
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = f.kubeconfig
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: f.context})
	if f.context != "" {
		raw, err := loader.RawConfig()
		if err != nil {
			return nil, fmt.Errorf("reading the kubeconfig: %w; fix it, or pass another with --kubeconfig", err)
		}
		if _, ok := raw.Contexts[f.context]; !ok {
			return nil, fmt.Errorf("--context=%s: the kubeconfig has no such context; use one of [%s] (kubectl config get-contexts lists them)",
				f.context, strings.Join(slices.Sorted(maps.Keys(raw.Contexts)), ", "))
		}
	}
	cfg, err := loader.ClientConfig()
	switch {
	case clientcmd.IsEmptyConfig(err):
		return nil, errors.New("no Kubernetes configuration found: pass --kubeconfig, set $KUBECONFIG, or run in a cluster")
	case err != nil:
		return nil, fmt.Errorf("the kubeconfig is not usable: %w; fix it, or pass another with --kubeconfig or --context", err)
	}
	cfg.QPS, cfg.Burst = float32(f.qps), f.burst
	cfg.DisableCompression = !f.compression
	return cfg, nil
}

// unwrapPath drops the path a *PathError repeats.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// read is one list a command needs: resource in namespace ("" is every
// namespace).
type read struct {
	resource  schema.GroupVersionResource
	namespace string
}

// checkReads lists each of reads once, one item at most, before a command
// starts: an API server that cannot be reached, refuses the credentials
// or forbids a read is one line saying so, not a hang while informers
// retry nor a stack of library errors.
func checkReads(ctx context.Context, cfg *rest.Config, reads []read, needs string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for _, r := range reads {
		_, err := mc.Resource(r.resource).Namespace(r.namespace).List(ctx, metav1.ListOptions{Limit: 1})
		switch {
		case err == nil:
		case apierrors.IsUnauthorized(err):
			return fmt.Errorf("the API server at %s refused the kubeconfig's credentials (401 Unauthorized); log in again, or pick another --context", cfg.Host)
		case apierrors.IsForbidden(err):
			return fmt.Errorf("%w; this command needs %s", err, needs)
		case apierrors.IsNotFound(err):
			return fmt.Errorf("the API server at %s does not serve %s; is it a Kubernetes API server?", cfg.Host, r.resource.Resource)
		default:
			return fmt.Errorf("cannot list %s at the API server %s: %w; check --context and that the cluster is up", r.resource.Resource, cfg.Host, err)
		}
	}
	return nil
}
