package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/registrar-dev/registrar/pkg/logging"
	"github.com/registrar-dev/registrar/pkg/reconcile"
	"github.com/registrar-dev/registrar/pkg/registration"
)

// controllerFlags are the flags of `registrar controller`.
type controllerFlags struct {
	host         hostFlags
	registration registrationFlags

	leaderElect      bool
	leaderElectionNS string
	leaderElectionID string
	leaseDuration    time.Duration
	renewDeadline    time.Duration
	retryPeriod      time.Duration
	metricsAddr      string
	metricsSecure    bool
	metricsCertDir   string
	healthProbeAddr  string
	pprofAddr        string
	concurrency      int
	resync           time.Duration
	checkInterval    time.Duration
	checkTimeout     time.Duration
	checkGrace       time.Duration
	checkConcurrency int
	zap              zap.Options
}

func newControllerCommand() *cobra.Command {
	f := &controllerFlags{}
	cmd := &cobra.Command{
		Use:     "controller",
		GroupID: groupController,
		Short:   "Run the controller that keeps every vcluster registered (what the Helm chart runs)",
		Long: "Run the controller: watch the host cluster's vclusters and keep one Argo CD cluster Secret\n" +
			"per vcluster, checking that each connects as Argo CD will. It logs JSON and serves\n" +
			"/healthz, /readyz and Prometheus metrics. It exits 0 when stopped by a signal, 2 on a usage\n" +
			"or configuration error, 1 when it stops on an error after starting.",
		Example: "  registrar controller --leader-elect --argocd-namespace argocd",
		Args:    noArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return runController(cmd.Context(), f) },
	}
	fs := cmd.Flags()
	f.host.add(cmd)
	f.registration.add(fs)
	f.registration.addWrites(fs)
	fs.BoolVar(&f.leaderElect, "leader-elect", false, "Elect a leader among replicas, so that only one writes.")
	fs.StringVar(&f.leaderElectionNS, "leader-election-namespace", "", "Namespace of the leader election Lease (default: the pod's namespace; required outside a cluster).")
	fs.StringVar(&f.leaderElectionID, "leader-election-id", "registrar-leader", "Name of the leader election Lease.")
	fs.DurationVar(&f.leaseDuration, "leader-election-lease-duration", 15*time.Second, "How long a non-leader waits before taking over an unrenewed lease.")
	fs.DurationVar(&f.renewDeadline, "leader-election-renew-deadline", 10*time.Second, "How long the leader retries renewing before giving up leadership (and exiting).")
	fs.DurationVar(&f.retryPeriod, "leader-election-retry-period", 2*time.Second, "How often candidates try to acquire or renew the lease.")
	fs.StringVar(&f.metricsAddr, "metrics-bind-address", ":8443", "Address of the Prometheus metrics endpoint; \"0\" disables it.")
	fs.BoolVar(&f.metricsSecure, "metrics-secure", true, "Serve metrics over HTTPS, every scrape authenticated (TokenReview) and authorized (SubjectAccessReview: get on the non-resource URL /metrics) by the API server; false serves plain HTTP, for a loopback address behind a proxy of your own.")
	fs.StringVar(&f.metricsCertDir, "metrics-cert-dir", "", "Directory of tls.crt and tls.key served by the HTTPS metrics endpoint, reloaded when they change (default: a self-signed certificate made at start).")
	fs.StringVar(&f.healthProbeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints.")
	fs.StringVar(&f.pprofAddr, "pprof-bind-address", "0", "Address of Go's /debug/pprof endpoints, for profiling; \"0\" disables them.")
	fs.IntVar(&f.concurrency, "max-concurrent-reconciles", 16, "vclusters reconciled in parallel (each mostly waits on the API server).")
	fs.DurationVar(&f.resync, "resync-period", 10*time.Minute, "How often every vcluster is re-read even without a change, a safety net for kubeconfig Secrets no watch sees.")
	fs.DurationVar(&f.checkInterval, "connection-check-interval", 5*time.Minute, "How often every registration's connection is checked as Argo CD will connect (besides right after each write); 0 turns the check off.")
	fs.DurationVar(&f.checkTimeout, "connection-check-timeout", reconcile.DefaultProbeTimeout, "Time allowed for one connection check.")
	fs.DurationVar(&f.checkGrace, "connection-check-grace-period", reconcile.DefaultProbeGracePeriod, "How long a vcluster just registered, ready or resumed may fail its connection check, reported Pending with no Warning, before it is reported Failed.")
	fs.IntVar(&f.checkConcurrency, "connection-check-concurrency", reconcile.DefaultProbeConcurrency, "Connection checks running at once.")
	zapFlags := flag.NewFlagSet("zap", flag.ContinueOnError)
	f.zap.BindFlags(zapFlags)
	fs.AddGoFlagSet(zapFlags)
	describeZapFlags(fs)
	return cmd
}

// describeZapFlags restates the help of controller-runtime's logging
// flags with the defaults this program runs with: zap's own text has
// none for most, and names epoch where controller-runtime logs RFC 3339.
func describeZapFlags(fs *pflag.FlagSet) {
	for name, d := range map[string]struct{ def, usage string }{
		"zap-devel":            {"false", "Development logging: console encoding, debug level, stack traces from warnings."},
		"zap-encoder":          {"json", "Log encoding: json or console (console with --zap-devel)."},
		"zap-log-level":        {"info", "Log level: debug, info, error, or an integer for more detail (levels above 5 are dropped: client-go logs request bodies there)."},
		"zap-stacktrace-level": {"error", "Level from which log entries carry a stack trace: info, error or panic (warn with --zap-devel)."},
		"zap-time-encoding":    {"rfc3339", "Timestamp encoding: epoch, millis, nano, iso8601, rfc3339 or rfc3339nano."},
	} {
		f := fs.Lookup(name)
		f.DefValue, f.Usage = d.def, d.usage
	}
}

