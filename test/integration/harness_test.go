package integration

import (
	"context"
	"encoding/base64"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/registrar-dev/registrar/pkg/reconcile"
	"github.com/registrar-dev/registrar/pkg/registration"
	"github.com/registrar-dev/registrar/test/fixture"
)

// testLabel marks the namespaces a test's registrar trusts, through its
// namespace selector, so that tests running side by side never see each
// other's vclusters.
const testLabel = "registrar-test"

const timeout = 20 * time.Second

// env is one test's world: its Argo CD namespace, its trusted namespaces
// and its running registrar.
type env struct {
	t          *testing.T
	id         string
	argocd     string
	reconciler *reconcile.Reconciler
	stop       func()
	// watchNamespaces, if set before start, narrows the registrar's cache
	// as --watch-namespaces does.
	watchNamespaces []string
	// wrapAPIReader, if set before start, stands between the registrar and
	// its live reads from the API server, to inject failures.
	wrapAPIReader func(client.Reader) client.Reader
	// registry holds the metrics of the running registrar.
	registry *prometheus.Registry
	// writes counts the requests of the registrar that change something in
	// the API server (create, update, patch, delete), events included.
	writes atomic.Int64
	// registrationReads counts the registrar's reads of single Secrets in
	// its Argo CD namespace, which its cache should make needless.
	registrationReads atomic.Int64
	// etcdSecretReads counts the registrar's reads of single Secrets
	// outside its Argo CD namespace that the API server serves from etcd
	// (no resourceVersion), not from its watch cache.
	etcdSecretReads atomic.Int64
}

// newEnv creates the test's Argo CD namespace and starts a registrar.
func newEnv(t *testing.T, configure ...func(*reconcile.Options)) *env {
	t.Helper()
	e := newWorld(t)
	e.start(configure...)
	return e
}

// newEnvIn is newEnv with a namespace prefix-<id> that its registrar
// trusts, for the test's vclusters.
func newEnvIn(t *testing.T, prefix string) (*env, string) {
	t.Helper()
	e := newEnv(t)
	return e, e.createNamespace(prefix, true)
}

// newWorld creates the test's Argo CD namespace and starts no registrar.
func newWorld(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, id: fixture.RandomID(), stop: func() {}}
	e.argocd = e.createNamespace("argocd", false)
	return e
}

// start runs a registrar (manager, cache, SetupWithManager) until stop.
func (e *env) start(configure ...func(*reconcile.Options)) {
	t := e.t
	t.Helper()
	e.registry = prometheus.NewRegistry()
	opts := reconcile.Options{
		ArgoCDNamespaces:  []string{e.argocd},
		NamespaceSelector: labels.SelectorFromSet(labels.Set{testLabel: e.id}),
		Registry:          e.registry,
		WatchNamespaces:   e.watchNamespaces,
		// The fixture's certificates live for a day: warn only within the
		// last hour, so that expiry events appear only where a test asks.
		ExpiryWarning: time.Hour,
	}
	for _, c := range configure {
		c(&opts)
	}
	mgr, err := ctrl.NewManager(e.countingConfig(), ctrl.Options{
		Scheme:  scheme.Scheme,
		Cache:   reconcile.CacheOptions(opts.ArgoCDNamespaces, e.watchNamespaces...),
		Metrics: metricsserver.Options{BindAddress: "0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	apiReader := mgr.GetAPIReader()
	if e.wrapAPIReader != nil {
		apiReader = e.wrapAPIReader(apiReader)
	}
	e.reconciler = &reconcile.Reconciler{
		Client:    mgr.GetClient(),
		APIReader: apiReader,
		Recorder:  mgr.GetEventRecorder("registrar"),
		Options:   opts,
	}
	if err := e.reconciler.SetupWithManager(mgr, controller.Options{SkipNameValidation: ptr.To(true)}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	e.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("registrar stopped with an error: %v", err)
		}
		e.stop = func() {}
	}
	t.Cleanup(func() { e.stop() })
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		t.Fatal("cache did not sync")
	}
}

// countingConfig is the suite's rest.Config with a transport that counts
// the registrar's writes in e.writes, as the API server sees them.
func (e *env) countingConfig() *rest.Config {
	c := rest.CopyConfig(cfg)
	c.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			switch req.Method {
			case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
				e.writes.Add(1)
			case http.MethodGet:
				switch {
				case strings.HasPrefix(req.URL.Path, "/api/v1/namespaces/"+e.argocd+"/secrets/"):
					e.registrationReads.Add(1)
				case singleSecret.MatchString(req.URL.Path) && req.URL.Query().Get("resourceVersion") == "":
					e.etcdSecretReads.Add(1)
				}
			}
			return rt.RoundTrip(req)
		})
	}
	return c
}

// singleSecret matches the path of one namespaced Secret.
var singleSecret = regexp.MustCompile(`^/api/v1/namespaces/[^/]+/secrets/[^/]+$`)

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// createNamespace makes a namespace named prefix-<id>, trusted by this
// test's registrar if trusted is true.
func (e *env) createNamespace(prefix string, trusted bool) string {
	e.t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: prefix + "-" + e.id}}
	if trusted {
		ns.Labels = map[string]string{testLabel: e.id}
	}
	e.create(ns)
	return ns.Name
}

