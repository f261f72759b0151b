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

	"github.com/registrar-dev/registrar/pkg/api"
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
