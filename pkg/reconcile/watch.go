package reconcile

import (
	"context"
	"maps"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// kubeconfigSecretIndex indexes vcluster workloads by the name of their
// kubeconfig Secret, so that a Secret event finds its vcluster even when an
// annotation names the Secret.
const kubeconfigSecretIndex = "registrar.kubeconfigSecret"

// CacheOptions narrow the manager's cache to what the registrar reads:
// workloads, Services and Secrets labelled app=vcluster, and in the Argo CD
// namespace only the Secrets the registrar owns. No cluster-wide cache of
// Secrets exists, so memory does not grow with unrelated Secrets. Managed
// fields are dropped from every cached object. With watchNamespaces, only
// those namespaces (and the Argo CD namespace) are watched, so the
// registrar needs no cluster-wide read access to Secrets.
func CacheOptions(argocdNamespace string, watchNamespaces ...string) cache.Options {
	vcluster := labels.SelectorFromSet(labels.Set{VClusterAppLabel: VClusterAppValue})
	ours := labels.SelectorFromSet(labels.Set{ManagedByLabel: ManagedByValue})
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
	// Set last: the Argo CD namespace may also be a watched namespace, and
	// there only our own Secrets are cached.
	secrets[argocdNamespace] = cache.Config{LabelSelector: ours}
	return cache.Options{
		DefaultNamespaces: defaults,
		DefaultTransform:  cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&appsv1.StatefulSet{}: {Label: vcluster},
			&appsv1.Deployment{}:  {Label: vcluster},
			&corev1.Service{}:     {Label: vcluster},
			&corev1.Secret{}:      {Namespaces: secrets},
		},
	}
}

// SetupWithManager registers the reconciler's watches, index and metrics.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	ctx := context.Background()
	for _, obj := range []client.Object{&appsv1.StatefulSet{}, &appsv1.Deployment{}} {
		if err := mgr.GetFieldIndexer().IndexField(ctx, obj, kubeconfigSecretIndex, func(o client.Object) []string {
			if !IsVCluster(o) {
				return nil
			}
			return []string{KubeconfigSecretName(o)}
		}); err != nil {
			return err
		}
	}
	registered.use(mgr.GetCache(), r.Options.ArgoCDNamespace)

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
			builder.WithPredicates(predicate.ResourceVersionChangedPredicate{})).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.namespaceRequests),
			builder.WithPredicates(predicate.Or(predicate.LabelChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Complete(r)
}

func workloadRequest(_ context.Context, o client.Object) []reconcile.Request {
	if !IsVCluster(o) {
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
// vanished while the registrar was down is pruned on start-up), and a
// kubeconfig Secret to the vclusters that read it.
func (r *Reconciler) secretRequests(ctx context.Context, o client.Object) []reconcile.Request {
	l := o.GetLabels()
	if o.GetNamespace() == r.Options.ArgoCDNamespace && l[ManagedByLabel] == ManagedByValue {
		ns, name := l[SourceNamespaceLabel], l[SourceNameLabel]
		if ns == "" || name == "" {
			return nil
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}}}
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
		if IsVCluster(o) {
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
// registration: creation, deletion, labels, annotations and readiness.
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
		ready(o) != ready(n)
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
