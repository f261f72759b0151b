package chart

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/registrar-dev/registrar/pkg/reconcile"
	"github.com/registrar-dev/registrar/test/fixture"
)

const timeout = 30 * time.Second

// installed is the chart installed into the test API server as release
// "r<id>" in namespace "registrar-<id>", Argo CD in "argocd-<id>".
type installed struct {
	t                 *testing.T
	id, ns, argocd    string
	m                 *manifests
	serviceAccount    string
	asServiceAccount  client.Client // impersonates the chart's ServiceAccount
	registrarProbeURL string
	// stopRegistrar stops the registrar started by startRegistrar and
	// checks it exited cleanly; it also runs at the end of the test.
	stopRegistrar func()
}

func install(t *testing.T, set ...string) *installed {
	t.Helper()
	id := randomID()
	in := &installed{t: t, id: id, ns: "registrar-" + id, argocd: "argocd-" + id}
	createNamespace(t, in.ns, nil)
	createNamespace(t, in.argocd, nil)
	in.m = release{name: "r" + id, namespace: in.ns, set: append(set, "argocdNamespace="+in.argocd)}.template(t)
	apply(t, in.m)
	in.serviceAccount = in.m.deployment(t).Spec.Template.Spec.ServiceAccountName
	impersonated := rest.CopyConfig(cfg)
	impersonated.Impersonate = rest.ImpersonationConfig{UserName: in.user()}
	var err error
	if in.asServiceAccount, err = client.New(impersonated, client.Options{Scheme: scheme.Scheme}); err != nil {
		t.Fatal(err)
	}
	return in
}

func (in *installed) user() string {
	return "system:serviceaccount:" + in.ns + ":" + in.serviceAccount
}

// startRegistrar runs the registrar binary with the rendered container's
// arguments, authenticated as the chart's ServiceAccount (the test's admin
// certificate, impersonating it), until the test ends. Only the listen
// addresses are overridden, to free loopback ports.
func (in *installed) startRegistrar() {
	t := in.t
	t.Helper()
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{"test": {Server: cfg.Host, CertificateAuthorityData: cfg.CAData}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{"sa": {ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Impersonate: in.user()}},
		Contexts:       map[string]*clientcmdapi.Context{"test": {Cluster: "test", AuthInfo: "sa"}},
		CurrentContext: "test",
	}, kubeconfig); err != nil {
		t.Fatal(err)
	}
	probe := freeAddress(t)
	args := append(in.m.container(t).Args, "--health-probe-bind-address="+probe, "--metrics-bind-address=0")
	logPath := filepath.Join(dir, "registrar.log")
	logs, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(registrar, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var stopping atomic.Bool
	exited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		// A registrar that exits on its own (a refused flag, a fatal
		// error) fails the test at once rather than at the next timeout.
		if !stopping.Load() {
			t.Errorf("registrar exited early: %v", err)
		}
		exited <- err
	}()
	var once sync.Once
	in.stopRegistrar = func() {
		once.Do(func() {
			stopping.Store(true)
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-exited:
				// SIGTERM is a graceful stop: exit status 0.
				if err != nil {
					t.Errorf("registrar stopped with %v", err)
				}
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				t.Error("registrar did not stop within 10s of SIGTERM")
			}
			logs.Close()
			if t.Failed() {
				out, _ := os.ReadFile(logPath)
				t.Logf("registrar %v logs:\n%s", args, out)
			}
		})
	}
	t.Cleanup(in.stopRegistrar)
	in.registrarProbeURL = "http://" + probe
}

