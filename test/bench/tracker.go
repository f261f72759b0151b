package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/registrar-dev/registrar/pkg/api"
)

// tracker watches the registrations in one Argo CD namespace and stamps
// each add, change and delete with the time the watch delivered it, so
// latencies come from the API server's own event stream rather than from
// polling.
type tracker struct {
	mu      sync.Mutex
	objs    map[string]*corev1.Secret
	addedAt map[string]time.Time
	// versions are the versions of each registration the watch delivered,
	// in order, each with the time it arrived.
	versions  map[string][]version
	deletedAt map[string]time.Time
	updates   int
	notify    chan struct{}
	cancel    context.CancelFunc
}

func startTracker(ctx context.Context, cs kubernetes.Interface, namespace string) (*tracker, error) {
	t := &tracker{
		objs: map[string]*corev1.Secret{}, addedAt: map[string]time.Time{},
		versions: map[string][]version{}, deletedAt: map[string]time.Time{},
		notify: make(chan struct{}, 1),
	}
	selector := labels.SelectorFromSet(labels.Set{api.ManagedByLabel: api.ManagedByValue}).String()
	lw := toolscache.NewFilteredListWatchFromClient(cs.CoreV1().RESTClient(), "secrets", namespace,
		func(o *metav1.ListOptions) { o.LabelSelector = selector })
	_, ctl := toolscache.NewInformerWithOptions(toolscache.InformerOptions{
		ListerWatcher: lw,
		ObjectType:    &corev1.Secret{},
		Handler: toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { t.record(o, false) },
			UpdateFunc: func(_, o any) { t.record(o, false) },
			DeleteFunc: func(o any) { t.record(o, true) },
		},
	})
	ctx, t.cancel = context.WithCancel(ctx)
	go ctl.RunWithContext(ctx)
	if !toolscache.WaitForCacheSync(ctx.Done(), ctl.HasSynced) {
		t.cancel()
		return nil, fmt.Errorf("watch of registrations in %s did not sync", namespace)
	}
	return t, nil
}

func (t *tracker) stop() {
	if t != nil {
		t.cancel()
	}
}

func (t *tracker) record(o any, deleted bool) {
	now := time.Now()
	if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	s, ok := o.(*corev1.Secret)
	if !ok {
		return
	}
	t.mu.Lock()
	switch {
	case deleted:
		delete(t.objs, s.Name)
		t.deletedAt[s.Name] = now
	case t.objs[s.Name] == nil:
		t.objs[s.Name] = s
		t.addedAt[s.Name] = now
		t.versions[s.Name] = []version{{s, now}}
		delete(t.deletedAt, s.Name)
	default:
		if t.objs[s.Name].ResourceVersion != s.ResourceVersion {
			t.updates++
			t.versions[s.Name] = append(t.versions[s.Name], version{s, now})
		}
		t.objs[s.Name] = s
	}
	t.mu.Unlock()
	select {
	case t.notify <- struct{}{}:
	default:
	}
}

// wait polls cond, under the tracker's lock, after every event until it
// holds or timeout passes.
func (t *tracker) wait(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		t.mu.Lock()
		ok := cond()
		t.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-t.notify:
		case <-time.After(50 * time.Millisecond):
		case <-deadline.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// waitPresent waits until every name is registered and returns when the
// last of them appeared.
func (t *tracker) waitPresent(ctx context.Context, names []string, timeout time.Duration) (time.Time, error) {
	return t.waitEach(ctx, names, timeout, "present", func(n string) (bool, time.Time) {
		return t.objs[n] != nil, t.addedAt[n]
	})
}

// waitGone waits until none of names is registered and returns when the
// last of them was deleted.
func (t *tracker) waitGone(ctx context.Context, names []string, timeout time.Duration) (time.Time, error) {
	return t.waitEach(ctx, names, timeout, "still present", func(n string) (bool, time.Time) {
		return t.objs[n] == nil, t.deletedAt[n]
	})
}

// waitEach waits until done holds for every name, under the tracker's
// lock, and returns the latest of the times done gave. At the timeout the
// error counts the registrations present, described as present.
func (t *tracker) waitEach(ctx context.Context, names []string, timeout time.Duration, present string, done func(name string) (bool, time.Time)) (time.Time, error) {
	var last time.Time
	ok := t.wait(ctx, timeout, func() bool {
		last = time.Time{}
		for _, n := range names {
			ok, at := done(n)
			if !ok {
				return false
			}
			last = later(last, at)
		}
		return true
	})
	if !ok {
		return time.Time{}, fmt.Errorf("%d of %d registrations %s after %s", t.count(names), len(names), present, timeout)
	}
	return last, nil
}

// version is one version of a registration and when the watch delivered
// it.
type version struct {
	s  *corev1.Secret
	at time.Time
}

// waitData waits until registration name satisfies has and returns when
// the first version that does arrived (a later change, a probe result
// say, does not count); ok is false at the timeout.
func (t *tracker) waitData(ctx context.Context, name string, timeout time.Duration, has func(*corev1.Secret) bool) (time.Time, bool) {
	var at time.Time
	ok := t.wait(ctx, timeout, func() bool {
		if t.objs[name] == nil {
			return false
		}
		for _, v := range t.versions[name] {
			if has(v.s) {
				at = v.at
				return true
			}
		}
		return false
	})
	return at, ok
}

// addedTimes returns when each of names was first registered.
func (t *tracker) addedTimes(names []string) []time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]time.Time, len(names))
	for i, n := range names {
		out[i] = t.addedAt[n]
	}
	return out
}

// updateCount is the number of changed registrations the watch delivered:
// writes by anyone that changed a stored object.
func (t *tracker) updateCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.updates
}

func (t *tracker) count(names []string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, name := range names {
		if t.objs[name] != nil {
			n++
		}
	}
	return n
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
