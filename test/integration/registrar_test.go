package integration

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/reconcile"
	"github.com/registrar-dev/registrar/pkg/registration"
	"github.com/registrar-dev/registrar/test/fixture"
)

func TestRegistersVClusterOnceReady(t *testing.T) {
	e, ns := newEnvIn(t, "vcluster-sandbox")
	vc := e.newVCluster(ns, "sandbox", fixture.NotReady())
	e.neverRegistered(ns, "sandbox")

	sts := vc.StatefulSet()
	e.get(sts)
	e.setReady(sts, 1)
	s := e.eventuallyRegistered(ns, "sandbox")

	if got, want := string(s.Data["server"]), "https://sandbox."+ns+".svc"; got != want {
		t.Errorf("server = %q, want %q", got, want)
	}
	if s.Labels[registration.ArgoCDSecretTypeLabel] != "cluster" {
		t.Errorf("labels = %v", s.Labels)
	}
	note := e.eventuallyEvent(sts, api.ReasonRegistered)
	if !contains(note, "https://sandbox."+ns+".svc") {
		t.Errorf("event note %q does not say where", note)
	}
}

func TestRegistersDeploymentVCluster(t *testing.T) {
	e, ns := newEnvIn(t, "vc")
	e.newVCluster(ns, "nopersist", fixture.AsDeployment())
	s := e.eventuallyRegistered(ns, "nopersist")
	wantAnnotation(t, s, api.SourceKindAnnotation, "Deployment")
}

func TestFollowsCertificateRotationAndServiceChange(t *testing.T) {
	e, ns := newEnvIn(t, "vc")
	vc := e.newVCluster(ns, "sandbox")
	before := e.eventuallyRegistered(ns, "sandbox")

	e.rotate(vc)
	cert := vc.ClientCertificate()
	e.eventually("the rotated client certificate is registered", func() bool {
		s := e.registration(ns, "sandbox")
		var c struct {
			TLSClientConfig struct{ CertData []byte } `json:"tlsClientConfig"`
		}
		_ = json.Unmarshal(s.Data["config"], &c)
		return string(c.TLSClientConfig.CertData) == string(cert)
	})
	if e.registration(ns, "sandbox").UID != before.UID {
		t.Error("rotation replaced the Secret instead of updating it")
	}

	svc := vc.Service()
	e.update(svc, func() { svc.Spec.Ports[0].Port = 6443 })
	e.eventually("the new Service port is registered", func() bool {
		return string(e.registration(ns, "sandbox").Data["server"]) == "https://sandbox."+ns+".svc:6443"
	})
	e.eventuallyEvent(vc.StatefulSet(), api.ReasonUpdated)
}

func TestWritesNothingWhenNothingChanged(t *testing.T) {
	e, ns := newEnvIn(t, "vc")
	vc := e.newVCluster(ns, "sandbox")
	before := e.eventuallyRegistered(ns, "sandbox")
	e.eventuallyEvent(vc.StatefulSet(), api.ReasonRegistered)
	e.quiet()

	// Reconcile again, directly and through an unrelated change.
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "sandbox", Namespace: ns}}
	e.update(sts, func() { sts.Annotations = map[string]string{"unrelated": "change"} })
	for range 3 {
		if _, err := e.reconciler.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(sts)}); err != nil {
			t.Fatal(err)
		}
	}
	// Counted as requests, not resource versions: a no-op server-side apply
	// leaves the resource version alone but is still a write.
	e.consistently("the registrar sends no write", time.Second, func() bool { return e.writes.Load() == 0 })
	if e.registration(ns, "sandbox").ResourceVersion != before.ResourceVersion {
		t.Error("the registration was rewritten")
	}
}

func TestDeregistersWhenWorkloadDeleted(t *testing.T) {
	e, ns := newEnvIn(t, "vc")
	vc := e.newVCluster(ns, "sandbox")
	e.eventuallyRegistered(ns, "sandbox")
	e.delete(vc.StatefulSet())
	e.eventuallyDeregistered(ns, "sandbox")
}

func TestDeregistersWhenKubeconfigSecretDeleted(t *testing.T) {
	e, ns := newEnvIn(t, "vc")
	vc := e.newVCluster(ns, "sandbox")
	e.eventuallyRegistered(ns, "sandbox")
	e.delete(e.kubeconfigSecret(vc))
	e.eventuallyDeregistered(ns, "sandbox")
	note := e.eventuallyEvent(vc.StatefulSet(), api.ReasonDeregistered)
	if !contains(note, "kubeconfig Secret "+ns+"/vc-sandbox was deleted") {
		t.Errorf("event note %q does not say why", note)
	}
}

