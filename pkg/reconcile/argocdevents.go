package reconcile

import (
	"context"
	"slices"
	"sync"

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
//
// The echo of a write can arrive before the write returns with its
// version (the API server sends watch events and the response apart): an
// event of a registration being written is held until the write returns,
// then dropped if it is the write's own version and replayed otherwise.
type ownWrites struct {
	mu sync.Mutex
	rv map[types.NamespacedName]string
	// inFlight holds the registrations being written.
	inFlight map[types.NamespacedName]*flight
	// replay carries held events that were not the writes' own, to the
	// controller; nil outside a manager.
	replay chan event.GenericEvent
}

// flight is a registration being written: by how many writers (a
// reconcile and the prober can write it at once), the versions those that
// returned wrote, and the last object the watch delivered meanwhile.
type flight struct {
	writers int
	own     []string
	held    client.Object
}

// begin marks registration key as being written. Call the returned
// function once the writes are over, with the versions they produced (none
// when they failed): it records the last as the registrar's and, once no
// write of key is under way, replays a held event of any other version.
func (w *ownWrites) begin(ctx context.Context, key types.NamespacedName) func(rvs ...string) {
	w.mu.Lock()
	if w.inFlight == nil {
		w.inFlight = map[types.NamespacedName]*flight{}
	}
	f := w.inFlight[key]
	if f == nil {
		f = &flight{}
		w.inFlight[key] = f
	}
	f.writers++
	w.mu.Unlock()
	return func(rvs ...string) {
		w.mu.Lock()
		if len(rvs) > 0 {
			if w.rv == nil {
				w.rv = map[types.NamespacedName]string{}
			}
			w.rv[key] = rvs[len(rvs)-1]
		}
		f.own = append(f.own, rvs...)
		f.writers--
		if f.writers > 0 {
			w.mu.Unlock()
			return
		}
		delete(w.inFlight, key)
		replay := w.replay
		w.mu.Unlock()
		if f.held == nil || slices.Contains(f.own, f.held.GetResourceVersion()) || replay == nil {
			return
		}
		select {
		case replay <- event.GenericEvent{Object: f.held}:
		case <-ctx.Done():
		}
	}
}

func (w *ownWrites) forget(key types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.rv, key)
}

// echo says whether o is exactly what the registrar last wrote, or is held
// because a write of it is under way.
func (w *ownWrites) echo(o client.Object) bool {
	key := client.ObjectKeyFromObject(o)
	w.mu.Lock()
	defer w.mu.Unlock()
	if f, writing := w.inFlight[key]; writing {
		f.held = o
		return true
	}
	rv, ok := w.rv[key]
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
	return p.refusals.blocks(client.ObjectKeyFromObject(o)) || !p.writes.echo(o)
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
