package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/reconcile"
)

var serviceAccountIdentity = map[string]string{api.IdentityAnnotation: api.IdentityServiceAccount}

// TestServiceAccountIdentityIsWhatArgoCDGets: a vcluster annotated for the
// ServiceAccount identity is registered with a token of argocd-manager,
// made inside the real API server standing in for it, with Argo CD's names
// and rules; Argo CD's own code reads the registration and its client can do
// what the role allows. No client certificate is handed out.
func TestServiceAccountIdentityIsWhatArgoCDGets(t *testing.T) {
	e, tv := newTokenWorld(t, "vcluster-identity")
	tv.create(serviceAccountIdentity)

	s := tv.eventuallyTokenRegistered("")
	cluster := configOf(t, s)
	if contains(cluster, `"certData"`) || contains(cluster, `"keyData"`) || contains(cluster, b64(tv.vc.PKI.ClientCert)) {
		t.Fatal("the registration carries the admin client certificate or key")
	}
	if !contains(cluster, b64(tv.vc.PKI.CACert)) {
		t.Error("the registration does not carry the vcluster's CA")
	}
	notAfter, err := time.Parse(time.RFC3339, s.Annotations[api.CredentialsNotAfterAnnotation])
	if err != nil || notAfter.Before(time.Now().Add(23*time.Hour)) || notAfter.After(time.Now().Add(25*time.Hour)) {
		t.Errorf("credentials-not-after %q, want the token's expiry, 24h from now", s.Annotations[api.CredentialsNotAfterAnnotation])
	}

	argocd := tv.argocdClient(s)
	if err := listNamespacesWith(argocd); err != nil {
		t.Fatalf("Argo CD's client with the token cannot list namespaces: %v", err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "deployed", Namespace: "default"}}
	if _, err := argocd.CoreV1().ConfigMaps("default").Create(context.Background(), cm, metav1.CreateOptions{}); err != nil {
		t.Errorf("Argo CD's client cannot deploy a ConfigMap: %v", err)
	}

	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "argocd-manager", Namespace: "kube-system"}}
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "argocd-manager-role"}}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "argocd-manager-role-binding"}}
	for _, obj := range []client.Object{sa, role, binding} {
		if !tv.getInside(obj) {
			t.Fatalf("%T %s does not exist inside the vcluster", obj, obj.GetName())
		}
		if obj.GetLabels()[api.ManagedByLabel] != api.ManagedByValue {
			t.Errorf("%T %s does not carry the managed-by label", obj, obj.GetName())
		}
	}
	if binding.RoleRef.Name != "argocd-manager-role" || len(binding.Subjects) != 1 ||
		binding.Subjects[0] != (rbacv1.Subject{Kind: "ServiceAccount", Name: "argocd-manager", Namespace: "kube-system"}) {
		t.Errorf("binding %+v %+v", binding.RoleRef, binding.Subjects)
	}

	// A healthy vcluster, checked inside again and again, writes nothing.
	e.quiet()
	time.Sleep(6 * probeEvery)
	if n := e.writes.Load(); n != 0 {
		t.Errorf("%d writes in the host while a healthy token registration was checked, want 0", n)
	}

	// Drift: the ServiceAccount deleted inside is re-created, with a new
	// token (the old one died with it); a role edited inside is restored.
	old := tokenOf(t, s)
	if err := tv.admin.Delete(context.Background(), sa); err != nil {
		t.Fatal(err)
	}
	role.Rules = []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}}
	if err := tv.admin.Update(context.Background(), role); err != nil {
		t.Fatal(err)
	}
	s = tv.eventuallyTokenRegistered(old)
	e.eventually("the ServiceAccount is re-created and the role restored inside the vcluster", func() bool {
		fresh := &corev1.ServiceAccount{ObjectMeta: sa.ObjectMeta}
		fresh.ResourceVersion, fresh.UID = "", ""
		r := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: role.Name}}
		return tv.getInside(fresh) && fresh.UID != sa.UID && tv.getInside(r) && len(r.Rules) == 2
	})
	if err := listNamespacesWith(tv.argocdClient(s)); err != nil {
		t.Errorf("the token issued after the drift does not work: %v", err)
	}
	e.eventually("the token of the deleted ServiceAccount is refused", func() bool {
		return apierrors.IsUnauthorized(listNamespacesWith(tv.tokenClient(s, old)))
	})
}

