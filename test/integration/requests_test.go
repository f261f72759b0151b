package integration

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/registration"
	"github.com/registrar-dev/registrar/test/fixture"
)

// A new registration costs its write and its event: the Create itself
// proves that no Secret of that name exists, so nothing is read first.
func TestNewRegistrationIsOneCreateAndItsEvent(t *testing.T) {
	e, ns := newEnvIn(t, "vc")
	e.quiet()
	e.registrationReads.Store(0)
	vc := e.newVCluster(ns, "sandbox")
	e.eventuallyRegistered(ns, "sandbox")
	e.eventuallyEvent(vc.StatefulSet(), api.ReasonRegistered)
	if got := e.settledWrites(); got != 2 {
		t.Errorf("%d writes for a new registration, want 2 (the Create and the Registered event)", got)
	}
	if got := e.registrationReads.Load(); got != 0 {
		t.Errorf("%d reads of single Secrets in the Argo CD namespace, want 0", got)
	}
}

// A registration refused because a foreign cluster Secret declares its
// server is made as soon as that Secret changes, not at the next resync.
func TestRefusedRegistrationIsRetriedWhenTheForeignSecretChanges(t *testing.T) {
	e, ns := newEnvIn(t, "vc")
	foreign := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "hand-made", Namespace: e.argocd,
			Labels: map[string]string{registration.ArgoCDSecretTypeLabel: "cluster"}},
		StringData: map[string]string{"name": "by-hand", "server": "https://sandbox." + ns + ".svc"},
	}
	e.create(foreign)
	vc := e.newVCluster(ns, "sandbox")
	e.eventuallyEvent(vc.StatefulSet(), api.ReasonConflict)
	e.neverRegistered(ns, "sandbox")

	e.update(foreign, func() { foreign.StringData = map[string]string{"server": "https://elsewhere.example"} })
	e.eventuallyRegistered(ns, "sandbox")
	e.get(foreign)
	if string(foreign.Data["server"]) != "https://elsewhere.example" || string(foreign.Data["name"]) != "by-hand" {
		t.Error("the foreign Secret was changed")
	}
}

// A registration refused because a Secret that is not ours holds its name
// is made as soon as that Secret is deleted.
func TestRefusedRegistrationIsRetriedWhenTheForeignSecretIsDeleted(t *testing.T) {
	e, ns := newEnvIn(t, "vc")
	foreign := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: registration.SecretName(ns, "sandbox"), Namespace: e.argocd,
			Labels: map[string]string{registration.ArgoCDSecretTypeLabel: "cluster"},
		},
		StringData: map[string]string{"name": "hand-made", "server": "https://elsewhere"},
	}
	e.create(foreign)
	vc := e.newVCluster(ns, "sandbox")
	e.eventuallyEvent(vc.StatefulSet(), api.ReasonConflict)
	e.consistently("the foreign Secret is left as it is", 2*time.Second, func() bool {
		s := e.registration(ns, "sandbox")
		return s != nil && s.ResourceVersion == foreign.ResourceVersion
	})

	e.delete(foreign)
	s := e.eventuallyRegistered(ns, "sandbox")
	if s.Labels[api.ManagedByLabel] != api.ManagedByValue {
		t.Errorf("registration labels %v", s.Labels)
	}
}

// A cluster name refused because another vcluster's registration holds it
// is given to the second vcluster once the first lets it go.
func TestRefusedClusterNameIsRetriedWhenItsHolderLetsGo(t *testing.T) {
	e, ns := newEnvIn(t, "vc")
	prod := fixture.Annotations(map[string]string{api.ClusterNameAnnotation: "prod"})
	first := e.newVCluster(ns, "first", prod)
	e.eventuallyRegistered(ns, "first")
	second := e.newVCluster(ns, "second", prod)
	e.eventuallyEvent(second.StatefulSet(), api.ReasonConflict)
	e.neverRegistered(ns, "second")

	sts := first.StatefulSet()
	e.update(sts, func() { sts.Annotations = map[string]string{api.ClusterNameAnnotation: "staging"} })
	s := e.eventuallyRegistered(ns, "second")
	if string(s.Data[registration.ArgoCDNameKey]) != "prod" {
		t.Errorf("second registered as %q, want prod", s.Data[registration.ArgoCDNameKey])
	}
	var list corev1.SecretList
	if err := k8sClient.List(context.Background(), &list, client.InNamespace(e.argocd)); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 2 {
		t.Errorf("%d Secrets in the Argo CD namespace, want 2", len(list.Items))
	}
}

// An unlabelled kubeconfig Secret, which the cache cannot hold, is read
// from the API server's watch cache once the watch of Secret metadata has
// listed: its rotation and a new vcluster cost etcd no read. Its deletion
// is asked of etcd, since it deregisters.
func TestUnlabelledKubeconfigSecretIsReadFromTheWatchCache(t *testing.T) {
	e, ns := newEnvIn(t, "old")
	first := e.newVCluster(ns, "first", fixture.Unlabelled())
	e.eventuallyRegistered(ns, "first")
	// A rotation registered proves the watch has listed and is watching.
	e.rotate(first)
	e.eventually("the rotated certificate is registered", func() bool {
		return contains(configOf(t, e.registration(ns, "first")), b64(first.ClientCertificate()))
	})

	e.etcdSecretReads.Store(0)
	e.rotate(first)
	e.eventually("the second rotation is registered", func() bool {
		return contains(configOf(t, e.registration(ns, "first")), b64(first.ClientCertificate()))
	})
	second := e.newVCluster(ns, "second", fixture.Unlabelled())
	e.eventuallyRegistered(ns, "second")
	if got := e.etcdSecretReads.Load(); got != 0 {
		t.Errorf("%d reads of kubeconfig Secrets from etcd for a rotation and a new vcluster, want 0", got)
	}

	e.delete(e.kubeconfigSecret(second))
	e.eventuallyDeregistered(ns, "second")
	if e.etcdSecretReads.Load() == 0 {
		t.Error("a deleted kubeconfig Secret deregistered its vcluster without etcd's word")
	}
	if e.registration(ns, "first") == nil {
		t.Error("the other vcluster's registration is gone")
	}
}
