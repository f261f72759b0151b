package reconcile

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/registration"
	"github.com/registrar-dev/registrar/pkg/vcluster"
)

// workload is a vcluster's StatefulSet or Deployment.
type workload struct {
	client.Object
	Kind  string
	Ready bool
}

// getWorkload reads the vcluster workload named key from r, trying a
// StatefulSet first and then a Deployment. It returns nil, nil when neither
// exists as a vcluster in r.
func getWorkload(ctx context.Context, r client.Reader, key types.NamespacedName) (*workload, error) {
	var sts appsv1.StatefulSet
	err := r.Get(ctx, key, &sts)
	switch {
	case err == nil && vcluster.IsVCluster(&sts):
		return &workload{Object: &sts, Kind: "StatefulSet", Ready: sts.Status.ReadyReplicas > 0}, nil
	case err != nil && !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("reading StatefulSet %s: %w", key, err)
	}
	var dep appsv1.Deployment
	err = r.Get(ctx, key, &dep)
	switch {
	case err == nil && vcluster.IsVCluster(&dep):
		return &workload{Object: &dep, Kind: "Deployment", Ready: dep.Status.ReadyReplicas > 0}, nil
	case err != nil && !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("reading Deployment %s: %w", key, err)
	}
	return nil, nil
}

// liveState is what the API server, not a cache, says of a vcluster key.
type liveState int

const (
	// liveVCluster: a StatefulSet or Deployment of that name is a vcluster.
	liveVCluster liveState = iota
	// liveOther: one exists but is not labelled as a vcluster.
	liveOther
	// liveGone: both the StatefulSet and the Deployment answer NotFound, the
	// only proof that the vcluster is gone.
	liveGone
)

// getLiveState reads the vcluster's workload from the API server. Any
// error but NotFound is returned, so a registration is never removed on a
// transient failure.
func getLiveState(ctx context.Context, api client.Reader, key types.NamespacedName) (liveState, error) {
	state := liveGone
	for _, obj := range []client.Object{&appsv1.StatefulSet{}, &appsv1.Deployment{}} {
		err := api.Get(ctx, key, obj)
		switch {
		case err == nil && vcluster.IsVCluster(obj):
			return liveVCluster, nil
		case err == nil:
			state = liveOther
		case !apierrors.IsNotFound(err):
			return 0, fmt.Errorf("confirming %s is gone: %w", key, err)
		}
	}
	return state, nil
}

// getCachedOrLive reads obj from the cache and, when the cache (which holds
// only objects labelled app=vcluster) misses, from the API server: Services
// and kubeconfig Secrets of old or custom vclusters may carry no labels.
// found is false only when the API server itself says NotFound; cached says
// whether the cache had it.
func getCachedOrLive(ctx context.Context, cached, api client.Reader, key types.NamespacedName, obj client.Object) (found, fromCache bool, err error) {
	err = cached.Get(ctx, key, obj)
	if err == nil {
		return true, true, nil
	}
	if !apierrors.IsNotFound(err) {
		return false, false, err
	}
	err = api.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) {
		return false, false, nil
	}
	return err == nil, false, err
}

// namespaceTrusted reports whether vclusters in ns may be registered, and
// if not, why.
func (r *Reconciler) namespaceTrusted(ns *corev1.Namespace) (bool, string) {
	if ns.Annotations[api.IgnoreAnnotation] == "true" {
		return false, fmt.Sprintf("namespace %s is annotated %s=true", ns.Name, api.IgnoreAnnotation)
	}
	if sel := r.Options.NamespaceSelector; sel != nil && !sel.Matches(labels.Set(ns.Labels)) {
		return false, fmt.Sprintf("namespace %s does not match the namespace selector %q", ns.Name, sel.String())
	}
	return true, ""
}

// readWorkload reads the vcluster's workload from the cache. When the cache
// does not hold it, its registrations are removed once the API server
// confirms that it is gone: the cache holds only labelled workloads, so
// its absence alone proves nothing.
func (r *Reconciler) readWorkload(ctx context.Context, st *state) (bool, error) {
	w, err := getWorkload(ctx, r.Client, st.key)
	if err != nil {
		return true, err
	}
	if w != nil {
		st.workload = w
		st.src = registration.Sources{Workload: w.Object, Kind: w.Kind}
		return false, nil
	}
	r.watches.release(st.key)
	if len(st.registrations) == 0 {
		return true, nil
	}
	live, err := getLiveState(ctx, r.APIReader, st.key)
	if err != nil {
		return true, err
	}
	switch live {
	case liveVCluster:
		// The cache lags behind the API server; look again shortly.
		st.result.RequeueAfter = cacheLagRequeue
		return true, nil
	case liveOther:
		// A workload whose vcluster labels were removed keeps its
		// registration until it is deleted or opted out: only NotFound is
		// proof that the vcluster is gone.
		log.FromContext(ctx).Info("workload is no longer labelled as a vcluster; keeping its registration until it is deleted")
		for _, s := range st.registrations {
			st.decide(DecisionSkip, s, "the workload is no longer labelled as a vcluster; its registration is kept until it is deleted")
		}
		return true, nil
	}
	return true, r.deregisterAll(ctx, st, fmt.Sprintf("vcluster %s was deleted", st.key))
}

// checkTrust ends the reconcile of a vcluster that may not be registered,
// removing any registration it has, or that is not ready for a first one.
func (r *Reconciler) checkTrust(ctx context.Context, st *state) (bool, error) {
	w := st.workload
	var ns corev1.Namespace
	if err := r.Client.Get(ctx, types.NamespacedName{Name: st.key.Namespace}, &ns); err != nil {
		return true, fmt.Errorf("reading namespace %s: %w", st.key.Namespace, err)
	}
	st.src.Namespace = &ns
	if trusted, why := r.namespaceTrusted(&ns); !trusted {
		if len(st.registrations) == 0 && ns.Annotations[api.IgnoreAnnotation] != "true" {
			// Anyone who can create a StatefulSet, Service and Secret can
			// make something that looks like a vcluster: say why it is not
			// registered, so a real one is not silently missing.
			r.Recorder.Eventf(w.Object, nil, corev1.EventTypeWarning, api.ReasonUntrusted, "Register",
				"not registered: %s", why)
		}
		if len(st.registrations) == 0 {
			st.skip("%s", why)
		}
		return true, r.optedOut(ctx, st, why)
	}
	if w.GetAnnotations()[api.IgnoreAnnotation] == "true" {
		why := fmt.Sprintf("%s %s is annotated %s=true", w.Kind, st.key, api.IgnoreAnnotation)
		if len(st.registrations) == 0 {
			st.skip("%s", why)
		}
		return true, r.optedOut(ctx, st, why)
	}
	if !w.Ready && len(st.registrations) == 0 {
		log.FromContext(ctx).V(1).Info("vcluster not ready yet, waiting", "kind", w.Kind)
		st.skip("%s %s has no ready replica yet; it is registered once one is ready", w.Kind, st.key)
		return true, nil
	}
	return false, nil
}

// readService reads the vcluster's Service, which may carry no labels.
// A missing Service is Build's to report.
func (r *Reconciler) readService(ctx context.Context, st *state) (bool, error) {
	var svc corev1.Service
	found, _, err := getCachedOrLive(ctx, r.Client, r.APIReader, st.key, &svc)
	if err != nil {
		return true, fmt.Errorf("reading Service %s: %w", st.key, err)
	}
	if found {
		st.src.Service = &svc
	}
	return false, nil
}