func runController(ctx context.Context, f *controllerFlags) error {
	opts, errs := f.registration.options()
	errs = append(errs, f.host.validate()...)
	errs = append(errs, f.validate()...)
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	opts.ProbeInterval, opts.ProbeTimeout, opts.ProbeGracePeriod, opts.ProbeConcurrency = f.checkInterval, f.checkTimeout, f.checkGrace, f.checkConcurrency
	cfg, err := f.host.restConfig()
	if err != nil {
		return err
	}

	ctrl.SetLogger(logging.CapVerbosity(zap.New(zap.UseFlagOptions(&f.zap)), logging.MaxVerbosity))
	setupLog := ctrl.Log.WithName("setup")
	logNeverPropagated(setupLog, opts)
	mgr, err := newControllerManager(cfg, f, opts)
	if err != nil {
		// Most often an API server that cannot be reached or refuses the
		// credentials: a configuration error.
		setupLog.Error(err, "setting up the controller")
		return exitStatus(exitUsage)
	}
	setupLog.Info("starting", "argocdNamespaces", opts.ArgoCDNamespaces, "namespaceSelector", f.registration.namespaceSelector,
		"watchNamespaces", opts.WatchNamespaces, "leaderElect", f.leaderElect, "goMemLimit", goMemLimitString(debug.SetMemoryLimit(-1)))
	if err := mgr.Start(ctx); err != nil {
		setupLog.Error(err, "the controller stopped")
		return exitStatus(exitOutcome)
	}
	return nil
}

// validate checks the flags only the controller takes.
func (f *controllerFlags) validate() []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(notNegative("connection-check-interval", f.checkInterval, "5m"))
	add(positive("connection-check-timeout", f.checkTimeout, "10s"))
	add(positive("connection-check-grace-period", f.checkGrace, "1m"))
	add(atLeastOne("connection-check-concurrency", f.checkConcurrency))
	add(atLeastOne("max-concurrent-reconciles", f.concurrency))
	add(positive("resync-period", f.resync, "10m"))
	add(listenAddress("metrics-bind-address", f.metricsAddr, true))
	add(listenAddress("health-probe-bind-address", f.healthProbeAddr, true))
	add(listenAddress("pprof-bind-address", f.pprofAddr, true))
	errs = append(errs, leaseChecks(f.leaderElectionNS, f.leaderElectionID)...)
	add(positive("leader-election-retry-period", f.retryPeriod, "2s"))
	// client-go's leader election refuses these at start, after the
	// manager is built; say so before anything runs.
	if f.renewDeadline <= f.retryPeriod {
		add(fmt.Errorf("--leader-election-renew-deadline=%s: use more than --leader-election-retry-period (%s), e.g. 10s", f.renewDeadline, f.retryPeriod))
	}
	if f.leaseDuration <= f.renewDeadline {
		add(fmt.Errorf("--leader-election-lease-duration=%s: use more than --leader-election-renew-deadline (%s), e.g. 15s", f.leaseDuration, f.renewDeadline))
	}
	return errs
}

// newControllerManager sets up the controller and its endpoints.
func newControllerManager(cfg *rest.Config, f *controllerFlags, opts reconcile.Options) (ctrl.Manager, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("building scheme: %w", err)
	}
	cacheOpts := reconcile.CacheOptions(opts.ArgoCDNamespaces, opts.WatchNamespaces...)
	cacheOpts.SyncPeriod = &f.resync
	metrics := metricsserver.Options{BindAddress: f.metricsAddr}
	if f.metricsSecure {
		metrics.SecureServing = true
		metrics.FilterProvider = filters.WithAuthenticationAndAuthorization
		metrics.CertDir = f.metricsCertDir
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Cache:                         cacheOpts,
		Metrics:                       metrics,
		HealthProbeBindAddress:        f.healthProbeAddr,
		PprofBindAddress:              f.pprofAddr,
		LeaderElection:                f.leaderElect,
		LeaderElectionID:              f.leaderElectionID,
		LeaderElectionNamespace:       f.leaderElectionNS,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &f.leaseDuration,
		RenewDeadline:                 &f.renewDeadline,
		RetryPeriod:                   &f.retryPeriod,
	})
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	r := &reconcile.Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder("registrar"),
		Options:   opts,
	}
	if err := r.SetupWithManager(mgr, controller.Options{MaxConcurrentReconciles: f.concurrency}); err != nil {
		return nil, fmt.Errorf("setting up the controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("adding healthz check: %w", err)
	}
	if err := mgr.AddReadyzCheck("caches-synced", func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), time.Second)
		defer cancel()
		if !mgr.GetCache().WaitForCacheSync(ctx) {
			return errors.New("informer caches not synced yet")
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("adding readyz check: %w", err)
	}
	return mgr, nil
}

// logNeverPropagated says which keys of the --propagate-* flags are
// ignored: they are accepted, since a fleet may list them on purpose, but
// never copied.
func logNeverPropagated(log logr.Logger, opts reconcile.Options) {
	for flag, keys := range map[string][]string{
		"--propagate-labels":           opts.PropagateLabels,
		"--propagate-namespace-labels": opts.PropagateNamespaceLabels,
		"--propagate-annotations":      opts.PropagateAnnotations,
	} {
		if ignored := registration.NeverPropagated(keys); len(ignored) > 0 {
			log.Info("never propagated, ignored: the registrar's own keys, Argo CD's secret-type and tracking keys, last-applied-configuration",
				"flag", flag, "keys", ignored)
		}
	}
}
