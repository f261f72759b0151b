package reconcile

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// ownWrites remembers the resource version of the registrar's last write of
// each registration. The watch event of that write tells the reconciler
// nothing it does not know, so it starts no second reconcile; any other
// version (a hand edit, a deletion) does.
type ownWrites struct {
	mu sync.Mutex
	rv map[types.NamespacedName]string
}

func (w *ownWrites) record(s *corev1.Secret) {
	w.recordVersion(client.ObjectKeyFromObject(s), s.ResourceVersion)
}

func (w *ownWrites) recordVersion(key types.NamespacedName, rv string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.rv == nil {
		w.rv = map[types.NamespacedName]string{}
	}
	w.rv[key] = rv
}

func (w *ownWrites) forget(key types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.rv, key)
}

// echo says whether o is exactly what the registrar last wrote.
func (w *ownWrites) echo(o client.Object) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	rv, ok := w.rv[client.ObjectKeyFromObject(o)]
	return ok && rv == o.GetResourceVersion()
}

// notOwnWrite passes Secret events other than resyncs and the echo of the
// registrar's own writes, unless that write may end a refusal. Deletions
// always pass.
type notOwnWrite struct {
	predicate.Funcs
	writes   *ownWrites
	refusals *refusals
}

func (p notOwnWrite) Create(e event.CreateEvent) bool { return p.news(e.Object) }

func (p notOwnWrite) Update(e event.UpdateEvent) bool {
	return e.ObjectOld.GetResourceVersion() != e.ObjectNew.GetResourceVersion() && p.news(e.ObjectNew)
}

func (p notOwnWrite) news(o client.Object) bool {
	return !p.writes.echo(o) || p.refusals.blocks(client.ObjectKeyFromObject(o))
}

// refusals remember which vclusters another Secret keeps from being
// registered (it holds their registration's name, cluster name or server),
// so that its change or deletion reconciles them at once rather than at the
// next resync.
type refusals struct {
	mu sync.Mutex
	by map[types.NamespacedName]map[types.NamespacedName]struct{}
}

func (r *refusals) add(blocker, vcluster types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.by == nil {
		r.by = map[types.NamespacedName]map[types.NamespacedName]struct{}{}
	}
	if r.by[blocker] == nil {
		r.by[blocker] = map[types.NamespacedName]struct{}{}
	}
	r.by[blocker][vcluster] = struct{}{}
}

// blocks says whether blocker keeps a vcluster from being registered.
func (r *refusals) blocks(blocker types.NamespacedName) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.by[blocker]) > 0
}

// take returns the vclusters blocker kept out and forgets them: a
// reconcile that is refused again records them anew.
func (r *refusals) take(blocker types.NamespacedName) []reconcile.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	var reqs []reconcile.Request
	for vc := range r.by[blocker] {
		reqs = append(reqs, reconcile.Request{NamespacedName: vc})
	}
	delete(r.by, blocker)
	return reqs
}
