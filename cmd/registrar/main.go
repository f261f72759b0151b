// Command registrar registers every vcluster of a host cluster in Argo CD.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"text/template"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/registrar-dev/registrar/pkg/logging"
	"github.com/registrar-dev/registrar/pkg/oneshot"
	"github.com/registrar-dev/registrar/pkg/reconcile"
	"github.com/registrar-dev/registrar/pkg/version"
)

func main() {
	os.Exit(run())
}

func run() int {
	var (
		argocdNamespace   = flag.String("argocd-namespace", "argocd", "Namespace of Argo CD, where the cluster Secrets are written; with --argocd-namespaces, the one of them a vcluster is registered in unless it names another (default: the first listed).")
		argocdNamespaces  = flag.String("argocd-namespaces", "", "Comma-separated namespaces of the Argo CD instances a vcluster may choose with annotation registrar.dev/argocd-namespace (default: just --argocd-namespace).")
		leaderElect       = flag.Bool("leader-elect", false, "Elect a leader among replicas, so that only one writes.")
		leaderElectionNS  = flag.String("leader-election-namespace", "", "Namespace of the leader election Lease (default: the pod's namespace; required outside a cluster).")
		leaderElectionID  = flag.String("leader-election-id", "registrar-leader", "Name of the leader election Lease.")
		leaseDuration     = flag.Duration("leader-election-lease-duration", 15*time.Second, "How long a non-leader waits before taking over an unrenewed lease.")
		renewDeadline     = flag.Duration("leader-election-renew-deadline", 10*time.Second, "How long the leader retries renewing before giving up leadership (and exiting).")
		retryPeriod       = flag.Duration("leader-election-retry-period", 2*time.Second, "How often candidates try to acquire or renew the lease.")
		metricsAddr       = flag.String("metrics-bind-address", ":8443", "Address of the Prometheus metrics endpoint; \"0\" disables it.")
		metricsSecure     = flag.Bool("metrics-secure", true, "Serve metrics over HTTPS, every scrape authenticated (TokenReview) and authorized (SubjectAccessReview: get on the non-resource URL /metrics) by the API server; false serves plain HTTP, for a loopback address behind a proxy of your own.")
		metricsCertDir    = flag.String("metrics-cert-dir", "", "Directory of tls.crt and tls.key served by the HTTPS metrics endpoint, reloaded when they change (default: a self-signed certificate made at start).")
		probeAddr         = flag.String("health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints.")
		pprofAddr         = flag.String("pprof-bind-address", "0", "Address of Go's /debug/pprof endpoints, for profiling; \"0\" (the default) disables them.")
		namespaceSelector = flag.String("namespace-selector", "", "Label selector of the namespaces whose vclusters are trusted (default: all).")
		watchNamespaces   = flag.String("watch-namespaces", "", "Comma-separated namespaces to watch for vclusters (default: all); lets RBAC grant Secret access in these namespaces only.")
		nameTemplate      = flag.String("cluster-name-template", reconcile.DefaultClusterNameTemplate, "Go template of the Argo CD cluster name, over .Namespace and .Name of the vcluster.")
		propagateLabels   = flag.String("propagate-labels", "", "Comma-separated label keys copied from a vcluster's workload onto its Argo CD cluster Secret.")
		propagateNSLabels = flag.String("propagate-namespace-labels", "", "Comma-separated label keys copied from a vcluster's Namespace onto its Argo CD cluster Secret (a workload label of the same key wins).")
		propagateAnns     = flag.String("propagate-annotations", "", "Comma-separated annotation keys copied from a vcluster's workload onto its Argo CD cluster Secret.")
		qps               = flag.Float64("kube-api-qps", -1, "Client-side limit of queries per second to the Kubernetes API; -1 sets none, leaving the API server's priority and fairness to pace requests (controller-runtime's default).")
		burst             = flag.Int("kube-api-burst", 100, "Burst of the client-side limit; unused with --kube-api-qps -1.")
		compression       = flag.Bool("kube-api-compression", false, "Ask the Kubernetes API for gzip-compressed responses. Off by default: beside the API server, gzip costs both sides CPU and adds latency (kube-controller-manager and kube-scheduler turn it off too); turn it on over a slow link.")
		concurrency       = flag.Int("max-concurrent-reconciles", 16, "vclusters reconciled in parallel (each mostly waits on the API server).")
		resync            = flag.Duration("resync-period", 10*time.Minute, "How often every vcluster is re-read even without a change, a safety net for kubeconfig Secrets no watch sees.")
		probeInterval     = flag.Duration("probe-interval", 5*time.Minute, "How often every registration is probed as Argo CD will connect (besides right after each write); 0 disables the probe.")
		probeTimeout      = flag.Duration("probe-timeout", reconcile.DefaultProbeTimeout, "Time allowed for one connection probe.")
		probeGrace        = flag.Duration("probe-grace-period", reconcile.DefaultProbeGracePeriod, "How long a vcluster just registered, ready or resumed may fail its probe, reported Pending with no Warning, before it is reported Failed.")
		probeConcurrency  = flag.Int("probe-concurrency", reconcile.DefaultProbeConcurrency, "Connection probes running at once.")
		expiryWarning     = flag.Duration("expiry-warning", reconcile.DefaultExpiryWarning, "How long before a registration's credentials expire a CredentialsExpiring event warns.")
		once              = flag.Bool("once", false, "Make one pass over every vcluster (register, update, prune), print what was decided, and exit: 0 when every vcluster is in its desired state, 1 when one is refused or in error. No leader election, no probe, no metrics endpoint.")
		dryRun            = flag.Bool("dry-run", false, "With --once: decide as usual and write nothing, anywhere; exit 0 when there is nothing to do, 1 when there are changes, 2 when a vcluster is refused or in error (as kubectl diff).")
		kubeContext       = flag.String("context", "", "The kubeconfig context to use (default: the current one).")
		output            = flag.String("output", "", "With --once: \"yaml\" or \"json\" prints the Argo CD cluster Secrets written (or, with --dry-run, to be written), every secret value redacted, instead of a line per vcluster.")
		identity          = flag.String("identity", reconcile.IdentityAdmin, "Identity Argo CD gets in a vcluster that sets no annotation registrar.dev/identity: \"admin\" (the kubeconfig Secret's credentials) or \"serviceaccount\" (a token of ServiceAccount kube-system/argocd-manager the registrar keeps inside the vcluster).")
		tokenTTL          = flag.Duration("token-ttl", reconcile.DefaultTokenTTL, "Lifetime of the ServiceAccount tokens of the serviceaccount identity (at least 10m); each is renewed after two thirds of it.")
	)
	flag.StringVar(output, "o", "", "Shorthand for --output.")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: registrar [flags]\n\n"+
			"Registers every vcluster of the host cluster in Argo CD, as a declarative cluster\n"+
			"Secret whose server is the vcluster's private service URL.\n\nFlags:\n")
		flag.PrintDefaults()
	}
	printVersion := flag.Bool("version", false, "Print the version, commit and Go version, and exit.")
	flag.Parse()
	// Go's flag package stops at the first argument that is not a flag: a
	// flag after it would be dropped silently, so that `registrar --once
	// typo --dry-run` would write. Nothing runs with one.
	if flag.NArg() > 0 {
		return usageError("unexpected argument %q: registrar takes only flags, and every flag after %q would be ignored; run registrar --help", flag.Arg(0), flag.Arg(0))
	}
	if *printVersion {
		fmt.Println(version.Get())
		return 0
	}
	ctrl.SetLogger(logging.CapVerbosity(zap.New(zap.UseFlagOptions(&zapOpts)), logging.MaxVerbosity))
	setupLog := ctrl.Log.WithName("setup")

	if (*dryRun || *output != "") && !*once {
		return usageError("--dry-run and --output go with --once")
	}
	if *output != oneshot.OutputTable && *output != oneshot.OutputYAML && *output != oneshot.OutputJSON {
		return usageError("--output=%s: use yaml or json, or leave it out for a line per vcluster", *output)
	}
	namespaces, err := argocdNamespaceList(*argocdNamespace, *argocdNamespaces, flagSet("argocd-namespace"))
	if err != nil {
		return usageError("%v", err)
	}
	opts := reconcile.Options{
		ArgoCDNamespaces: namespaces,
		ProbeInterval:    *probeInterval,
		ProbeTimeout:     *probeTimeout,
		ProbeGracePeriod: *probeGrace,
		ProbeConcurrency: *probeConcurrency,
		ExpiryWarning:    *expiryWarning,
	}
	if *qps == 0 || *burst < 1 {
		return usageError("--kube-api-qps must be -1 (no client-side limit) or more than 0 (0 would silently mean client-go's 5 per second), --kube-api-burst at least 1")
	}
	if *probeInterval < 0 || *probeTimeout <= 0 || *probeGrace <= 0 || *probeConcurrency < 1 || *expiryWarning <= 0 {
		return usageError("--probe-interval must be 0 or more, --probe-timeout, --probe-grace-period and --expiry-warning more than 0, --probe-concurrency at least 1")
	}
	if err := identityFlags(*identity, *tokenTTL); err != nil {
		return usageError("%v", err)
	}
	opts.Identity, opts.TokenTTL = *identity, *tokenTTL
	tmpl, err := template.New("cluster-name").Option("missingkey=error").Parse(*nameTemplate)
	if err != nil {
		return usageError("--cluster-name-template: %v", err)
	}
	opts.ClusterName = tmpl
	if *namespaceSelector != "" {
		sel, err := labels.Parse(*namespaceSelector)
		if err != nil {
			return usageError("--namespace-selector: %v", err)
		}
		opts.NamespaceSelector = sel
	}
	for _, p := range []struct {
		flag, what string
		value      string
		into       *[]string
	}{
		{"--propagate-labels", "a label key", *propagateLabels, &opts.PropagateLabels},
		{"--propagate-namespace-labels", "a label key", *propagateNSLabels, &opts.PropagateNamespaceLabels},
		{"--propagate-annotations", "an annotation key", *propagateAnns, &opts.PropagateAnnotations},
	} {
		*p.into = splitList(p.value)
		for _, k := range *p.into {
			if errs := validation.IsQualifiedName(k); len(errs) > 0 {
				return usageError("%s: %q is not %s: %s", p.flag, k, p.what, strings.Join(errs, "; "))
			}
		}
		if ignored := reconcile.NeverPropagated(*p.into); len(ignored) > 0 {
			setupLog.Info("never propagated, ignored: the registrar's own keys, Argo CD's secret-type and tracking keys, last-applied-configuration",
				"flag", p.flag, "keys", ignored)
		}
	}

	cfg, err := config.GetConfigWithContext(*kubeContext)
	if err != nil {
		fmt.Fprintf(os.Stderr, "registrar: no usable Kubernetes configuration: %v\nCheck --kubeconfig and --context (or $KUBECONFIG), or run it in a cluster.\n", err)
		return 2
	}
	cfg.QPS, cfg.Burst = float32(*qps), *burst
	cfg.DisableCompression = !*compression

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		setupLog.Error(err, "building scheme")
		return 1
	}
	opts.WatchNamespaces = splitList(*watchNamespaces)
	cacheOpts := reconcile.CacheOptions(opts.ArgoCDNamespaces, opts.WatchNamespaces...)
	cacheOpts.SyncPeriod = resync
	if *once {
		// One pass from anywhere, a laptop included: nothing to elect,
		// nothing to serve.
		mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Cache: cacheOpts,
			Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0", PprofBindAddress: "0"})
		if err != nil {
			setupLog.Error(err, "creating manager")
			return 2
		}
		report, err := oneshot.Run(ctrl.SetupSignalHandler(), mgr, opts, oneshot.Config{DryRun: *dryRun})
		if err != nil {
			setupLog.Error(err, "one pass failed")
			return 2
		}
		if err := report.Write(os.Stdout, *output); err != nil {
			setupLog.Error(err, "printing the report")
			return 2
		}
		fmt.Fprint(os.Stderr, report.Summary())
		return report.ExitCode()
	}
	metrics := metricsserver.Options{BindAddress: *metricsAddr}
	if *metricsSecure {
		metrics.SecureServing = true
		metrics.FilterProvider = filters.WithAuthenticationAndAuthorization
		metrics.CertDir = *metricsCertDir
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Cache:                         cacheOpts,
		Metrics:                       metrics,
		HealthProbeBindAddress:        *probeAddr,
		PprofBindAddress:              *pprofAddr,
		LeaderElection:                *leaderElect,
		LeaderElectionID:              *leaderElectionID,
		LeaderElectionNamespace:       *leaderElectionNS,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 leaseDuration,
		RenewDeadline:                 renewDeadline,
		RetryPeriod:                   retryPeriod,
	})
	if err != nil {
		setupLog.Error(err, "creating manager")
		return 1
	}
	r := &reconcile.Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder("registrar"),
		Options:   opts,
	}
	if err := r.SetupWithManager(mgr, controller.Options{MaxConcurrentReconciles: *concurrency}); err != nil {
		setupLog.Error(err, "setting up the controller")
		return 1
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "adding healthz check")
		return 1
	}
	if err := mgr.AddReadyzCheck("caches-synced", func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), time.Second)
		defer cancel()
		if !mgr.GetCache().WaitForCacheSync(ctx) {
			return errors.New("informer caches not synced yet")
		}
		return nil
	}); err != nil {
		setupLog.Error(err, "adding readyz check")
		return 1
	}
	setupLog.Info("starting", "argocdNamespaces", opts.ArgoCDNamespaces, "namespaceSelector", *namespaceSelector,
		"watchNamespaces", *watchNamespaces, "leaderElect", *leaderElect)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		setupLog.Error(err, "manager stopped with an error")
		return 1
	}
	return 0
}

