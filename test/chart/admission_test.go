package chart

import (
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/test/fixture"
)

// registrarAnnotations are the values of every expression of pkg/ spelt
// Prefix + "..." (api.Prefix + "..." outside pkg/api):
// the annotation (and label) keys the registrar defines, those later
// features add included, without a list kept by hand.
func registrarAnnotations(t *testing.T) []string {
	t.Helper()
	var keys []string
	var files []string
	dirs, err := filepath.Glob("../../pkg/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		matches, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range matches {
			if !strings.HasSuffix(m, "_test.go") {
				files = append(files, m)
			}
		}
	}
	isPrefix := func(e ast.Expr) bool {
		switch e := e.(type) {
		case *ast.Ident:
			return e.Name == "Prefix"
		case *ast.SelectorExpr:
			pkg, ok := e.X.(*ast.Ident)
			return ok && pkg.Name == "api" && e.Sel.Name == "Prefix"
		}
		return false
	}
	for _, file := range files {
		f, err := parser.ParseFile(gotoken.NewFileSet(), file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			b, ok := n.(*ast.BinaryExpr)
			if !ok || b.Op != gotoken.ADD {
				return true
			}
			if isPrefix(b.X) {
				if lit, ok := b.Y.(*ast.BasicLit); ok {
					v, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					keys = append(keys, api.Prefix+v)
				}
			}
			return true
		})
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	if len(keys) < 9 {
		t.Fatalf("found %d registrar.dev/ keys in pkg/ (%v); the parse missed some", len(keys), keys)
	}
	return keys
}

// as is a client of the test API server acting as user (in groups).
func as(t *testing.T, user string, groups ...string) client.Client {
	t.Helper()
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
	cl, err := client.New(c, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// mayEditWorkloads lets users edit StatefulSets, Deployments and
// Namespaces, as a tenant with edit rights would: RBAC lets them through,
// so that only the guard can refuse.
func mayEditWorkloads(t *testing.T, id string, users ...string) {
	t.Helper()
	ctx := context.Background()
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "edit-workloads-" + id}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{"apps"}, Resources: []string{"statefulsets", "deployments"}, Verbs: []string{"get", "create", "update", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "update", "patch"}},
	}}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name}}
	for _, u := range users {
		binding.Subjects = append(binding.Subjects, rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: "User", Name: u})
	}
	for _, o := range []client.Object{role, binding} {
		if err := k8sClient.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), o) })
	}
}

// annotate merge-patches annotations onto obj as c; a nil value removes
// the key.
func annotate(c client.Client, obj client.Object, annotations map[string]*string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": annotations}})
	if err != nil {
		return err
	}
	return c.Patch(context.Background(), obj, client.RawPatch(types.MergePatchType, patch))
}

func str(s string) *string { return &s }

// dryRunAnnotate asks c to set annotation key=value on obj in a dry run,
// which admission sees and which changes nothing.
func dryRunAnnotate(c client.Client, obj client.Object, key, value string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{key: value}}})
	if err != nil {
		return err
	}
	return c.Patch(context.Background(), obj.DeepCopyObject().(client.Object), client.RawPatch(types.MergePatchType, patch), client.DryRunAll)
}

