package integration

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/reconcile"
	"github.com/registrar-dev/registrar/test/fixture"
)

// The tests of this file prove the rule the rest rests on: a registration
// is removed only on positive proof that its vcluster is gone (NotFound for
// both workload kinds, from the API server itself), never because a
// label-filtered cache no longer holds the workload, and never on a failed
// read.

// workloadsHidden is a cache that does not hold key's StatefulSet or
// Deployment: one that lags behind the API server, or whose label selector
// no longer matches.
type workloadsHidden struct {
	client.Client
	key types.NamespacedName
}

func (c workloadsHidden) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if key == c.key {
		switch obj.(type) {
		case *appsv1.StatefulSet:
			return apierrors.NewNotFound(schema.GroupResource{Group: "apps", Resource: "statefulsets"}, key.Name)
		case *appsv1.Deployment:
			return apierrors.NewNotFound(schema.GroupResource{Group: "apps", Resource: "deployments"}, key.Name)
		}
	}
	return c.Client.Get(ctx, key, obj, opts...)
}

// failingWorkloadReads makes the API server's answer for a workload kind an
// error while fail is set, and counts the failed reads.
type failingWorkloadReads struct {
	client.Reader
	kinds  func(client.Object) bool
	fail   atomic.Bool
	failed atomic.Int64
}

func (r *failingWorkloadReads) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if r.fail.Load() && r.kinds(obj) {
		r.failed.Add(1)
		return apierrors.NewServiceUnavailable("injected: the API server cannot answer")
	}
	return r.Reader.Get(ctx, key, obj, opts...)
}

func anyWorkload(obj client.Object) bool {
	switch obj.(type) {
	case *appsv1.StatefulSet, *appsv1.Deployment:
		return true
	}
	return false
}

func deploymentsOnly(obj client.Object) bool {
	_, ok := obj.(*appsv1.Deployment)
	return ok
}

// staleRegistration is a cache whose copy of every Argo CD cluster Secret
// carries another UID: the Secret was deleted and recreated after the
// cache last saw it.
type staleRegistration struct {
	client.Client
	argocd string
}

func (c staleRegistration) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if err := c.Client.Get(ctx, key, obj, opts...); err != nil {
		return err
	}
	if _, ok := obj.(*corev1.Secret); ok && key.Namespace == c.argocd {
		obj.SetUID("00000000-0000-0000-0000-000000000000")
	}
	return nil
}

// reconcileWith runs one reconcile of key with e's options, reading through
// cached and live instead of the running registrar's cache and API reader.
func (e *env) reconcileWith(cached client.Client, live client.Reader, key types.NamespacedName) (ctrl.Result, error) {
	e.t.Helper()
	return reconcileOnce(cached, live, e.reconciler.Options, key)
}

// reconcileOnce runs one reconcile of key by a reconciler that is not set
// up with a manager: cached and live stand in for its cache and API reader.
func reconcileOnce(cached client.Client, live client.Reader, opts reconcile.Options, key types.NamespacedName) (ctrl.Result, error) {
	r := &reconcile.Reconciler{
		Client:    cached,
		APIReader: live,
		Recorder:  events.NewFakeRecorder(100),
		Options:   opts,
	}
	return r.Reconcile(context.Background(), ctrl.Request{NamespacedName: key})
}

func TestKeepsRegistrationWhenVClusterLabelRemoved(t *testing.T) {
	e, ns := newEnvIn(t, "vc")
	vc := e.newVCluster(ns, "sandbox")
	registered := e.eventuallyRegistered(ns, "sandbox")

	// A user, a Helm upgrade or a chart bug drops app=vcluster: the workload
	// leaves the cache but still exists.
	sts := vc.StatefulSet()
	e.update(sts, func() { delete(sts.Labels, "app") })
	kept := func() bool {
		s := e.registration(ns, "sandbox")
		return s != nil && s.UID == registered.UID
	}
	e.consistently("the registration is kept", 2*time.Second, kept)

	// Nor does a restart, whose start-up prune visits every registration,
	// take the missing label for a deletion.
	e.stop()
	e.start()
	e.consistently("the registration is kept across a restart", 2*time.Second, kept)

	// Deleting the unlabelled workload is proof: the next visit prunes it.
	e.delete(sts)
	e.stop()
	e.start()
	e.eventuallyDeregistered(ns, "sandbox")
}