// TestTokenRenewalAndRotation: with the shortest TTL the TokenRequest API
// allows, the token is replaced once two thirds of it have passed (the
// registrar's clock moved ahead), and at once when rotate-token changes:
// each time one update of the registration, the old token still working
// (no outage), every version read by Argo CD's parser.
func TestTokenRenewalAndRotation(t *testing.T) {
	c := &clock{}
	e, tv := newTokenWorld(t, "vcluster-renewal", c.option(), func(o *reconcile.Options) {
		o.TokenTTL = reconcile.MinTokenTTL
	})
	tv.create(serviceAccountIdentity)
	s := tv.eventuallyTokenRegistered("")
	first := tokenOf(t, s)
	renewAfter, err := time.Parse(time.RFC3339, s.Annotations[api.TokenRenewAfterAnnotation])
	if err != nil {
		t.Fatalf("no renewal time recorded: %v", err)
	}
	notAfter, _ := time.Parse(time.RFC3339, s.Annotations[api.CredentialsNotAfterAnnotation])
	if life := notAfter.Sub(renewAfter); life < 10*time.Minute/3 || life > 10*time.Minute/3+time.Minute+2*time.Second {
		t.Errorf("renewal %s before expiry, want a third of the 10m lifetime plus at most a tenth of jitter", life)
	}

	applies := func() float64 {
		v, _ := e.gauge("registrar_writes_total", map[string]string{"operation": "apply"})
		return v
	}
	e.quiet()
	before := applies()
	c.advance(time.Until(renewAfter) + time.Second) // the drift checks reconcile often enough
	s = tv.eventuallyTokenRegistered(first)
	second := tokenOf(t, s)
	if time.Now().After(notAfter) {
		t.Fatal("the token was replaced only after it expired")
	}
	e.settledWrites()
	if n := applies() - before; n != 1 {
		t.Errorf("%v updates of the registration for one renewal, want 1", n)
	}
	for name, tok := range map[string]string{"renewed": second, "previous": first} {
		if err := listNamespacesWith(tv.tokenClient(s, tok)); err != nil {
			t.Errorf("the %s token does not work: %v", name, err)
		}
	}

	before = applies()
	tv.annotate(api.RotateTokenAnnotation, "2026-12-02")
	s = tv.eventuallyTokenRegistered(second)
	wantAnnotation(t, s, api.TokenRotationAnnotation, "2026-12-02")
	e.settledWrites()
	if n := applies() - before; n != 1 {
		t.Errorf("%v updates of the registration for one rotation, want 1", n)
	}
	if err := listNamespacesWith(tv.argocdClient(s)); err != nil {
		t.Errorf("the rotated token does not work: %v", err)
	}
}

// TestRevocation: switching a vcluster back to the admin identity
// registers its certificate and deletes the ServiceAccount and what the
// registrar bound to it, so a token the registrar had written gets 401;
// opting out of registration, or a namespace no longer trusted, does the
// same.
func TestRevocation(t *testing.T) {
	e, tv := newTokenWorld(t, "vcluster-revoke")
	tv.create(serviceAccountIdentity)
	s := tv.eventuallyTokenRegistered("")
	token := tokenOf(t, s)

	tv.annotate(api.IdentityAnnotation, api.IdentityAdmin)
	e.eventually("the registration carries the admin certificate again", func() bool {
		s = e.registration(tv.ns, tv.name)
		return s != nil && contains(configOf(t, s), b64(tv.vc.PKI.ClientCert)) && s.Annotations[api.IdentityAnnotation] == ""
	})
	note := e.eventuallyEvent(tv.workload, api.ReasonIdentityRevoked)
	for _, want := range []string{"ServiceAccount kube-system/argocd-manager", "ClusterRoleBinding argocd-manager-role-binding", "ClusterRole argocd-manager-role"} {
		if !strings.Contains(note, want) {
			t.Errorf("IdentityRevoked event %q does not name %s", note, want)
		}
	}
	e.eventually("the old token is refused", func() bool {
		return apierrors.IsUnauthorized(listNamespacesWith(tv.tokenClient(s, token)))
	})
	if tv.getInside(&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "argocd-manager-role-binding"}}) {
		t.Error("the binding survived the revocation")
	}

	tv.annotate(api.IdentityAnnotation, api.IdentityServiceAccount)
	s = tv.eventuallyTokenRegistered("")
	token = tokenOf(t, s)
	tv.annotate(api.IgnoreAnnotation, "true")
	e.eventuallyDeregistered(tv.ns, tv.name)
	e.eventually("the token is refused after the opt-out", func() bool {
		return apierrors.IsUnauthorized(listNamespacesWith(tv.tokenClient(s, token)))
	})

	// A namespace that is no longer trusted: the same.
	tv.annotate(api.IgnoreAnnotation, "")
	s = tv.eventuallyTokenRegistered("")
	token = tokenOf(t, s)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tv.ns}}
	e.update(ns, func() { delete(ns.Labels, testLabel) })
	e.eventuallyDeregistered(tv.ns, tv.name)
	e.eventually("the token is refused once the namespace is no longer trusted", func() bool {
		return apierrors.IsUnauthorized(listNamespacesWith(tv.tokenClient(s, token)))
	})
	if tv.getInside(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "argocd-manager", Namespace: "kube-system"}}) {
		t.Error("the ServiceAccount survived its namespace's loss of trust")
	}
}

