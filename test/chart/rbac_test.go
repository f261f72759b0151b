package chart

import (
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
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
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/registration"
	"github.com/registrar-dev/registrar/test/fixture"
)

const timeout = 30 * time.Second

// installed is the chart installed into the test API server as release
// "r<id>" in namespace "registrar-<id>", Argo CD in "argocd-<id>".
type installed struct {
	t              *testing.T
	id, ns, argocd string
	m              *manifests
	// moreArgoCDs are the Argo CD namespaces listed after argocd.
	moreArgoCDs      []string
	serviceAccount   string
	asServiceAccount client.Client // impersonates the chart's ServiceAccount
	// registrar is the process startRegistrar started.
	registrar *fixture.Controller
	// stopRegistrar stops it and checks that it exited cleanly; it also
	// runs at the end of the test.
	stopRegistrar func()
}

// installRunning installs the chart trusting only a fresh namespace for
// vclusters, whose name it returns, and runs the registrar until it is
// ready.
func installRunning(t *testing.T, set ...string) (*installed, string) {
	t.Helper()
	id := fixture.RandomID()
	in := install(t, append(set, "namespaceSelector=registrar-chart-test="+id)...)
	vcNS := "vc-" + id
	createNamespace(t, vcNS, map[string]string{"registrar-chart-test": id})
	in.startRegistrar()
	in.eventuallyReady()
	return in, vcNS
}

func install(t *testing.T, set ...string) *installed {
	t.Helper()
	return installWithArgoCDs(t, nil, set...)
}

