package reconcile

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/registration"
	"github.com/registrar-dev/registrar/pkg/vcluster"
)

// kubeconfigSecretIndex indexes vcluster workloads by the name of their
// kubeconfig Secret, so that a Secret event finds its vcluster even when an
// annotation names the Secret.
const kubeconfigSecretIndex = "registrar.kubeconfigSecret"

// Indexes of the Argo CD cluster Secrets in the cache by the cluster name
// and server they declare, for collision checks.
const (
	clusterNameIndex   = "registrar.clusterName"
	clusterServerIndex = "registrar.clusterServer"
)

// CacheOptions narrow the manager's cache to what the registrar reads:
// workloads, Services and Secrets labelled app=vcluster, and in the Argo CD
// namespaces only cluster Secrets (ours, and others' for collision
// checks). No cluster-wide cache of Secrets exists, so memory does not grow
// with unrelated Secrets. Managed fields are dropped from every cached
// object. With watchNamespaces, only those namespaces (and the Argo CD
// namespaces) are watched, so the registrar needs no cluster-wide read
// access to Secrets.
func CacheOptions(argocdNamespaces []string, watchNamespaces ...string) cache.Options {
	vcluster := labels.SelectorFromSet(labels.Set{vcluster.AppLabel: vcluster.AppValue})
	clusters := labels.SelectorFromSet(labels.Set{registration.ArgoCDSecretTypeLabel: registration.ArgoCDSecretTypeValue})
	secrets := map[string]cache.Config{cache.AllNamespaces: {LabelSelector: vcluster}}
	var defaults map[string]cache.Config
	if len(watchNamespaces) > 0 {
		secrets = map[string]cache.Config{}
		defaults = map[string]cache.Config{}
		for _, ns := range watchNamespaces {
			secrets[ns] = cache.Config{LabelSelector: vcluster}
			defaults[ns] = cache.Config{}
		}
	}
	// Set last: an Argo CD namespace may also be a watched namespace, and
	// there only Argo CD cluster Secrets are cached.
	for _, ns := range argocdNamespaces {
		secrets[ns] = cache.Config{LabelSelector: clusters}
	}
	return cache.Options{
		DefaultNamespaces: defaults,
		DefaultTransform:  cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&appsv1.StatefulSet{}: {Label: vcluster},
			&appsv1.Deployment{}:  {Label: vcluster},
			&corev1.Service{}:     {Label: vcluster},
			&corev1.Secret{}:      {Namespaces: secrets, Transform: keepOwnManagedFields},
		},
	}
}

// keepOwnManagedFields strips the managed fields of every cached Secret but
// the registrar's own registrations, whose field owners the first update
// after a Create needs (upgradeOwnership).
func keepOwnManagedFields(in any) (any, error) {
	if s, ok := in.(*corev1.Secret); ok && s.Labels[api.ManagedByLabel] == api.ManagedByValue {
		return in, nil
	}
	return cache.TransformStripManagedFields()(in)
}

// SetupWithManager registers the reconciler's watches, index and metrics.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	if err := r.SetupIndexes(mgr); err != nil {
		return err
	}
	r.m = newReconcilerMetrics(mgr.GetCache(), r.Options.ArgoCDNamespaces)
	if err := r.metrics().register(r.Options.Registry); err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}
	meta, err := metadata.NewForConfig(mgr.GetConfig())
	if err != nil {
		return err
	}
	r.watches = newSecretWatches(meta, r.Options.WatchNamespaces)
	r.ownWrites.replay = make(chan event.GenericEvent, 64)
	if err := mgr.Add(r.watches); err != nil {
		return err
	}
	if r.Options.ProbeInterval > 0 {
		r.prober = newProber(r)
		if err := mgr.Add(r.prober); err != nil {
			return err
		}
	}

	return ctrl.NewControllerManagedBy(mgr).
		Named("vcluster").
		WithOptions(opts).
		Watches(&appsv1.StatefulSet{}, handler.EnqueueRequestsFromMapFunc(workloadRequest),
			builder.WithPredicates(workloadChanged{})).
		Watches(&appsv1.Deployment{}, handler.EnqueueRequestsFromMapFunc(workloadRequest),
			builder.WithPredicates(workloadChanged{})).
		Watches(&corev1.Service{}, handler.EnqueueRequestsFromMapFunc(serviceRequest),
			builder.WithPredicates(predicate.ResourceVersionChangedPredicate{})).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.secretRequests),
			builder.WithPredicates(notOwnWrite{writes: &r.ownWrites, refusals: &r.refusals})).
		WatchesRawSource(source.Channel(r.watches.events, &handler.EnqueueRequestForObject{})).
		WatchesRawSource(source.Channel(r.ownWrites.replay, handler.EnqueueRequestsFromMapFunc(r.secretRequests))).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.namespaceRequests),
			builder.WithPredicates(predicate.Or(predicate.LabelChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Complete(r)
}

// clusterSecretField indexes an Argo CD cluster Secret by a data key,
// normalised as Argo CD reads it (util/db/cluster.go trims a trailing "/"
// from the server).
func clusterSecretField(key string) client.IndexerFunc {
	return func(o client.Object) []string {
		s, ok := o.(*corev1.Secret)
		if !ok || s.Labels[registration.ArgoCDSecretTypeLabel] != registration.ArgoCDSecretTypeValue {
			return nil
		}
		v := strings.TrimRight(string(s.Data[key]), "/")
		if v == "" {
			return nil
		}
		return []string{v}
	}
}

func workloadRequest(_ context.Context, o client.Object) []reconcile.Request {
	if !vcluster.IsVCluster(o) {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKeyFromObject(o)}}
}

