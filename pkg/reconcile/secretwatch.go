package reconcile

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/metadata"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

var secretsResource = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}

// secretWatches follows kubeconfig Secrets the label-selected cache cannot
// see: those of vclusters older than 0.24, which wrote no labels, and
// custom-named ones. One watch of Secret metadata per watched namespace
// (one for the whole cluster by default) carries every Secret change; only
// those of followed Secrets are kept, as a name and a resource version, so
// a rotation reaches its vcluster at once while memory grows with the
// number of followed Secrets alone, not with the Secrets of the cluster.
// The watch starts with the first followed Secret: a fleet whose
// kubeconfig Secrets all carry vcluster's labels never opens it.
type secretWatches struct {
	client metadata.Interface
	// namespaces are those watched; "" is every namespace.
	namespaces []string
	events     chan event.GenericEvent
	// pageSize bounds how many Secrets' metadata a list holds at once.
	pageSize int64

	mu sync.Mutex
	// ctx is the manager's; watches start only once it is set.
	ctx     context.Context
	started bool
	// bySecret holds what is known of each followed Secret.
	bySecret map[types.NamespacedName]*followed
	// byVCluster is the Secret each vcluster is followed through.
	byVCluster map[types.NamespacedName]types.NamespacedName
	// told is, per watched namespace, the resource version up to which
	// every change has been told: set once its first list is done.
	told map[string]string
}

// followed is a followed Secret: the resource version last seen ("" when
// unknown, deleted when it is gone) and the vclusters that read it.
type followed struct {
	rv        string
	vclusters map[types.NamespacedName]struct{}
}

const deleted = "deleted"

func newSecretWatches(c metadata.Interface, namespaces []string) *secretWatches {
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	return &secretWatches{
		client:     c,
		namespaces: namespaces,
		events:     make(chan event.GenericEvent, 1024),
		pageSize:   500,
		bySecret:   map[types.NamespacedName]*followed{},
		byVCluster: map[types.NamespacedName]types.NamespacedName{},
		told:       map[string]string{},
	}
}

// Start runs until ctx ends, which stops the watches. It is a manager
// Runnable that needs leader election: only the leader reconciles, and
// only reconciles follow Secrets.
func (w *secretWatches) Start(ctx context.Context) error {
	w.mu.Lock()
	w.ctx = ctx
	w.mu.Unlock()
	<-ctx.Done()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.bySecret = map[types.NamespacedName]*followed{}
	w.byVCluster = map[types.NamespacedName]types.NamespacedName{}
	w.told = map[string]string{}
	return nil
}

// NeedLeaderElection implements manager.LeaderElectionRunnable.
func (w *secretWatches) NeedLeaderElection() bool { return true }

// ensure makes a change of Secret secret reach vcluster. Call it before
// reading the Secret, so that no change after the read goes unseen.
func (w *secretWatches) ensure(vcluster, secret types.NamespacedName) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ctx == nil {
		return
	}
	if !w.started {
		w.started = true
		for _, ns := range w.namespaces {
			go w.follow(w.ctx, ns)
		}
	}
	if old, ok := w.byVCluster[vcluster]; ok {
		if old == secret {
			return
		}
		w.releaseLocked(vcluster)
	}
	f, ok := w.bySecret[secret]
	if !ok {
		f = &followed{vclusters: map[types.NamespacedName]struct{}{}}
		w.bySecret[secret] = f
	}
	f.vclusters[vcluster] = struct{}{}
	w.byVCluster[vcluster] = secret
}