// installWithArgoCDs is install with further Argo CD namespaces, one per
// prefix, named prefix-<id> and listed after "argocd-<id>" in
// argocdNamespaces.
func installWithArgoCDs(t *testing.T, prefixes []string, set ...string) *installed {
	t.Helper()
	id := fixture.RandomID()
	in := &installed{t: t, id: id, ns: "registrar-" + id, argocd: "argocd-" + id}
	createNamespace(t, in.ns, nil)
	createNamespace(t, in.argocd, nil)
	set = append(set, "argocdNamespace="+in.argocd)
	if len(prefixes) > 0 {
		list := []string{in.argocd}
		for _, p := range prefixes {
			in.moreArgoCDs = append(in.moreArgoCDs, p+"-"+id)
			createNamespace(t, p+"-"+id, nil)
		}
		list = append(list, in.moreArgoCDs...)
		set = append(set, "argocdNamespaces={"+strings.Join(list, ",")+"}")
	}
	in.m = release{name: "r" + id, namespace: in.ns, set: set}.template(t)
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
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := fixture.WriteKubeconfig(cfg, kubeconfig, in.user()); err != nil {
		t.Fatal(err)
	}
	in.registrar = fixture.StartRegistrar(t, kubeconfig, in.m.container(t).Args...)
	var once sync.Once
	in.stopRegistrar = func() {
		// SIGTERM is a graceful stop: exit status 0. A registrar that
		// exited on its own (a refused flag, a fatal error) fails too.
		once.Do(func() {
			if err := in.registrar.Stop(); err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(in.stopRegistrar)
}

// newVCluster writes a ready vcluster's objects into ns, as vcluster does,
// and returns its StatefulSet.
func (in *installed) newVCluster(ns, name string, opts ...fixture.Option) client.Object {
	in.t.Helper()
	return in.newVClusterWith(ns, name, opts...).StatefulSet()
}

// newVClusterWith writes a ready vcluster shaped by opts (fixture.Option).
func (in *installed) newVClusterWith(ns, name string, opts ...fixture.Option) *fixture.VCluster {
	t := in.t
	t.Helper()
	vc, err := fixture.NewVCluster(name, ns, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vc.Create(context.Background(), k8sClient); err != nil {
		t.Fatal(err)
	}
	return vc
}

// followsRotation rotates the client certificate of vc's kubeconfig Secret
// and waits for its registration to carry the new one: with an unlabelled
// Secret, proof that the watch of Secret metadata runs with the chart's RBAC.
func (in *installed) followsRotation(vc *fixture.VCluster) {
	in.t.Helper()
	if err := vc.Rotate(context.Background(), k8sClient); err != nil {
		in.t.Fatal(err)
	}
	want := base64.StdEncoding.EncodeToString(vc.ClientCertificate())
	in.eventually("the rotation of "+vc.Namespace+"/"+vc.Name+" is registered", func() bool {
		var s corev1.Secret
		err := k8sClient.Get(context.Background(), types.NamespacedName{Namespace: in.argocd, Name: registration.SecretName(vc.Namespace, vc.Name)}, &s)
		return err == nil && strings.Contains(string(s.Data[registration.ArgoCDConfigKey]), want)
	})
}

func (in *installed) registered(ns, name string) bool {
	in.t.Helper()
	return in.registeredIn(in.argocd, ns, name)
}

func (in *installed) registeredIn(argocd, ns, name string) bool {
	in.t.Helper()
	var s corev1.Secret
	err := k8sClient.Get(context.Background(), types.NamespacedName{Namespace: argocd, Name: registration.SecretName(ns, name)}, &s)
	if err != nil && !apierrors.IsNotFound(err) {
		in.t.Fatal(err)
	}
	return err == nil
}

// eventually waits for cond while the registrar runs: one that exits
// fails the wait at once rather than at the timeout.
func (in *installed) eventually(what string, cond func() bool) {
	in.t.Helper()
	fixture.Eventually(in.t, what, cond, fixture.Within(timeout), fixture.WhileRunning(in.process()))
}

func (in *installed) process() *fixture.Process {
	if in.registrar == nil {
		return nil
	}
	return in.registrar.Process
}

func (in *installed) eventuallyReady() {
	in.t.Helper()
	fixture.Await(in.t, "the registrar's /readyz answers 200 (every informer synced)", fixture.Succeeds(in.registrar.Ready),
		fixture.Within(timeout), fixture.WhileRunning(in.process()))
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
	in, vcNS := installRunning(t)

	sts := in.newVCluster(vcNS, "sandbox")
	in.eventually("vcluster "+vcNS+"/sandbox is registered", func() bool { return in.registered(vcNS, "sandbox") })
	in.eventuallyEvent(vcNS, "sandbox", api.ReasonRegistered)
	legacy := in.newVClusterWith(vcNS, "legacy", fixture.Unlabelled())
	in.eventually("vcluster "+vcNS+"/legacy is registered", func() bool { return in.registered(vcNS, "legacy") })
	in.followsRotation(legacy)

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
	id := fixture.RandomID()
	watched, other := "watched-"+id, "other-"+id
	createNamespace(t, watched, nil)
	createNamespace(t, other, nil)
	in := install(t, "watchNamespaces={"+watched+"}")
	in.startRegistrar()
	in.eventuallyReady()

	in.newVCluster(watched, "sandbox")
	in.newVCluster(other, "outsider")
	in.eventually("vcluster "+watched+"/sandbox is registered", func() bool { return in.registered(watched, "sandbox") })
	in.eventuallyEvent(watched, "sandbox", api.ReasonRegistered)
	if in.registered(other, "outsider") {
		t.Error("a vcluster outside watchNamespaces was registered")
	}
	legacy := in.newVClusterWith(watched, "legacy", fixture.Unlabelled())
	in.eventually("vcluster "+watched+"/legacy is registered", func() bool { return in.registered(watched, "legacy") })
	in.followsRotation(legacy)

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

// With two Argo CD namespaces, the registrar as the chart's ServiceAccount
// registers in each: by default in the first, in the second when a
// vcluster's annotation says so. A third, unlisted namespace is Forbidden
// to it, and a vcluster asking for it is refused before any write. The
// vclusters' namespace is in watchNamespaces, so that no ClusterRole lets
// the registrar read Secrets anywhere.
func TestRBACTwoArgoCDNamespaces(t *testing.T) {
	id := fixture.RandomID()
	vcNS := "vc-" + id
	createNamespace(t, vcNS, nil)
	in := installWithArgoCDs(t, []string{"argocd-production"}, "watchNamespaces={"+vcNS+"}")
	production := in.moreArgoCDs[0]
	unlisted := "argocd-unlisted-" + id
	createNamespace(t, unlisted, nil)
	in.startRegistrar()
	in.eventuallyReady()

	in.newVCluster(vcNS, "staging")
	in.newVCluster(vcNS, "shop", fixture.Annotations(map[string]string{api.ArgoCDNamespaceAnnotation: production}))
	in.newVCluster(vcNS, "rogue", fixture.Annotations(map[string]string{api.ArgoCDNamespaceAnnotation: unlisted}))
	in.eventually("vcluster staging is registered in "+in.argocd, func() bool { return in.registered(vcNS, "staging") })
	in.eventually("vcluster shop is registered in "+production, func() bool { return in.registeredIn(production, vcNS, "shop") })
	in.eventuallyEvent(vcNS, "shop", api.ReasonRegistered)
	in.eventuallyEvent(vcNS, "rogue", api.ReasonBadAnnotation)
	for _, argocd := range []string{in.argocd, production, unlisted} {
		if in.registeredIn(argocd, vcNS, "rogue") {
			t.Errorf("vcluster rogue registered in %s", argocd)
		}
	}

	ctx := context.Background()
	in.forbidden("creating a Secret in an unlisted Argo CD namespace", func(c client.Client) error {
		return c.Create(ctx, secret(unlisted, "planted"))
	})
	in.forbidden("listing Secrets in an unlisted Argo CD namespace", func(c client.Client) error {
		return c.List(ctx, &corev1.SecretList{}, client.InNamespace(unlisted), client.MatchingLabels{registration.ArgoCDSecretTypeLabel: "cluster"})
	})
	in.forbidden("reading a Secret in an unlisted Argo CD namespace", func(c client.Client) error {
		var s corev1.Secret
		return c.Get(ctx, types.NamespacedName{Namespace: unlisted, Name: "argocd-secret"}, &s)
	})
	in.forbidden("deleting a Secret in an unlisted Argo CD namespace", func(c client.Client) error {
		return c.Delete(ctx, secret(unlisted, "argocd-secret"))
	})
	// The control: both listed namespaces grant what the registrar does there.
	for _, ns := range []string{in.argocd, production} {
		probe := secret(ns, "rbac-probe")
		if err := in.asServiceAccount.Create(ctx, probe); err != nil {
			t.Errorf("creating a Secret in %s: %v", ns, err)
			continue
		}
		if err := in.asServiceAccount.Delete(ctx, probe); err != nil {
			t.Errorf("deleting a Secret in %s: %v", ns, err)
		}
	}
}