// serviceRequest maps a vcluster's Service, named after the vcluster.
func serviceRequest(_ context.Context, o client.Object) []reconcile.Request {
	return []reconcile.Request{{NamespacedName: client.ObjectKeyFromObject(o)}}
}

// secretRequests maps an Argo CD cluster Secret we own to its source (so
// that a registration deleted by hand is recreated, and one whose source
// vanished while the registrar was down is pruned on start-up), another
// cluster Secret to the vclusters it kept from registering, and a
// kubeconfig Secret to the vclusters that read it.
func (r *Reconciler) secretRequests(ctx context.Context, o client.Object) []reconcile.Request {
	l := o.GetLabels()
	if slices.Contains(r.Options.ArgoCDNamespaces, o.GetNamespace()) {
		reqs := r.refusals.take(client.ObjectKeyFromObject(o))
		if l[api.ManagedByLabel] != api.ManagedByValue {
			return reqs
		}
		ns, name := l[api.SourceNamespaceLabel], l[api.SourceNameLabel]
		if ns == "" || name == "" {
			return reqs
		}
		return append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}})
	}
	var reqs []reconcile.Request
	for _, list := range []client.ObjectList{&appsv1.StatefulSetList{}, &appsv1.DeploymentList{}} {
		if err := r.Client.List(ctx, list, client.InNamespace(o.GetNamespace()),
			client.MatchingFields{kubeconfigSecretIndex: o.GetName()}); err != nil {
			continue
		}
		reqs = append(reqs, requestsFor(list)...)
	}
	return reqs
}

// namespaceRequests maps a namespace to its vclusters, whose trust depends
// on the namespace's labels and annotations.
func (r *Reconciler) namespaceRequests(ctx context.Context, o client.Object) []reconcile.Request {
	var reqs []reconcile.Request
	for _, list := range []client.ObjectList{&appsv1.StatefulSetList{}, &appsv1.DeploymentList{}} {
		if err := r.Client.List(ctx, list, client.InNamespace(o.GetName())); err != nil {
			continue
		}
		reqs = append(reqs, requestsFor(list)...)
	}
	return reqs
}

func requestsFor(list client.ObjectList) []reconcile.Request {
	var reqs []reconcile.Request
	add := func(o client.Object) {
		if vcluster.IsVCluster(o) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(o)})
		}
	}
	switch l := list.(type) {
	case *appsv1.StatefulSetList:
		for i := range l.Items {
			add(&l.Items[i])
		}
	case *appsv1.DeploymentList:
		for i := range l.Items {
			add(&l.Items[i])
		}
	}
	return reqs
}

// workloadChanged passes the workload events that can change a
// registration or its probe: creation, deletion, labels, annotations,
// readiness, and a scale to or from zero (a pause by hand).
// Routine status updates of a running vcluster pass no event.
type workloadChanged struct {
	predicate.Funcs
}

func (workloadChanged) Update(e event.UpdateEvent) bool {
	o, n := e.ObjectOld, e.ObjectNew
	// An update with an unchanged resource version is the informer's
	// periodic resync: it re-reads every vcluster's sources, which is how
	// rotations of kubeconfig Secrets the cache cannot see (unlabelled ones)
	// are caught.
	return o.GetResourceVersion() == n.GetResourceVersion() ||
		!maps.Equal(o.GetLabels(), n.GetLabels()) ||
		!maps.Equal(o.GetAnnotations(), n.GetAnnotations()) ||
		o.GetUID() != n.GetUID() ||
		ready(o) != ready(n) ||
		vcluster.PausedBy(o) != vcluster.PausedBy(n)
}

func ready(o client.Object) bool {
	switch w := o.(type) {
	case *appsv1.StatefulSet:
		return w.Status.ReadyReplicas > 0
	case *appsv1.Deployment:
		return w.Status.ReadyReplicas > 0
	}
	return false
}