// observed records the resource version of a followed Secret as a
// reconcile read it ("" when it does not exist), so that the watch event
// of that very version starts no second reconcile.
func (w *secretWatches) observed(secret types.NamespacedName, rv string) {
	if w == nil {
		return
	}
	if rv == "" {
		rv = deleted
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if f, ok := w.bySecret[secret]; ok {
		f.rv = rv
	}
}

// freshAs is the resource version a read of followed Secret secret may be
// served at from the API server's watch cache instead of etcd: every
// change up to it has been told, and every later one will be, so a read at
// least that fresh misses nothing. It is "" until the watch of the
// Secret's namespace has listed once: read from etcd then.
func (w *secretWatches) freshAs(secret types.NamespacedName) string {
	if w == nil {
		return ""
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if rv, ok := w.told[metav1.NamespaceAll]; ok {
		return rv
	}
	return w.told[secret.Namespace]
}

// tell records that every change of namespace ns up to resource version
// rv has been told.
func (w *secretWatches) tell(ns, rv string) {
	if rv == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.told[ns] = rv
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
	f := w.bySecret[secret]
	delete(f.vclusters, vcluster)
	if len(f.vclusters) == 0 {
		delete(w.bySecret, secret)
	}
}

// follow lists, then watches, the Secret metadata of namespace ns until ctx
// ends; it lists again when the watch cannot resume.
func (w *secretWatches) follow(ctx context.Context, ns string) {
	logger := log.FromContext(ctx).WithValues("namespace", ns)
	res := w.client.Resource(secretsResource).Namespace(ns)
	backoff := time.Second
	for ctx.Err() == nil {
		began := time.Now()
		rv, n, err := w.list(ctx, res, ns)
		if err == nil {
			logger.Info("listed Secret metadata to follow unlabelled kubeconfig Secrets", "secrets", n, "took", time.Since(began).Round(time.Millisecond))
		}
		for err == nil && ctx.Err() == nil {
			backoff = time.Second
			rv, err = w.watch(ctx, res, ns, rv)
		}
		if ctx.Err() != nil {
			return
		}
		if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			logger.Info("the watch of Secret metadata can no longer resume; listing again", "reason", err.Error())
		} else {
			logger.Error(err, "watching Secret metadata for unlabelled kubeconfig Secrets; retrying", "after", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Minute)
		}
	}
}

// list reads the Secret metadata of res page by page, telling the
// vclusters of every followed Secret whose version differs from the one
// last seen, or that is gone. It returns the list's resource version and
// how many Secrets it held.
func (w *secretWatches) list(ctx context.Context, res metadata.ResourceInterface, ns string) (string, int, error) {
	seen := map[types.NamespacedName]bool{}
	opts := metav1.ListOptions{Limit: w.pageSize}
	n := 0
	for {
		page, err := res.List(ctx, opts)
		if err != nil {
			return "", n, fmt.Errorf("listing Secret metadata: %w", err)
		}
		n += len(page.Items)
		for i := range page.Items {
			m := &page.Items[i]
			key := types.NamespacedName{Namespace: m.Namespace, Name: m.Name}
			seen[key] = true
			w.changed(ctx, key, m.ResourceVersion)
		}
		if page.Continue == "" {
			w.gone(ctx, seen, ns)
			w.tell(ns, page.ResourceVersion)
			return page.ResourceVersion, n, nil
		}
		opts.Continue = page.Continue
	}
}

// gone tells the vclusters of every followed Secret of namespace ns ("":
// all) that the list did not hold and that was last seen to exist.
func (w *secretWatches) gone(ctx context.Context, seen map[types.NamespacedName]bool, ns string) {
	w.mu.Lock()
	var missing []types.NamespacedName
	for key, f := range w.bySecret {
		inList := ns == metav1.NamespaceAll || key.Namespace == ns
		if inList && !seen[key] && f.rv != deleted && f.rv != "" {
			missing = append(missing, key)
		}
	}
	w.mu.Unlock()
	for _, key := range missing {
		w.changed(ctx, key, deleted)
	}
}

// watch follows res from resource version rv until the watch ends, and
// returns the last resource version seen; an error says the watch could
// not go on (an expired version: list again).
func (w *secretWatches) watch(ctx context.Context, res metadata.ResourceInterface, ns, rv string) (string, error) {
	// A watch ends after a while, as client-go's reflector ends it, so that
	// a connection the load balancer dropped silently is noticed.
	timeout := int64((5*time.Minute + rand.N(5*time.Minute)).Seconds())
	wi, err := res.Watch(ctx, metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true, TimeoutSeconds: &timeout})
	if err != nil {
		return rv, fmt.Errorf("watching Secret metadata: %w", err)
	}
	defer wi.Stop()
	for {
		select {
		case <-ctx.Done():
			return rv, nil
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return rv, nil
			}
			if ev.Type == watch.Error {
				return rv, apierrors.FromObject(ev.Object)
			}
			m, ok := ev.Object.(*metav1.PartialObjectMetadata)
			if !ok {
				return rv, errors.New("watching Secret metadata: unexpected object in the watch")
			}
			rv = m.ResourceVersion
			key := types.NamespacedName{Namespace: m.Namespace, Name: m.Name}
			switch ev.Type {
			case watch.Added, watch.Modified:
				w.changed(ctx, key, m.ResourceVersion)
			case watch.Deleted:
				w.changed(ctx, key, deleted)
			}
			w.tell(ns, rv)
		}
	}
}

// changed records version rv of Secret key, if it is followed, and tells
// its vclusters when that is news.
func (w *secretWatches) changed(ctx context.Context, key types.NamespacedName, rv string) {
	w.mu.Lock()
	f, ok := w.bySecret[key]
	if !ok || f.rv == rv {
		w.mu.Unlock()
		return
	}
	f.rv = rv
	keys := make([]types.NamespacedName, 0, len(f.vclusters))
	for k := range f.vclusters {
		keys = append(keys, k)
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