func TestPrunesAndRecreatesAfterDowntime(t *testing.T) {
	e, ns := newEnvIn(t, "vc")
	gone := e.newVCluster(ns, "gone")
	e.newVCluster(ns, "kept")
	e.eventuallyRegistered(ns, "gone")
	kept := e.eventuallyRegistered(ns, "kept")

	e.stop()
	e.delete(gone.StatefulSet())
	e.delete(kept) // lost by hand while the registrar was down
	e.start()

	e.eventuallyDeregistered(ns, "gone")
	e.eventuallyRegistered(ns, "kept")
}

func TestRecreatesRegistrationDeletedByHand(t *testing.T) {
	e, ns := newEnvIn(t, "vc")
	e.newVCluster(ns, "sandbox")
	first := e.eventuallyRegistered(ns, "sandbox")
	e.delete(first)
	e.eventually("the registration is recreated", func() bool {
		s := e.registration(ns, "sandbox")
		return s != nil && s.UID != first.UID
	})
}

func TestLeavesForeignSecretUntouched(t *testing.T) {
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
	note := e.eventuallyEvent(vc.StatefulSet(), api.ReasonConflict)
	if !contains(note, "not managed by the registrar") {
		t.Errorf("event note %q", note)
	}
	after := e.registration(ns, "sandbox")
	if after.ResourceVersion != foreign.ResourceVersion || string(after.Data["server"]) != "https://elsewhere" {
		t.Error("the foreign Secret was changed")
	}
	// Not ours, so not deleted either when the vcluster goes.
	e.delete(vc.StatefulSet())
	e.consistently("the foreign Secret survives", 2*time.Second, func() bool { return e.registration(ns, "sandbox") != nil })
}

func TestOptOut(t *testing.T) {
	e, ns := newEnvIn(t, "vc")

	e.newVCluster(ns, "private", fixture.Annotations(map[string]string{api.IgnoreAnnotation: "true"}))
	e.neverRegistered(ns, "private")

	vc := e.newVCluster(ns, "sandbox")
	e.eventuallyRegistered(ns, "sandbox")
	w := vc.StatefulSet()
	e.update(w, func() { w.Annotations = map[string]string{api.IgnoreAnnotation: "true"} })
	e.eventuallyDeregistered(ns, "sandbox")

	// Opting in again, then opting the whole namespace out.
	e.update(w, func() { delete(w.Annotations, api.IgnoreAnnotation) })
	e.eventuallyRegistered(ns, "sandbox")
	nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
	e.update(nsObj, func() { nsObj.Annotations = map[string]string{api.IgnoreAnnotation: "true"} })
	e.eventuallyDeregistered(ns, "sandbox")
}

func TestNamespaceSelectorLimitsTrust(t *testing.T) {
	e := newEnv(t)
	untrusted := e.createNamespace("tenant", false)
	e.newVCluster(untrusted, "sneaky")
	e.neverRegistered(untrusted, "sneaky")

	// Trusting the namespace later registers its vcluster.
	nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: untrusted}}
	e.update(nsObj, func() { nsObj.Labels = map[string]string{testLabel: e.id} })
	e.eventuallyRegistered(untrusted, "sneaky")
}

func TestBadInputWarnsAndKeepsRegistration(t *testing.T) {
	e, ns := newEnvIn(t, "vc")
	vc := e.newVCluster(ns, "sandbox")
	good := e.eventuallyRegistered(ns, "sandbox")

	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vc-sandbox", Namespace: ns}}
	e.update(secret, func() { secret.Data["config"] = []byte("apiVersion: v1\nclusters: [ {{{ not yaml") })
	note := e.eventuallyEvent(vc.StatefulSet(), api.ReasonBadKubeconfig)
	if !contains(note, "not a parsable kubeconfig") || contains(note, "{{{") {
		t.Errorf("event note %q", note)
	}
	e.consistently("the previous registration is kept", time.Second, func() bool {
		s := e.registration(ns, "sandbox")
		return s != nil && s.ResourceVersion == good.ResourceVersion
	})

	// A missing Service is reported the same way on a new vcluster.
	vc2 := e.newVCluster(ns, "noservice", fixture.NoService())
	note = e.eventuallyEvent(vc2.StatefulSet(), api.ReasonServiceMissing)
	if !contains(note, "Service "+ns+"/noservice does not exist") {
		t.Errorf("event note %q", note)
	}
	e.neverRegistered(ns, "noservice")

	// Creating the Service fixes it, without a restart.
	e.create(vc2.Service())
	e.eventuallyRegistered(ns, "noservice")
}