func TestKeepsRegistrationWhileCacheLags(t *testing.T) {
	e, ns := newEnvIn(t, "vc")
	e.newVCluster(ns, "sandbox")
	registered := e.eventuallyRegistered(ns, "sandbox")
	key := types.NamespacedName{Namespace: ns, Name: "sandbox"}

	res, err := e.reconcileWith(workloadsHidden{e.reconciler.Client, key}, e.reconciler.APIReader, key)
	if err != nil {
		t.Fatalf("reconcile with a lagging cache: %v", err)
	}
	if res.RequeueAfter <= 0 {
		t.Errorf("result %+v: a lagging cache must be looked at again", res)
	}
	if s := e.registration(ns, "sandbox"); s == nil || s.UID != registered.UID {
		t.Fatal("the registration was removed although its vcluster exists")
	}
}

func TestKeepsRegistrationWhenDeploymentOfSameNameRemains(t *testing.T) {
	e, ns := newEnvIn(t, "vc")
	vc := e.newVCluster(ns, "sandbox")
	registered := e.eventuallyRegistered(ns, "sandbox")
	key := types.NamespacedName{Namespace: ns, Name: "sandbox"}

	// The vcluster moves from a StatefulSet to a Deployment (persistence
	// turned off): the StatefulSet's NotFound alone is no proof.
	dep := vc.Deployment()
	e.create(dep)
	e.setReady(dep, 1)
	e.delete(vc.StatefulSet())
	res, err := e.reconcileWith(workloadsHidden{e.reconciler.Client, key}, e.reconciler.APIReader, key)
	if err != nil || res.RequeueAfter <= 0 {
		t.Errorf("reconcile with the workload not yet cached: result %+v, error %v; want a requeue", res, err)
	}
	e.eventually("the registration follows the Deployment", func() bool {
		s := e.registration(ns, "sandbox")
		if s == nil {
			t.Fatal("the registration was removed although a Deployment of the vcluster exists")
		}
		return s.Annotations[api.SourceKindAnnotation] == "Deployment"
	})
	if e.registration(ns, "sandbox").UID != registered.UID {
		t.Error("the registration was replaced instead of updated")
	}

	// Both kinds gone: deleted.
	e.delete(dep)
	e.eventuallyDeregistered(ns, "sandbox")
}

func TestRetriesWhenLiveReadFails(t *testing.T) {
	e := newWorld(t)
	failing := &failingWorkloadReads{kinds: anyWorkload}
	e.wrapAPIReader = func(r client.Reader) client.Reader {
		failing.Reader = r
		return failing
	}
	e.start()
	ns := e.createNamespace("vc", true)
	vc := e.newVCluster(ns, "sandbox")
	e.eventuallyRegistered(ns, "sandbox")

	failing.fail.Store(true)
	e.delete(vc.StatefulSet())
	e.consistently("the registration is kept while the proof cannot be read", 3*time.Second, func() bool {
		return e.registration(ns, "sandbox") != nil
	})
	if n := failing.failed.Load(); n < 2 {
		t.Errorf("the live read was tried %d times; a failed proof must be retried", n)
	}
	failing.fail.Store(false)
	e.eventuallyDeregistered(ns, "sandbox")
}

// goneWhileStopped registers a vcluster, stops the registrar and deletes
// the vcluster's StatefulSet: the vcluster is gone and nothing saw it go.
// It returns the vcluster's namespace and key.
func (e *env) goneWhileStopped() (string, types.NamespacedName) {
	e.t.Helper()
	ns := e.createNamespace("vc", true)
	vc := e.newVCluster(ns, "sandbox")
	e.eventuallyRegistered(ns, "sandbox")
	e.stop()
	e.delete(vc.StatefulSet())
	return ns, types.NamespacedName{Namespace: ns, Name: "sandbox"}
}

