package reconcile

import (
	"context"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/metadata"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

var secretsResource = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}

// secretWatches follows kubeconfig Secrets the label-selected cache cannot
// see: those of vclusters older than 0.24, which wrote no labels, and
// custom-named ones. Each such Secret gets a watch of its own, selected by
// name and holding metadata only, so a rotation reaches its vcluster at
// once while memory grows with the number of such vclusters, not with the
// number of Secrets in the cluster.
type secretWatches struct {
	client metadata.Interface
	events chan event.GenericEvent

	mu sync.Mutex
	// ctx is the manager's; watches start only once it is set.
	ctx context.Context
	// bySecret holds a running watch and the vclusters that read the Secret.
	bySecret map[types.NamespacedName]*secretWatch
	// byVCluster is the Secret each vcluster is watched through.
	byVCluster map[types.NamespacedName]types.NamespacedName
}

type secretWatch struct {
	stop      context.CancelFunc
	vclusters map[types.NamespacedName]struct{}
}

func newSecretWatches(c metadata.Interface) *secretWatches {
	return &secretWatches{
		client:     c,
		events:     make(chan event.GenericEvent, 1024),
		bySecret:   map[types.NamespacedName]*secretWatch{},
		byVCluster: map[types.NamespacedName]types.NamespacedName{},
	}
}

// Start runs until ctx ends, then stops every watch. It is a manager
// Runnable that needs leader election: only the leader reconciles, and
// only reconciles start watches.
func (w *secretWatches) Start(ctx context.Context) error {
	w.mu.Lock()
	w.ctx = ctx
	w.mu.Unlock()
	<-ctx.Done()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, sw := range w.bySecret {
		sw.stop()
	}
	w.bySecret = map[types.NamespacedName]*secretWatch{}
	w.byVCluster = map[types.NamespacedName]types.NamespacedName{}
	return nil
}

// NeedLeaderElection implements manager.LeaderElectionRunnable.
func (w *secretWatches) NeedLeaderElection() bool { return true }

// ensure makes a change of Secret secret reach vcluster.
func (w *secretWatches) ensure(vcluster, secret types.NamespacedName) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ctx == nil {
		return
	}
	if old, ok := w.byVCluster[vcluster]; ok {
		if old == secret {
			return
		}
		w.releaseLocked(vcluster)
	}
	sw, ok := w.bySecret[secret]
	if !ok {
		sw = &secretWatch{vclusters: map[types.NamespacedName]struct{}{}}
		sw.stop = w.run(secret, sw)
		w.bySecret[secret] = sw
	}
	sw.vclusters[vcluster] = struct{}{}
	w.byVCluster[vcluster] = secret
}

// release stops following a vcluster's Secret, if it was followed.
func (w *secretWatches) release(vcluster types.NamespacedName) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.releaseLocked(vcluster)
}

func (w *secretWatches) releaseLocked(vcluster types.NamespacedName) {
	secret, ok := w.byVCluster[vcluster]
	if !ok {
		return
	}
	delete(w.byVCluster, vcluster)
	sw := w.bySecret[secret]
	delete(sw.vclusters, vcluster)
	if len(sw.vclusters) == 0 {
		sw.stop()
		delete(w.bySecret, secret)
	}
}

// run starts a metadata-only informer on one Secret by name.
func (w *secretWatches) run(secret types.NamespacedName, sw *secretWatch) context.CancelFunc {
	ctx, cancel := context.WithCancel(w.ctx)
	byName := fields.OneTermEqualSelector("metadata.name", secret.Name).String()
	res := w.client.Resource(secretsResource).Namespace(secret.Namespace)
	lw := &toolscache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = byName
			return res.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = byName
			return res.Watch(ctx, o)
		},
	}
	inf := toolscache.NewSharedIndexInformer(lw, &metav1.PartialObjectMetadata{}, 0, toolscache.Indexers{})
	notify := func() { w.notify(ctx, secret) }
	_, err := inf.AddEventHandler(toolscache.ResourceEventHandlerDetailedFuncs{
		// The initial list reports what the reconcile that started the
		// watch has just read: nothing new.
		AddFunc: func(_ any, initial bool) {
			if !initial {
				notify()
			}
		},
		UpdateFunc: func(o, n any) {
			if o.(*metav1.PartialObjectMetadata).ResourceVersion != n.(*metav1.PartialObjectMetadata).ResourceVersion {
				notify()
			}
		},
		DeleteFunc: func(any) { notify() },
	})
	if err != nil {
		log.FromContext(ctx).Error(err, "watching kubeconfig Secret", "secret", secret)
	}
	go inf.RunWithContext(ctx)
	return cancel
}

// notify enqueues every vcluster that reads secret.
func (w *secretWatches) notify(ctx context.Context, secret types.NamespacedName) {
	w.mu.Lock()
	var keys []types.NamespacedName
	if sw, ok := w.bySecret[secret]; ok {
		for k := range sw.vclusters {
			keys = append(keys, k)
		}
	}
	w.mu.Unlock()
	for _, k := range keys {
		obj := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: k.Namespace, Name: k.Name}}
		select {
		case w.events <- event.GenericEvent{Object: client.Object(obj)}:
		case <-ctx.Done():
			return
		}
	}
}