func (e *env) create(obj client.Object) {
	e.t.Helper()
	if err := k8sClient.Create(context.Background(), obj); err != nil {
		e.t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// newVCluster writes a vcluster's objects into ns as vcluster does, the
// workload ready unless opts say otherwise (fixture.Option).
func (e *env) newVCluster(ns, name string, opts ...fixture.Option) *fixture.VCluster {
	e.t.Helper()
	return createVCluster(e.t, k8sClient, ns, name, opts...)
}

func createVCluster(t *testing.T, c client.Client, ns, name string, opts ...fixture.Option) *fixture.VCluster {
	t.Helper()
	vc, err := fixture.NewVCluster(name, ns, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vc.Create(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return vc
}

// kubeconfigSecret is vc's kubeconfig Secret as vcluster writes it.
func (e *env) kubeconfigSecret(vc *fixture.VCluster) *corev1.Secret {
	e.t.Helper()
	s, err := vc.KubeconfigSecret()
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// rotate gives vc a new client certificate in its kubeconfig Secret.
func (e *env) rotate(vc *fixture.VCluster) {
	e.t.Helper()
	if err := vc.Rotate(context.Background(), k8sClient); err != nil {
		e.t.Fatal(err)
	}
}

// setReady sets the ready replicas of a workload's status, as the
// StatefulSet or Deployment controller of a real cluster would.
func (e *env) setReady(obj client.Object, ready int32) {
	e.t.Helper()
	if err := fixture.SetReady(context.Background(), k8sClient, obj, ready); err != nil {
		e.t.Fatal(err)
	}
}

// registration reads the Argo CD cluster Secret of vcluster ns/name, or nil.
func (e *env) registration(ns, name string) *corev1.Secret {
	e.t.Helper()
	return e.registrationIn(e.argocd, ns, name)
}

// registrationIn reads the Argo CD cluster Secret of vcluster ns/name in
// Argo CD namespace argocd, or nil.
func (e *env) registrationIn(argocd, ns, name string) *corev1.Secret {
	e.t.Helper()
	var s corev1.Secret
	err := k8sClient.Get(context.Background(), types.NamespacedName{Namespace: argocd, Name: registration.SecretName(ns, name)}, &s)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return &s
}

// eventually polls cond until it holds or the suite's timeout passes.
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	fixture.Eventually(e.t, what, cond, fixture.Within(timeout))
}

// consistently checks that cond holds for the whole of d.
func (e *env) consistently(what string, d time.Duration, cond func() bool) {
	e.t.Helper()
	fixture.Consistently(e.t, what, d, cond)
}

func (e *env) eventuallyRegistered(ns, name string) *corev1.Secret {
	e.t.Helper()
	var s *corev1.Secret
	e.eventually("vcluster "+ns+"/"+name+" is registered", func() bool {
		s = e.registration(ns, name)
		return s != nil
	})
	return s
}

func (e *env) eventuallyDeregistered(ns, name string) {
	e.t.Helper()
	e.eventually("vcluster "+ns+"/"+name+" is deregistered", func() bool { return e.registration(ns, name) == nil })
}

func (e *env) neverRegistered(ns, name string) {
	e.t.Helper()
	e.consistently("vcluster "+ns+"/"+name+" is not registered", 2*time.Second, func() bool {
		return e.registration(ns, name) == nil
	})
}

// eventuallyEvent waits for an event of reason about obj, returning its note.
func (e *env) eventuallyEvent(obj client.Object, reason string) string {
	e.t.Helper()
	var note string
	e.eventually("an event "+reason+" on "+obj.GetName(), func() bool {
		var list eventsv1.EventList
		if err := k8sClient.List(context.Background(), &list, client.InNamespace(obj.GetNamespace())); err != nil {
			e.t.Fatal(err)
		}
		for _, ev := range list.Items {
			if ev.Regarding.Name == obj.GetName() && ev.Reason == reason {
				note = ev.Note
				return true
			}
		}
		return false
	})
	return note
}

func (e *env) get(obj client.Object) {
	e.t.Helper()
	if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) update(obj client.Object, mutate func()) {
	e.t.Helper()
	e.get(obj)
	mutate()
	if err := k8sClient.Update(context.Background(), obj); err != nil {
		e.t.Fatalf("updating %s: %v", obj.GetName(), err)
	}
}

func (e *env) delete(obj client.Object) {
	e.t.Helper()
	if err := k8sClient.Delete(context.Background(), obj); err != nil {
		e.t.Fatalf("deleting %s: %v", obj.GetName(), err)
	}
}

// wantAnnotation checks that registration s carries annotation key=want.
func wantAnnotation(t *testing.T, s *corev1.Secret, key, want string) {
	t.Helper()
	if got := s.Annotations[key]; got != want {
		t.Errorf("annotation %s = %q, want %q", key, got, want)
	}
}

func configOf(t *testing.T, s *corev1.Secret) string {
	t.Helper()
	return string(s.Data[registration.ArgoCDConfigKey])
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// quiet waits until the registrar has sent no write for half a second, then
// zeroes e.writes, so that a test counts only what follows.
func (e *env) quiet() {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		n := e.writes.Load()
		time.Sleep(500 * time.Millisecond)
		if e.writes.Load() == n {
			e.writes.Store(0)
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the registrar still writes after %s", timeout)
		}
	}
}

// settledWrites waits until the registrar has sent no write for a second
// and returns how many it sent since the last quiet().
func (e *env) settledWrites() int64 {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		n := e.writes.Load()
		time.Sleep(time.Second)
		if e.writes.Load() == n {
			return n
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the registrar still writes after %s", timeout)
		}
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