// The admission guard, on the real kube-apiserver of the tests: a tenant
// who may edit a vcluster's StatefulSet and Namespace is refused any change
// of a registrar annotation, with a message naming the policy, and may still
// change any other annotation; a listed group, a listed controller and the
// registrar itself are admitted.
func TestAdmissionGuardRefusesTenantsTheRegistrarAnnotations(t *testing.T) {
	id := fixture.RandomID()
	ns := "registrar-" + id
	createNamespace(t, ns, nil)
	createNamespace(t, "argocd-"+id, nil)
	controller := "system:serviceaccount:argocd:argocd-application-controller"
	m := release{name: "r" + id, namespace: ns, set: []string{
		"argocdNamespace=argocd-" + id, "admissionGuard.enabled=true", "admissionGuard.allowedGroups={platform-admins}",
		"admissionGuard.allowedControllers={" + controller + "}",
	}}.template(t)
	var policy string
	for _, u := range m.raw {
		if u.GetKind() == "ValidatingAdmissionPolicy" {
			policy = u.GetName()
		}
	}
	if policy == "" || m.kinds()["ValidatingAdmissionPolicyBinding"] != 1 {
		t.Fatalf("admissionGuard.enabled rendered %v", m.kinds())
	}
	apply(t, m)
	// The policy is cluster-wide: remove it before the next test of this API
	// server writes annotations as admin.
	var sts client.Object
	t.Cleanup(func() {
		for _, o := range m.objects() {
			if strings.HasPrefix(o.GetObjectKind().GroupVersionKind().Kind, "ValidatingAdmissionPolicy") {
				_ = k8sClient.Delete(context.Background(), o)
			}
		}
		if sts != nil {
			fixture.Eventually(t, "the API server drops the policy", func() bool {
				return dryRunAnnotate(k8sClient, sts, api.ClusterNameAnnotation, "after") == nil
			}, fixture.Within(timeout))
		}
	})

	vcNS := "vc-" + id
	createNamespace(t, vcNS, nil)
	vc, err := fixture.NewVCluster("sandbox", vcNS)
	if err != nil {
		t.Fatal(err)
	}
	sts, err = vc.Create(context.Background(), k8sClient)
	if err != nil {
		t.Fatal(err)
	}

	namespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: vcNS}}
	mayEditWorkloads(t, id, "tenant", "alice", controller)
	tenant := as(t, "tenant", "team-a")

	// The policy takes effect once the API server has loaded it: probe with
	// dry runs, which admission sees and which change nothing either way.
	attempt := 0
	fixture.Eventually(t, "the tenant is refused a registrar annotation", func() bool {
		attempt++
		err := dryRunAnnotate(tenant, sts, api.ClusterNameAnnotation, fmt.Sprintf("probe-%d", attempt))
		return err != nil && strings.Contains(err.Error(), policy)
	}, fixture.Within(timeout))

	for _, key := range registrarAnnotations(t) {
		err := annotate(tenant, sts, map[string]*string{key: str("x")})
		if err == nil || !strings.Contains(err.Error(), "ValidatingAdmissionPolicy '"+policy+"'") || !strings.Contains(err.Error(), key) {
			t.Errorf("the tenant setting %s on the StatefulSet: %v; want a refusal naming the policy and the key", key, err)
		}
	}
	if err := annotate(tenant, namespace, map[string]*string{api.IgnoreAnnotation: str("true")}); err == nil || !strings.Contains(err.Error(), policy) {
		t.Errorf("the tenant opting the Namespace out: %v; want a refusal naming the policy", err)
	}
	if err := annotate(tenant, sts, map[string]*string{"example.com/owner": str("team-a")}); err != nil {
		t.Errorf("the tenant changing an unrelated annotation was refused: %v", err)
	}

	// Allowed: a member of a listed group, a listed controller, the registrar.
	alice := as(t, "alice", "platform-admins")
	if err := annotate(alice, sts, map[string]*string{api.ProjectAnnotation: str("team-a")}); err != nil {
		t.Errorf("a platform admin setting %s was refused: %v", api.ProjectAnnotation, err)
	}
	if err := annotate(alice, namespace, map[string]*string{api.ShardAnnotation: str("1")}); err != nil {
		t.Errorf("a platform admin setting %s on the Namespace was refused: %v", api.ShardAnnotation, err)
	}
	if err := annotate(as(t, controller), sts, map[string]*string{api.ProjectAnnotation: str("team-b")}); err != nil {
		t.Errorf("the listed controller was refused: %v", err)
	}
	registrarSA := "system:serviceaccount:" + ns + ":" + m.deployment(t).Spec.Template.Spec.ServiceAccountName
	mayEditWorkloads(t, id+"-sa", registrarSA)
	if err := annotate(as(t, registrarSA), sts, map[string]*string{api.NamespacesAnnotation: str("default")}); err != nil {
		t.Errorf("the registrar's ServiceAccount was refused: %v", err)
	}

	// With registrar annotations in place, other changes still pass.
	if err := annotate(tenant, sts, map[string]*string{"example.com/owner": str("team-b")}); err != nil {
		t.Errorf("the tenant changing an unrelated annotation beside registrar ones was refused: %v", err)
	}

	// Removing what an admin set is a change too; so is creating a
	// StatefulSet that already carries one, even without vcluster's labels.
	if err := annotate(tenant, sts, map[string]*string{api.ProjectAnnotation: nil}); err == nil || !strings.Contains(err.Error(), policy) {
		t.Errorf("the tenant removing %s: %v; want a refusal", api.ProjectAnnotation, err)
	}
	sneaky := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "sneaky", Namespace: vcNS,
		Annotations: map[string]string{api.ClusterNameAnnotation: "production"}},
		Spec: vc.StatefulSet().Spec}
	sneaky.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "sneaky"}}
	sneaky.Spec.Template.Labels = map[string]string{"app": "sneaky"}
	if err := tenant.Create(context.Background(), sneaky); err == nil || !strings.Contains(err.Error(), policy) {
		t.Errorf("the tenant creating an unlabelled StatefulSet with %s: %v; want a refusal", api.ClusterNameAnnotation, err)
	}
	var got appsv1.StatefulSet
	if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(sts), &got); err != nil {
		t.Fatal(err)
	}
	if got.Annotations[api.ProjectAnnotation] != "team-b" || got.Annotations[api.ClusterNameAnnotation] != "" {
		t.Errorf("annotations after the tenant's attempts: %v", got.Annotations)
	}
}

// The guard needs ValidatingAdmissionPolicy v1 (Kubernetes 1.30): below
// it the chart fails, saying so; it renders nothing unless enabled, and
// guards the prefix of the registrar's keys.
func TestAdmissionGuardNeedsKubernetes130(t *testing.T) {
	r := release{name: "registrar", namespace: "argocd", set: []string{"admissionGuard.enabled=true"}}
	_, err := helmRun(append(r.args("template"), "--kube-version", "1.29.9")...)
	if err == nil || !strings.Contains(err.Error(), "admissionGuard.enabled needs Kubernetes 1.30 or later") || !strings.Contains(err.Error(), "v1.29.9") {
		t.Errorf("helm template for Kubernetes 1.29: %v; want a refusal naming 1.30 and the cluster's version", err)
	}
	out, err := helmRun(append(r.args("template"), "--kube-version", "1.30.0")...)
	if err != nil {
		t.Fatalf("helm template for Kubernetes 1.30: %v", err)
	}
	m := decode(t, out)
	if m.kinds()["ValidatingAdmissionPolicy"] != 1 {
		t.Errorf("no policy rendered for Kubernetes 1.30: %v", m.kinds())
	}
	if !strings.Contains(out, "startsWith('"+api.Prefix+"')") {
		t.Errorf("the policy does not guard the prefix %s of the registrar's keys", api.Prefix)
	}
	if kinds := (release{name: "registrar", namespace: "argocd"}).template(t).kinds(); kinds["ValidatingAdmissionPolicy"] != 0 {
		t.Errorf("the guard is rendered by default: %v", kinds)
	}
}
