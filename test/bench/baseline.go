package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"text/template"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/reconcile"
	"github.com/registrar-dev/registrar/pkg/registration"
)

// baselineMode is the first argument that turns this program into the
// naive baseline, which the benchmark runs as a child process so that it is
// measured exactly as the registrar binary is.
const baselineMode = "naive-baseline"

// runBaseline is the naive baseline: the registrar's own Reconciler and
// SetupWithManager, wired the way a first attempt would be, with
//   - a cluster-wide cache of full Secrets (no label selector), and
//   - no write skipping: every read of a registration has its content-hash
//     annotation removed, so the reconcile never finds it up to date and
//     applies on every pass.
//
// Everything else (Service and workload caches, the manager) is as in
// cmd/registrar. With --naive=false it is wired exactly as cmd/registrar
// (its logger aside), so that -profile can take a CPU profile of the
// registrar's own code, which the binary does not expose.
func runBaseline(args []string) int {
	fs := flag.NewFlagSet(baselineMode, flag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", "", "")
	argocd := fs.String("argocd-namespace", "argocd", "")
	metricsAddr := fs.String("metrics-bind-address", "0", "")
	probeAddr := fs.String("health-probe-bind-address", "0", "")
	// fixture.StartController passes it to every controller it starts;
	// the twin serves plain HTTP metrics, as the bench scrapes them.
	_ = fs.Bool("metrics-secure", false, "")
	qps := fs.Float64("kube-api-qps", 50, "")
	burst := fs.Int("kube-api-burst", 100, "")
	concurrency := fs.Int("max-concurrent-reconciles", 4, "")
	resync := fs.Duration("resync-period", 10*time.Minute, "")
	naive := fs.Bool("naive", true, "Wire the naive baseline; false wires exactly as cmd/registrar does (for profiling).")
	cpuprofile := fs.String("cpuprofile", "", "Write a CPU profile of the whole run to this file.")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr)))
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg.QPS, cfg.Burst = float32(*qps), *burst

	cacheOpts := reconcile.CacheOptions([]string{*argocd})
	for obj := range cacheOpts.ByObject {
		if _, ok := obj.(*corev1.Secret); ok && *naive {
			delete(cacheOpts.ByObject, obj)
		}
	}
	cacheOpts.SyncPeriod = resync
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme.Scheme,
		Cache:                  cacheOpts,
		Metrics:                metricsserver.Options{BindAddress: *metricsAddr},
		HealthProbeBindAddress: *probeAddr,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var c client.Client = noWriteSkipping{Client: mgr.GetClient(), argocd: *argocd}
	if !*naive {
		c = mgr.GetClient()
	}
	r := &reconcile.Reconciler{
		Client:    c,
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder("registrar"),
		Options: reconcile.Options{
			ArgoCDNamespaces: []string{*argocd},
			ClusterName:      template.Must(template.New("cluster-name").Option("missingkey=error").Parse(registration.DefaultClusterNameTemplate)),
		},
	}
	if err := r.SetupWithManager(mgr, controller.Options{MaxConcurrentReconciles: *concurrency}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// noWriteSkipping hides the content hash of every registration it reads, so
// the reconcile's up-to-date check always fails and every pass writes.
type noWriteSkipping struct {
	client.Client
	argocd string
}

func (c noWriteSkipping) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	err := c.Client.Get(ctx, key, obj, opts...)
	if s, ok := obj.(*corev1.Secret); ok && err == nil && s.Namespace == c.argocd {
		delete(s.Annotations, api.ContentHashAnnotation)
	}
	return err
}
