package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"go.uber.org/zap/zapcore"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/registrar-dev/registrar/pkg/logging"
	"github.com/registrar-dev/registrar/pkg/oneshot"
	"github.com/registrar-dev/registrar/pkg/reconcile"
)

// passFlags are the flags of `registrar plan` and `registrar sync`.
type passFlags struct {
	host         hostFlags
	registration registrationFlags
	output       string
	// lease is sync's: plan writes nothing, and so races with no one.
	lease *leaseFlags
}

func (f *passFlags) add(cmd *cobra.Command, outputUsage string) {
	fs := cmd.Flags()
	f.host.add(cmd)
	f.registration.add(fs)
	fs.StringVarP(&f.output, "output", "o", "", outputUsage)
	completeFlag(cmd, "output", cobra.FixedCompletions([]string{oneshot.OutputYAML, oneshot.OutputJSON}, cobra.ShellCompDirectiveNoFileComp))
}

func newPlanCommand() *cobra.Command {
	f := &passFlags{}
	cmd := &cobra.Command{
		Use:     "plan",
		GroupID: groupRegistrations,
		Short:   "Show what a pass over every vcluster would change, and write nothing",
		Long: "Decide, for every vcluster of the host cluster, what the controller with the same flags\n" +
			"would register, update or remove, and print a line per vcluster. Nothing is written,\n" +
			"anywhere: no Secret, no Event, nothing inside a vcluster; read-only RBAC suffices.\n\n" +
			"Exit status, as kubectl diff: 0 nothing to do, 1 changes pending, 2 a vcluster refused\n" +
			"or in error, or a usage or configuration error.",
		Example: "  registrar plan --context my-host-cluster --argocd-namespace argocd\n" +
			"  registrar plan -o yaml    # the Argo CD cluster Secrets it would write, redacted",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runPass(cmd, f, true) },
	}
	f.add(cmd, "\"yaml\" or \"json\" prints the Argo CD cluster Secrets to be written, every secret value redacted, instead of a line per vcluster.")
	return cmd
}

func newSyncCommand() *cobra.Command {
	f := &passFlags{lease: &leaseFlags{}}
	cmd := &cobra.Command{
		Use:     "sync",
		GroupID: groupRegistrations,
		Short:   "Make one pass over every vcluster: register, update, remove",
		Long: "Make the pass `registrar plan` shows, for real: register, update and remove Argo CD\n" +
			"cluster Secrets, then print a line per vcluster. No leader election, no connection check,\n" +
			"no metrics endpoint.\n\n" +
			"It refuses to run while a controller holds the leader election Lease, since the two would\n" +
			"race over the same Secrets; --force runs it anyway.\n\n" +
			"Exit status: 0 every vcluster in its desired state, 1 a vcluster refused or in error,\n" +
			"2 a usage or configuration error, or a controller running.",
		Example: "  registrar sync --context my-host-cluster --argocd-namespace argocd",
		Args:    noArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return runPass(cmd, f, false) },
	}
	f.add(cmd, "\"yaml\" or \"json\" prints the Argo CD cluster Secrets written, every secret value redacted, instead of a line per vcluster.")
	fs := cmd.Flags()
	f.registration.addWrites(fs)
	fs.StringVar(&f.lease.namespace, "leader-election-namespace", "", "Namespace of the controller's leader election Lease, read to tell whether a controller is running (default: the first Argo CD namespace, where the chart installs by default).")
	fs.StringVar(&f.lease.id, "leader-election-id", "registrar-leader", "Name of the controller's leader election Lease.")
	fs.BoolVar(&f.lease.force, "force", false, "Run even while a controller holds the Lease.")
	return cmd
}

// runPass runs plan (dryRun) or sync.
func runPass(cmd *cobra.Command, f *passFlags, dryRun bool) error {
	opts, errs := f.registration.options()
	errs = append(errs, f.host.validate()...)
	if f.output != oneshot.OutputTable && f.output != oneshot.OutputYAML && f.output != oneshot.OutputJSON {
		errs = append(errs, fmt.Errorf("--output=%s: use yaml or json, or leave it out for a line per vcluster", f.output))
	}
	if f.lease != nil {
		errs = append(errs, leaseChecks(f.lease.namespace, f.lease.id)...)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	cfg, err := f.host.restConfig()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	needs := "get, list and watch on statefulsets, deployments, services, secrets and namespaces"
	if !dryRun {
		needs += ", and the writes of the chart's RBAC (Secrets in the Argo CD namespaces, events)"
	}
	if err := checkReads(ctx, cfg, passReads(opts), needs); err != nil {
		return err
	}
	if f.lease != nil {
		if f.lease.namespace == "" {
			f.lease.namespace = opts.ArgoCDNamespaces[0]
		}
		if err := f.lease.refuseWhileLeading(ctx, cfg); err != nil {
			return err
		}
	}
	setPlainLogger(cmd.ErrOrStderr())
	logNeverPropagated(ctrl.Log.WithName("setup"), opts)

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return fmt.Errorf("building scheme: %w", err)
	}
	cacheOpts := reconcile.CacheOptions(opts.ArgoCDNamespaces, opts.WatchNamespaces...)
	// One pass from anywhere, a laptop included: nothing to elect,
	// nothing to serve.
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Cache: cacheOpts,
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0", PprofBindAddress: "0"})
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}
	report, err := oneshot.Run(ctx, mgr, opts, oneshot.Config{DryRun: dryRun})
	if err != nil {
		return err
	}
	if err := report.Write(cmd.OutOrStdout(), f.output); err != nil {
		return err
	}
	fmt.Fprint(cmd.ErrOrStderr(), report.Summary())
	if code := report.ExitCode(); code != exitOK {
		return exitStatus(code)
	}
	return nil
}

// setPlainLogger sends the log of a command run by a person to w: errors
// only, one plain line each, no JSON, no stack trace. client-go's own
// messages (klog) go the same way.
func setPlainLogger(w io.Writer) {
	logger := logging.CapVerbosity(zap.New(zap.WriteTo(w), zap.ConsoleEncoder(func(c *zapcore.EncoderConfig) {
		c.TimeKey, c.CallerKey = "", ""
	}), zap.Level(zapcore.ErrorLevel), zap.StacktraceLevel(zapcore.PanicLevel)), logging.MaxVerbosity)
	ctrl.SetLogger(logger)
	klog.SetLogger(logger)
}

// passReads are the lists of a pass: what reconcile.CacheOptions caches.
func passReads(opts reconcile.Options) []read {
	watched := opts.WatchNamespaces
	if len(watched) == 0 {
		watched = []string{""}
	}
	apps := func(r string) schema.GroupVersionResource { return appsv1.SchemeGroupVersion.WithResource(r) }
	core := func(r string) schema.GroupVersionResource { return corev1.SchemeGroupVersion.WithResource(r) }
	reads := []read{{resource: core("namespaces")}}
	for _, ns := range watched {
		reads = append(reads, read{apps("statefulsets"), ns}, read{apps("deployments"), ns}, read{core("services"), ns}, read{core("secrets"), ns})
	}
	for _, ns := range opts.ArgoCDNamespaces {
		reads = append(reads, read{core("secrets"), ns})
	}
	return reads
}