func TestKeepsRegistrationWhenDeploymentReadFails(t *testing.T) {
	e := newEnv(t)
	ns, key := e.goneWhileStopped()

	// The StatefulSet answers NotFound, the Deployment cannot be read.
	failing := &failingWorkloadReads{Reader: k8sClient, kinds: deploymentsOnly}
	failing.fail.Store(true)
	if _, err := e.reconcileWith(k8sClient, failing, key); err == nil {
		t.Error("reconcile succeeded although half of the proof could not be read")
	}
	if failing.failed.Load() == 0 {
		t.Fatal("the Deployment was never read: the proof was not asked for")
	}
	if e.registration(ns, "sandbox") == nil {
		t.Fatal("the registration was removed without proof")
	}
}

func TestDeletesOnProofOnlyTheSecretItRead(t *testing.T) {
	e := newEnv(t)
	ns, key := e.goneWhileStopped()

	// Proof that the vcluster is gone, but the Secret in the cache is not
	// the one in the API server: the delete is conditional on its UID.
	if _, err := e.reconcileWith(staleRegistration{k8sClient, e.argocd}, k8sClient, key); err == nil {
		t.Error("reconcile succeeded although the delete's UID precondition failed")
	}
	if e.registration(ns, "sandbox") == nil {
		t.Fatal("a Secret other than the one read was deleted: the UID precondition is missing")
	}

	if _, err := e.reconcileWith(k8sClient, k8sClient, key); err != nil {
		t.Fatal(err)
	}
	if e.registration(ns, "sandbox") != nil {
		t.Error("both workload kinds are NotFound, yet the registration was kept")
	}
}

func TestDeregistersWhenDeploymentDeleted(t *testing.T) {
	e, ns := newEnvIn(t, "vc")
	vc := e.newVCluster(ns, "nopersist", fixture.NotReady())
	e.delete(vc.StatefulSet())
	dep := vc.Deployment()
	e.create(dep)
	e.setReady(dep, 1)
	e.eventuallyRegistered(ns, "nopersist")
	e.delete(dep)
	e.eventuallyDeregistered(ns, "nopersist")
}

// failingWrites is a client whose creates and server-side applies fail.
type failingWrites struct{ client.Client }

func (failingWrites) Create(context.Context, client.Object, ...client.CreateOption) error {
	return apierrors.NewServiceUnavailable("injected: the API server cannot answer")
}

func (failingWrites) Apply(context.Context, runtime.ApplyConfiguration, ...client.ApplyOption) error {
	return apierrors.NewServiceUnavailable("injected: the API server cannot answer")
}

// A write that fails is an error of the reconcile, so it is retried, never
// taken for done.
func TestFailedWriteIsAnError(t *testing.T) {
	e := newEnv(t)
	// Untrusted by the running registrar, which leaves it alone; trusted by
	// the reconciler below, which has no namespace selector.
	ns := e.createNamespace("vc", false)
	e.newVCluster(ns, "sandbox")
	key := types.NamespacedName{Namespace: ns, Name: "sandbox"}
	opts := e.reconciler.Options
	opts.NamespaceSelector = nil
	var result ctrl.Result
	var err error
	fixture.Eventually(t, "the vcluster is in the cache", func() bool {
		result, err = reconcileOnce(failingWrites{e.reconciler.Client}, e.reconciler.APIReader, opts, key)
		return err != nil || result.RequeueAfter > 0
	})
	if !apierrors.IsServiceUnavailable(err) {
		t.Errorf("reconcile with a failing write: %v; want the write's error", err)
	}
	if e.registration(ns, "sandbox") != nil {
		t.Error("registered although the write failed")
	}
}
