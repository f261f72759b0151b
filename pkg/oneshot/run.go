// Package oneshot runs one pass of the registrar over every vcluster
// (`registrar sync`): discover, register, update, prune, through the
// reconciler's own pipeline, then report what it decided and exit. With
// DryRun the same pass writes nothing.
package oneshot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/registrar-dev/registrar/pkg/reconcile"
)

// Config configures a pass.
type Config struct {
	// DryRun decides everything and writes nothing: no Secret, no Event,
	// no annotation, nothing inside a vcluster.
	DryRun bool
	// Pending bounds how often a vcluster whose reconcile asks to be looked
	// at again (the cache lags behind the API server) is retried, a second
	// apart; 0 is 5.
	Pending int
}

// Run starts mgr (its cache), reconciles every vcluster once with the
// reconciler opts configure, stops mgr and returns what was decided. mgr
// must be built without leader election, and started by no one else. The
// connection probe is off: a pass probes nothing, and so connects to no
// vcluster.
func Run(ctx context.Context, mgr manager.Manager, opts reconcile.Options, cfg Config) (*Report, error) {
	opts.ProbeInterval = 0
	opts.DryRun = cfg.DryRun
	r := &reconcile.Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Options:   opts,
	}
	if cfg.DryRun {
		r.Client = ReadOnly(r.Client)
		r.Recorder = discard{}
	} else {
		r.Recorder = newSyncRecorder(mgr.GetClient(), mgr.GetScheme(), log.FromContext(ctx).WithName("events"))
	}
	if err := r.SetupIndexes(mgr); err != nil {
		return nil, err
	}

	ctx, cancel := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- mgr.Start(ctx) }()
	stop := func() error {
		cancel()
		return <-stopped
	}
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		err := stop()
		if err == nil {
			err = errors.New("interrupted")
		}
		return nil, fmt.Errorf("starting the cache: %w", err)
	}
	report, err := pass(ctx, r, cfg)
	if serr := stop(); serr != nil && err == nil {
		err = fmt.Errorf("stopping: %w", serr)
	}
	if err != nil {
		return nil, err
	}
	report.DryRun = cfg.DryRun
	return report, nil
}

// pass reconciles every vcluster the cache shows, one after another.
func pass(ctx context.Context, r *reconcile.Reconciler, cfg Config) (*Report, error) {
	keys, err := reconcile.VClusters(ctx, r.Client, r.Options.ArgoCDNamespaces)
	if err != nil {
		return nil, fmt.Errorf("discovering vclusters: %w", err)
	}
	log.FromContext(ctx).V(1).Info("one pass", "vclusters", len(keys), "dryRun", cfg.DryRun)
	report := &Report{}
	for _, key := range keys {
		outcomes, err := reconcileOne(ctx, r, key, cfg)
		if err != nil {
			return nil, err
		}
		report.Outcomes = append(report.Outcomes, outcomes...)
	}
	return report, nil
}

// reconcileOne runs the pipeline for key, again while it decides nothing
// and asks to be retried. An error of the pipeline is an outcome; only the
// end of ctx ends the pass.
func reconcileOne(ctx context.Context, r *reconcile.Reconciler, key types.NamespacedName, cfg Config) ([]reconcile.Outcome, error) {
	attempts := cfg.Pending
	if attempts <= 0 {
		attempts = 5
	}
	for range attempts {
		outcomes, res, err := r.ReconcileOutcomes(log.IntoContext(ctx, log.FromContext(ctx).WithValues("vcluster", key, "dryRun", cfg.DryRun)), key)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil || len(outcomes) > 0 || res.RequeueAfter == 0 {
			return outcomes, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(max(res.RequeueAfter, time.Second)):
		}
	}
	return []reconcile.Outcome{{
		VCluster: key,
		Decision: reconcile.DecisionError,
		Reason:   "the API server holds a vcluster workload the registrar's cache does not show yet; run again",
	}}, nil
}

// discard is an event recorder that records nothing: a dry run writes no
// Event.
type discard struct{}

func (discard) Eventf(runtime.Object, runtime.Object, string, string, string, string, ...any) {}