// TestNamespaceScopedIdentity: with registrar.dev/namespaces the
// ServiceAccount gets a Role and RoleBinding in those namespaces only, as
// `argocd cluster add --namespace` grants: Argo CD may work there, and is
// refused (403) a cluster-wide list of Secrets.
func TestNamespaceScopedIdentity(t *testing.T) {
	e, tv := newTokenWorld(t, "vcluster-scoped")
	if err := tv.admin.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}); err != nil {
		t.Fatal(err)
	}
	tv.create(map[string]string{api.IdentityAnnotation: api.IdentityServiceAccount, api.NamespacesAnnotation: "team-a"})
	s := tv.eventuallyTokenRegistered("")
	wantAnnotation(t, s, api.IdentityScopeAnnotation, "namespaces:argocd-manager-role:team-a")
	argocd := tv.argocdClient(s)
	ctx := context.Background()
	if _, err := argocd.CoreV1().ConfigMaps("team-a").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("listing ConfigMaps in team-a: %v", err)
	}
	if _, err := argocd.CoreV1().Secrets("").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing Secrets cluster-wide: %v, want 403", err)
	}
	if _, err := argocd.CoreV1().Secrets("kube-system").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing Secrets in kube-system: %v, want 403", err)
	}
	if tv.getInside(&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "argocd-manager-role-binding"}}) ||
		tv.getInside(&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "argocd-manager-role"}}) {
		t.Error("a namespace-scoped identity got a cluster-wide role or binding")
	}
	for _, obj := range []client.Object{
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "argocd-manager-role", Namespace: "team-a"}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "argocd-manager-role-binding", Namespace: "team-a"}},
	} {
		if !tv.getInside(obj) {
			t.Errorf("%T team-a/%s is missing", obj, obj.GetName())
		}
	}

	// Binding an existing ClusterRole instead: the RoleBinding is replaced,
	// the Role the registrar made is removed, the token is kept.
	token := tokenOf(t, s)
	reader := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "configmap-reader"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list"}}}}
	if err := tv.admin.Create(ctx, reader); err != nil {
		t.Fatal(err)
	}
	tv.annotate(api.IdentityClusterRoleAnnotation, "configmap-reader")
	e.eventually("the registration records the new scope", func() bool {
		s = e.registration(tv.ns, tv.name)
		return s != nil && s.Annotations[api.IdentityScopeAnnotation] == "namespaces:configmap-reader:team-a"
	})
	if tokenOf(t, s) != token {
		t.Error("a change of scope issued a new token")
	}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "argocd-manager-role-binding", Namespace: "team-a"}}
	if !tv.getInside(binding) || binding.RoleRef.Kind != "ClusterRole" || binding.RoleRef.Name != "configmap-reader" {
		t.Errorf("RoleBinding team-a/argocd-manager-role-binding binds %+v, want ClusterRole configmap-reader", binding.RoleRef)
	}
	if tv.getInside(&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "argocd-manager-role", Namespace: "team-a"}}) {
		t.Error("the Role the registrar made survived the switch to an existing ClusterRole")
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "team-a"}}
	if _, err := argocd.CoreV1().ConfigMaps("team-a").Create(ctx, cm, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("creating a ConfigMap with a ClusterRole that reads them: %v, want 403", err)
	}
	if _, err := argocd.CoreV1().ConfigMaps("team-a").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("listing ConfigMaps with a ClusterRole that reads them: %v", err)
	}
}