func freeAddress(t *testing.T) string {
	t.Helper()
	addr, err := fixture.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// newVCluster writes a ready vcluster's objects into ns, as vcluster does.
func (in *installed) newVCluster(ns, name string) *appsv1.StatefulSet {
	t := in.t
	t.Helper()
	vc, err := fixture.NewVCluster(name, ns)
	if err != nil {
		t.Fatal(err)
	}
	sts, err := vc.Write(context.Background(), k8sClient, true)
	if err != nil {
		t.Fatal(err)
	}
	return sts
}

func (in *installed) registered(ns, name string) bool {
	in.t.Helper()
	var s corev1.Secret
	err := k8sClient.Get(context.Background(), types.NamespacedName{Namespace: in.argocd, Name: reconcile.SecretName(ns, name)}, &s)
	if err != nil && !apierrors.IsNotFound(err) {
		in.t.Fatal(err)
	}
	return err == nil
}

func (in *installed) eventually(what string, cond func() bool) {
	in.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) || in.t.Failed() {
			in.t.Fatalf("gave up waiting until %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (in *installed) eventuallyReady() {
	in.t.Helper()
	in.eventually("the registrar's /readyz answers 200 (every informer synced)", func() bool {
		resp, err := http.Get(in.registrarProbeURL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// eventuallyEvent waits for an events.k8s.io event of reason on name in ns;
// the core/v1 API serves the same events, which covers both recorders.
func (in *installed) eventuallyEvent(ns, name, reason string) {
	in.t.Helper()
	in.eventually(fmt.Sprintf("an event %s about %s/%s", reason, ns, name), func() bool {
		var list eventsv1.EventList
		if err := k8sClient.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
			in.t.Fatal(err)
		}
		for _, ev := range list.Items {
			if ev.Regarding.Name == name && ev.Reason == reason {
				return true
			}
		}
		return false
	})
}

// forbidden asserts the ServiceAccount may not do what op does.
func (in *installed) forbidden(what string, op func(c client.Client) error) {
	in.t.Helper()
	err := op(in.asServiceAccount)
	if !apierrors.IsForbidden(err) {
		in.t.Errorf("%s as %s: got %v, want Forbidden", what, in.user(), err)
	}
}

func secret(ns, name string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: map[string]string{"k": "v"}}
}

// With the chart's defaults (every namespace watched, through ClusterRoles)
// the registrar, as the chart's ServiceAccount, elects itself leader,
// syncs its caches, registers a vcluster, reports it, and removes the
// registration when the vcluster is deleted. Writes outside the Argo CD
// namespace are refused.
func TestRBACSufficesClusterWide(t *testing.T) {
	id := randomID()
	in := install(t, "namespaceSelector=registrar-chart-test="+id)
	vcNS := "vc-" + id
	createNamespace(t, vcNS, map[string]string{"registrar-chart-test": id})
	in.startRegistrar()
	in.eventuallyReady()

	sts := in.newVCluster(vcNS, "sandbox")
	in.eventually("vcluster "+vcNS+"/sandbox is registered", func() bool { return in.registered(vcNS, "sandbox") })
	in.eventuallyEvent(vcNS, "sandbox", reconcile.ReasonRegistered)

	// Leader election: its Lease, held, and the core/v1 event announcing it.
	var lease coordinationv1.Lease
	if err := k8sClient.Get(context.Background(), types.NamespacedName{Namespace: in.ns, Name: "registrar-leader"}, &lease); err != nil {
		t.Errorf("leader election Lease: %v", err)
	} else if ptr.Deref(lease.Spec.HolderIdentity, "") == "" {
		t.Error("the Lease has no holder")
	}
	in.eventuallyEvent(in.ns, "registrar-leader", "LeaderElection")

	ctx := context.Background()
	in.forbidden("creating a Secret in the vcluster's namespace", func(c client.Client) error {
		return c.Create(ctx, secret(vcNS, "planted"))
	})
	in.forbidden("creating a Secret in the release namespace", func(c client.Client) error {
		return c.Create(ctx, secret(in.ns, "planted"))
	})
	in.forbidden("deleting the vcluster's kubeconfig Secret", func(c client.Client) error {
		return c.Delete(ctx, secret(vcNS, "vc-sandbox"))
	})
	in.forbidden("scaling the vcluster", func(c client.Client) error {
		return c.Patch(ctx, sts, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"replicas":0}}`)))
	})
	in.forbidden("taking over another Lease", func(c client.Client) error {
		var l coordinationv1.Lease
		return c.Get(ctx, types.NamespacedName{Namespace: in.ns, Name: "someone-else"}, &l)
	})

	if err := k8sClient.Delete(ctx, sts); err != nil {
		t.Fatal(err)
	}
	in.eventually("the deleted vcluster's registration is removed", func() bool { return !in.registered(vcNS, "sandbox") })

	// On SIGTERM the leader hands the Lease back (an update), so a
	// successor need not wait for it to expire.
	in.stopRegistrar()
	if err := k8sClient.Get(ctx, types.NamespacedName{Namespace: in.ns, Name: "registrar-leader"}, &lease); err != nil {
		t.Fatal(err)
	}
	if holder := ptr.Deref(lease.Spec.HolderIdentity, ""); holder != "" {
		t.Errorf("the stopped registrar still holds the Lease as %q", holder)
	}
}

// With watchNamespaces, the registrar needs, and has, no read access
// outside them: it registers the vcluster it watches, and the
// ServiceAccount may neither read nor list Secrets elsewhere.
func TestRBACWatchNamespacesConfinesSecrets(t *testing.T) {
	id := randomID()
	watched, other := "watched-"+id, "other-"+id
	createNamespace(t, watched, nil)
	createNamespace(t, other, nil)
	in := install(t, "watchNamespaces={"+watched+"}")
	in.startRegistrar()
	in.eventuallyReady()

	in.newVCluster(watched, "sandbox")
	in.newVCluster(other, "outsider")
	in.eventually("vcluster "+watched+"/sandbox is registered", func() bool { return in.registered(watched, "sandbox") })
	in.eventuallyEvent(watched, "sandbox", reconcile.ReasonRegistered)
	if in.registered(other, "outsider") {
		t.Error("a vcluster outside watchNamespaces was registered")
	}

	ctx := context.Background()
	in.forbidden("reading a kubeconfig Secret outside watchNamespaces", func(c client.Client) error {
		var s corev1.Secret
		return c.Get(ctx, types.NamespacedName{Namespace: other, Name: "vc-outsider"}, &s)
	})
	in.forbidden("listing Secrets outside watchNamespaces", func(c client.Client) error {
		return c.List(ctx, &corev1.SecretList{}, client.InNamespace(other))
	})
	in.forbidden("listing Secrets in every namespace", func(c client.Client) error {
		return c.List(ctx, &corev1.SecretList{})
	})
	in.forbidden("listing StatefulSets in every namespace", func(c client.Client) error {
		return c.List(ctx, &appsv1.StatefulSetList{})
	})
	in.forbidden("creating a Secret in a watched namespace", func(c client.Client) error {
		return c.Create(ctx, secret(watched, "planted"))
	})
	// The control: what the Roles grant is granted.
	var s corev1.Secret
	if err := in.asServiceAccount.Get(ctx, types.NamespacedName{Namespace: watched, Name: "vc-sandbox"}, &s); err != nil {
		t.Errorf("reading the watched vcluster's kubeconfig Secret: %v", err)
	}
}