func TestCustomKubeconfigSecretByAnnotation(t *testing.T) {
	e, ns := newEnvIn(t, "vc")
	e.newVCluster(ns, "custom",
		fixture.KubeconfigSecretName("exported-kubeconfig"), fixture.Unlabelled(), // as written by vcluster before v0.24
		fixture.Annotations(map[string]string{api.KubeconfigSecretAnnotation: "exported-kubeconfig"}))
	s := e.eventuallyRegistered(ns, "custom")
	wantAnnotation(t, s, api.KubeconfigSecretAnnotation, "exported-kubeconfig")
}

func TestSameNameInTwoNamespaces(t *testing.T) {
	e := newEnv(t)
	a := e.createNamespace("team-a", true)
	b := e.createNamespace("team-b", true)
	e.newVCluster(a, "dev")
	e.newVCluster(b, "dev")
	sa := e.eventuallyRegistered(a, "dev")
	sb := e.eventuallyRegistered(b, "dev")
	if sa.Name == sb.Name || string(sa.Data["server"]) == string(sb.Data["server"]) || string(sa.Data["name"]) == string(sb.Data["name"]) {
		t.Errorf("collision: %s %s %s vs %s %s %s", sa.Name, sa.Data["server"], sa.Data["name"], sb.Name, sb.Data["server"], sb.Data["name"])
	}
}

func TestPropagatesLabelsAndAnnotations(t *testing.T) {
	e := newEnv(t, func(o *reconcile.Options) { o.PropagateLabels = []string{"env"} })
	ns := e.createNamespace("vc", true)
	vc := e.newVCluster(ns, "staging", fixture.Labels(map[string]string{"env": "staging"}),
		fixture.Annotations(map[string]string{api.ProjectAnnotation: "platform", api.NamespacesAnnotation: "apps,web"}))
	sts := vc.StatefulSet()
	s := e.eventuallyRegistered(ns, "staging")
	if s.Labels["env"] != "staging" || string(s.Data["project"]) != "platform" || string(s.Data["namespaces"]) != "apps,web" {
		t.Errorf("labels %v, project %q, namespaces %q", s.Labels, s.Data["project"], s.Data["namespaces"])
	}
	// Removing the label from the vcluster removes it from the registration.
	e.update(sts, func() { delete(sts.Labels, "env") })
	e.eventually("the env label is gone", func() bool {
		_, ok := e.registration(ns, "staging").Labels["env"]
		return !ok
	})
}

func TestWatchNamespacesLimitsWhatIsSeen(t *testing.T) {
	e := newEnv(t)
	watched := e.createNamespace("watched", true)
	other := e.createNamespace("other", true)
	e.stop()
	e.watchNamespaces = []string{watched}
	e.start()

	e.newVCluster(watched, "seen")
	e.newVCluster(other, "unseen")
	e.eventuallyRegistered(watched, "seen")
	e.neverRegistered(other, "unseen")
}

// TestFollowsUnlabelledKubeconfigSecret covers vclusters before 0.24, whose
// kubeconfig Secret has no labels and so is outside the cache: its late
// creation, its rotation and its deletion are still seen at once, through
// the watch of Secret metadata.
func TestFollowsUnlabelledKubeconfigSecret(t *testing.T) {
	e, ns := newEnvIn(t, "old")
	vc := e.newVCluster(ns, "legacy", fixture.NoKubeconfigSecret(), fixture.Unlabelled())
	e.eventuallyEvent(vc.StatefulSet(), api.ReasonKubeconfigSecretMissing)

	e.create(e.kubeconfigSecret(vc))
	e.eventuallyRegistered(ns, "legacy")

	e.rotate(vc)
	e.eventually("the rotated certificate is registered", func() bool {
		return contains(configOf(t, e.registration(ns, "legacy")), b64(vc.ClientCertificate()))
	})

	e.delete(e.kubeconfigSecret(vc))
	e.eventuallyDeregistered(ns, "legacy")
}