// TestForeignManagerServiceAccountIsLeftAlone: an argocd-manager the
// registrar did not create is not taken over; a Warning says so, and
// nothing is registered: not the admin credentials either.
func TestForeignManagerServiceAccountIsLeftAlone(t *testing.T) {
	e, tv := newTokenWorld(t, "vcluster-foreign")
	foreign := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "argocd-manager", Namespace: "kube-system",
		Labels: map[string]string{"owner": "someone-else"}}}
	if err := tv.admin.Create(context.Background(), foreign); err != nil {
		t.Fatal(err)
	}
	tv.create(serviceAccountIdentity)
	note := e.eventuallyEvent(tv.workload, api.ReasonIdentityFailed)
	for _, want := range []string{"ServiceAccount kube-system/argocd-manager", "does not carry label app.kubernetes.io/managed-by=registrar", "not handed out"} {
		if !strings.Contains(note, want) {
			t.Errorf("IdentityFailed event %q does not say %q", note, want)
		}
	}
	e.neverRegistered(tv.ns, tv.name)
	after := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "argocd-manager", Namespace: "kube-system"}}
	if !tv.getInside(after) || after.UID != foreign.UID || after.Labels[api.ManagedByLabel] != "" {
		t.Error("the foreign ServiceAccount was replaced or relabelled")
	}
	if tv.getInside(&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "argocd-manager-role-binding"}}) {
		t.Error("the foreign ServiceAccount was bound to a role")
	}
}

// TestIdentityFailureNeverHandsOutTheAdminCertificate: when the token
// cannot be renewed (the vcluster's API server is down), a Warning says so
// and the registration keeps its token, never turning into the admin
// certificate; once the vcluster is back a new token is issued.
func TestIdentityFailureNeverHandsOutTheAdminCertificate(t *testing.T) {
	e, tv := newTokenWorld(t, "vcluster-failsafe")
	tv.create(serviceAccountIdentity)
	s := tv.eventuallyTokenRegistered("")
	token := tokenOf(t, s)

	tv.standIn.StopAPIServer()
	tv.annotate(api.RotateTokenAnnotation, "1")
	note := e.eventuallyEvent(tv.workload, api.ReasonIdentityFailed)
	for _, want := range []string{"not handed out", "keeps its current token"} {
		if !strings.Contains(note, want) {
			t.Errorf("IdentityFailed event %q does not say %q", note, want)
		}
	}
	e.consistently("the registration keeps its token and no certificate", 2*time.Second, func() bool {
		s := e.registration(tv.ns, tv.name)
		return s != nil && tokenOf(t, s) == token && !contains(configOf(t, s), `"certData"`)
	})

	if err := tv.standIn.StartAPIServer(context.Background()); err != nil {
		t.Fatal(err)
	}
	tv.annotate(api.RotateTokenAnnotation, "2")
	e.eventually("a token issued for rotation 2 is registered", func() bool {
		s = e.registration(tv.ns, tv.name)
		return s != nil && s.Annotations[api.TokenRotationAnnotation] == "2" && tokenOf(t, s) != token
	})
	if err := listNamespacesWith(tv.argocdClient(s)); err != nil {
		t.Errorf("the token issued after the outage does not work: %v", err)
	}
}

// TestDryRunSetsUpNoIdentity: `registrar plan` with the
// ServiceAccount identity reaches into no vcluster: it reports the
// registration it would make and writes nothing.
func TestDryRunSetsUpNoIdentity(t *testing.T) {
	e := newWorld(t)
	ns := e.createNamespace("vcluster-dry-identity", true)
	e.newVCluster(ns, "sandbox")
	run := e.plan("--identity=serviceaccount")
	run.wantCode(t, 1)
	f := run.line(t, ns, "sandbox")
	if reason := strings.Join(f[4:], " "); f[1] != string(reconcile.DecisionRegister) || !strings.Contains(reason, "would set up ServiceAccount kube-system/argocd-manager") {
		t.Errorf("line %q: want a register decision that says it would set up the ServiceAccount", strings.Join(f, " "))
	}
	e.neverRegistered(ns, "sandbox")
}
