package reconcile

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// Options configure a Reconciler.
type Options struct {
	BuildOptions
	// NamespaceSelector limits the namespaces whose vclusters are trusted;
	// nil trusts every namespace.
	NamespaceSelector labels.Selector
}

// Reconciler keeps one Argo CD cluster Secret per vcluster. Its requests
// are vcluster keys: the namespace and name shared by a vcluster's
// workload, Service and (by default) kubeconfig Secret.
type Reconciler struct {
	// Client reads from the manager's narrow cache and writes.
	Client client.Client
	// APIReader reads from the API server: for proof that a source is gone
	// and for objects the cache does not hold.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Options   Options

	// watches follows kubeconfig Secrets outside the cache; set up by
	// SetupWithManager.
	watches *secretWatches
}

// Reconcile brings the registration of one vcluster in line with its sources.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	logger := log.FromContext(ctx)
	key := req.NamespacedName

	existing, err := r.registration(ctx, key)
	if err != nil {
		return ctrl.Result{}, err
	}
	w, err := getWorkload(ctx, r.Client, key)
	if err != nil {
		return ctrl.Result{}, err
	}
	if w == nil {
		r.watches.release(key)
		return r.handleMissingWorkload(ctx, key, existing)
	}

	var ns corev1.Namespace
	if err := r.Client.Get(ctx, types.NamespacedName{Name: key.Namespace}, &ns); err != nil {
		return ctrl.Result{}, fmt.Errorf("reading namespace %s: %w", key.Namespace, err)
	}
	if trusted, why := r.namespaceTrusted(&ns); !trusted {
		r.watches.release(key)
		if existing == nil && ns.Annotations[IgnoreAnnotation] != "true" {
			// Anyone who can create a StatefulSet, Service and Secret can
			// make something that looks like a vcluster: say why it is not
			// registered, so a real one is not silently missing.
			r.Recorder.Eventf(w.Object, nil, corev1.EventTypeWarning, ReasonUntrusted, "Register",
				"not registered: %s", why)
		}
		return ctrl.Result{}, r.deregister(ctx, w, existing, why)
	}
	if w.GetAnnotations()[IgnoreAnnotation] == "true" {
		r.watches.release(key)
		return ctrl.Result{}, r.deregister(ctx, w, existing,
			fmt.Sprintf("%s %s is annotated %s=true", w.Kind, key, IgnoreAnnotation))
	}
	if !w.Ready && existing == nil {
		logger.V(1).Info("vcluster not ready yet, waiting", "kind", w.Kind)
		return ctrl.Result{}, nil
	}

	src := Sources{Workload: w.Object, Kind: w.Kind}
	var svc corev1.Service
	found, _, err := getCachedOrLive(ctx, r.Client, r.APIReader, key, &svc)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading Service %s: %w", key, err)
	}
	if found {
		src.Service = &svc
	}
	secretKey := types.NamespacedName{Namespace: key.Namespace, Name: KubeconfigSecretName(w)}
	var kubeconfig corev1.Secret
	found, fromCache, err := getCachedOrLive(ctx, r.Client, r.APIReader, secretKey, &kubeconfig)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading kubeconfig Secret %s: %w", secretKey, err)
	}
	if fromCache {
		r.watches.release(key)
	} else {
		// Unlabelled or not there yet: watch it by name, so that its
		// rotation (or creation) is seen at once.
		r.watches.ensure(key, secretKey)
	}
	if found {
		src.KubeconfigSecret = &kubeconfig
	} else if existing != nil && existing.Annotations[KubeconfigSecretAnnotation] == secretKey.Name {
		// The very Secret the registration was built from is gone: its
		// credentials are no longer the vcluster's to hand out.
		return ctrl.Result{}, r.deregister(ctx, w, existing,
			fmt.Sprintf("its kubeconfig Secret %s was deleted", secretKey))
	}

	desired, err := Build(src, r.Options.BuildOptions)
	if err != nil {
		if ie, ok := AsInputError(err); ok {
			// Terminal until the input changes, which a watch will tell us:
			// say what is wrong, keep any earlier registration, don't retry.
			reconcileErrors.WithLabelValues(ie.Reason).Inc()
			r.Recorder.Eventf(w.Object, nil, corev1.EventTypeWarning, ie.Reason, "Register", "%s", ie.Message)
			logger.Info("vcluster cannot be registered", "reason", ie.Reason, "error", ie.Message)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, r.apply(ctx, w, existing, desired)
}

// handleMissingWorkload removes the registration of a vcluster whose
// workload the cache no longer holds, once the API server confirms it is
// gone. The cache holds only labelled workloads, so its absence alone
// proves nothing.
func (r *Reconciler) handleMissingWorkload(ctx context.Context, key types.NamespacedName, existing *corev1.Secret) (ctrl.Result, error) {
	if existing == nil {
		return ctrl.Result{}, nil
	}
	state, err := getLiveState(ctx, r.APIReader, key)
	if err != nil {
		return ctrl.Result{}, err
	}
	switch state {
	case liveVCluster:
		// The cache lags behind the API server; look again shortly.
		return ctrl.Result{RequeueAfter: time.Second}, nil
	case liveOther:
		// A workload whose vcluster labels were removed keeps its
		// registration until it is deleted or opted out: only NotFound is
		// proof that the vcluster is gone.
		log.FromContext(ctx).Info("workload is no longer labelled as a vcluster; keeping its registration until it is deleted")
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, r.deregister(ctx, nil, existing, fmt.Sprintf("vcluster %s was deleted", key))
}
