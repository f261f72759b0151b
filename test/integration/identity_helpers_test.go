package integration

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v3/util/db"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/reconcile"
	"github.com/registrar-dev/registrar/test/fixture"
)

// tokenVCluster is a vcluster whose stand-in is a real API server, and what
// a test needs to look inside it and to connect as Argo CD does.
type tokenVCluster struct {
	e        *env
	ns, name string
	vc       *fixture.VCluster
	standIn  *fixture.StandIn
	workload client.Object
	// admin is a client of the stand-in with the vcluster's admin
	// certificate, to look at and tamper with what the registrar made.
	admin client.Client
}

// clock is a registrar clock a test moves ahead.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }
func (c *clock) option() func(*reconcile.Options) {
	return func(o *reconcile.Options) { o.Now = c.now }
}

// newTokenWorld starts a stand-in for vcluster ns/sandbox and a registrar
// that reaches it at its service address, configured further by configure.
func newTokenWorld(t *testing.T, prefix string, configure ...func(*reconcile.Options)) (*env, *tokenVCluster) {
	t.Helper()
	e := newWorld(t)
	ns := e.createNamespace(prefix, true)
	vc, err := fixture.NewVCluster("sandbox", ns)
	if err != nil {
		t.Fatal(err)
	}
	tv := &tokenVCluster{e: e, ns: ns, name: "sandbox", vc: vc, standIn: startStandIn(t, vc)}
	kc, err := tv.standIn.Kubeconfig()
	if err != nil {
		t.Fatal(err)
	}
	restCfg, err := clientcmd.RESTConfigFromKubeConfig(kc)
	if err != nil {
		t.Fatal(err)
	}
	if tv.admin, err = client.New(restCfg, client.Options{Scheme: scheme.Scheme}); err != nil {
		t.Fatal(err)
	}
	e.start(append([]func(*reconcile.Options){probing(map[string]string{serviceAddr(ns, "sandbox"): tv.standIn.Addr})}, configure...)...)
	return e, tv
}

// create writes the vcluster's objects into the host, with annotations.
func (tv *tokenVCluster) create(annotations map[string]string) {
	tv.e.t.Helper()
	tv.workload = createVCluster(tv.e.t, k8sClient, tv.ns, tv.name, fixture.WithPKI(tv.vc.PKI), fixture.Annotations(annotations)).Workload()
}

// annotate sets (or, with value "", removes) an annotation of the workload.
func (tv *tokenVCluster) annotate(key, value string) {
	tv.e.t.Helper()
	tv.e.update(tv.workload, func() {
		a := tv.workload.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		if value == "" {
			delete(a, key)
		} else {
			a[key] = value
		}
		tv.workload.SetAnnotations(a)
	})
}

// eventuallyTokenRegistered waits for a registration carrying a
// ServiceAccount token other than not, and returns it.
func (tv *tokenVCluster) eventuallyTokenRegistered(not string) *corev1.Secret {
	tv.e.t.Helper()
	var s *corev1.Secret
	tv.e.eventually("vcluster "+tv.ns+"/"+tv.name+" is registered with a new ServiceAccount token", func() bool {
		s = tv.e.registration(tv.ns, tv.name)
		return s != nil && s.Annotations[api.IdentityAnnotation] == api.IdentityServiceAccount && tokenOf(tv.e.t, s) != not
	})
	return s
}

// tokenOf is the bearer token of a registration as Argo CD reads it.
func tokenOf(t *testing.T, s *corev1.Secret) string {
	t.Helper()
	cluster, err := db.SecretToCluster(s)
	if err != nil {
		t.Fatalf("Argo CD cannot parse the registration: %v", err)
	}
	return cluster.Config.BearerToken
}

// argocdClient is the client Argo CD builds from registration s (its own
// util/db parser and RawRestConfig), dialling the stand-in.
func (tv *tokenVCluster) argocdClient(s *corev1.Secret) kubernetes.Interface {
	t := tv.e.t
	t.Helper()
	cluster, err := db.SecretToCluster(s)
	if err != nil {
		t.Fatalf("Argo CD cannot parse the registration: %v", err)
	}
	cfg, err := cluster.RawRestConfig()
	if err != nil {
		t.Fatalf("Argo CD cannot build a client config: %v", err)
	}
	return tv.clientFor(cfg)
}

// tokenClient is a client of the stand-in authenticating with token alone,
// with the TLS server name and CA of registration s.
func (tv *tokenVCluster) tokenClient(s *corev1.Secret, token string) kubernetes.Interface {
	tv.e.t.Helper()
	cluster, err := db.SecretToCluster(s)
	if err != nil {
		tv.e.t.Fatal(err)
	}
	cluster.Config.BearerToken = token
	cluster.Config.CertData, cluster.Config.KeyData = nil, nil
	cfg, err := cluster.RawRestConfig()
	if err != nil {
		tv.e.t.Fatal(err)
	}
	return tv.clientFor(cfg)
}

func (tv *tokenVCluster) clientFor(cfg *rest.Config) kubernetes.Interface {
	tv.e.t.Helper()
	cfg.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, tv.standIn.Addr)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		tv.e.t.Fatal(err)
	}
	return cs
}

// listNamespacesWith lists the vcluster's namespaces with cs.
func listNamespacesWith(cs kubernetes.Interface) error {
	_, err := cs.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{})
	return err
}

// getInside reads obj from the stand-in; found is false on NotFound.
func (tv *tokenVCluster) getInside(obj client.Object) (found bool) {
	tv.e.t.Helper()
	err := tv.admin.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
	if err != nil && !apierrors.IsNotFound(err) {
		tv.e.t.Fatal(err)
	}
	return err == nil
}