// argocdNamespaceList is Options.ArgoCDNamespaces from the flags: the
// listed namespaces, the default one first. An explicit --argocd-namespace
// must be among them.
func argocdNamespaceList(single, list string, singleSet bool) ([]string, error) {
	namespaces := splitList(list)
	if len(namespaces) == 0 {
		namespaces = []string{single}
	}
	seen := map[string]bool{}
	for _, ns := range namespaces {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return nil, fmt.Errorf("--argocd-namespaces: %q is not a namespace name: %s", ns, strings.Join(errs, "; "))
		}
		if seen[ns] {
			return nil, fmt.Errorf("--argocd-namespaces: %q is listed twice", ns)
		}
		seen[ns] = true
	}
	if !singleSet {
		return namespaces, nil
	}
	i := slices.Index(namespaces, single)
	if i < 0 {
		return nil, fmt.Errorf("--argocd-namespace=%s is not one of --argocd-namespaces=%s: list it there, or name one of those", single, list)
	}
	return append([]string{single}, slices.Delete(slices.Clone(namespaces), i, i+1)...), nil
}

// identityFlags checks --identity and --token-ttl.
func identityFlags(identity string, ttl time.Duration) error {
	if identity != reconcile.IdentityAdmin && identity != reconcile.IdentityServiceAccount {
		return fmt.Errorf("--identity=%s: use %q or %q", identity, reconcile.IdentityAdmin, reconcile.IdentityServiceAccount)
	}
	if ttl < reconcile.MinTokenTTL {
		return fmt.Errorf("--token-ttl=%s: the TokenRequest API issues no token shorter than %s; use %s or more", ttl, reconcile.MinTokenTTL, reconcile.MinTokenTTL)
	}
	return nil
}

// flagSet says whether the flag was given on the command line.
func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func usageError(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "registrar: "+format+"\n", args...)
	return 2
}
