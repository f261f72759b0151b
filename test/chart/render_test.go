package chart

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// strict decodes rendered manifests into typed objects and refuses unknown
// or duplicate fields, so a misplaced key in a template fails here.
var strict = serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

// release is one `helm template` of the chart: its name and namespace, the
// values given with --set and, for lists of objects --set spells badly,
// a values file (a path).
type release struct {
	name, namespace string
	set             []string
	valuesFile      string
}

// manifests are the rendered objects, typed where client-go knows the kind
// (everything but the ServiceMonitor) and as unstructured for applying.
type manifests struct {
	typed []runtime.Object
	raw   []*unstructured.Unstructured
}

// helmRun runs helm and returns its stdout, and stderr in the error.
func helmRun(args ...string) (string, error) {
	cmd := exec.Command(helmBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), errors.New(err.Error() + ": " + stderr.String())
	}
	return stdout.String(), nil
}

func (r release) args(cmd ...string) []string {
	args := append(cmd, r.name, chartDir, "--namespace", r.namespace)
	if r.valuesFile != "" {
		args = append(args, "--values", r.valuesFile)
	}
	for _, s := range r.set {
		args = append(args, "--set", s)
	}
	return args
}

// template renders the chart, failing the test if helm refuses.
func (r release) template(t *testing.T) *manifests {
	t.Helper()
	out, err := helmRun(r.args("template")...)
	if err != nil {
		t.Fatalf("helm template %v: %v", r.set, err)
	}
	return decode(t, out)
}

func decode(t *testing.T, out string) *manifests {
	t.Helper()
	m := &manifests{}
	docs := yaml.NewYAMLReader(bufio.NewReader(strings.NewReader(out)))
	for {
		doc, err := docs.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			t.Fatalf("rendered YAML does not parse: %v\n%s", err, doc)
		}
		if len(u.Object) == 0 {
			continue // a template that rendered nothing
		}
		m.raw = append(m.raw, u)
		obj, _, err := strict.Decode(doc, nil, nil)
		switch {
		case runtime.IsNotRegisteredError(err):
			continue // the ServiceMonitor: checked as unstructured and by the API server
		case err != nil:
			t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
		}
		m.typed = append(m.typed, obj)
	}
	return m
}

// only returns the only rendered object of type T, a kind.
func only[T any](t *testing.T, m *manifests, kind string) T {
	t.Helper()
	var found []T
	for _, o := range m.typed {
		if v, ok := o.(T); ok {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want 1 %s, rendered %d", kind, len(found))
	}
	return found[0]
}

// deployment returns the only Deployment.
func (m *manifests) deployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	return only[*appsv1.Deployment](t, m, "Deployment")
}

// container returns the Deployment's only container.
func (m *manifests) container(t *testing.T) corev1.Container {
	t.Helper()
	cs := m.deployment(t).Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("want 1 container, rendered %d", len(cs))
	}
	return cs[0]
}

// grant is one RBAC rule set as the API server sees it: where it applies
// ("" is cluster-wide) and what it allows.
type grant struct {
	Namespace string
	Rules     []rbacv1.PolicyRule
}

// grants returns the rules bound to the chart's ServiceAccount, keyed by
// role name, after checking each binding refers to a role the chart renders.
func (m *manifests) grants(t *testing.T, sa, saNamespace string) map[string]grant {
	t.Helper()
	roles := map[string]grant{}
	for _, o := range m.typed {
		switch r := o.(type) {
		case *rbacv1.ClusterRole:
			if isMetricsReader(r.Name) {
				continue // for scrapers, never bound to the registrar
			}
			roles["ClusterRole/"+r.Name] = grant{Rules: r.Rules}
		case *rbacv1.Role:
			roles["Role/"+r.Namespace+"/"+r.Name] = grant{Namespace: r.Namespace, Rules: r.Rules}
		}
	}
	bound := map[string]grant{}
	bind := func(kind, ns, name string, ref rbacv1.RoleRef, subjects []rbacv1.Subject) {
		if len(subjects) != 1 || subjects[0].Kind != "ServiceAccount" || subjects[0].Name != sa || subjects[0].Namespace != saNamespace {
			t.Errorf("%s %s binds %+v, want only ServiceAccount %s/%s", kind, name, subjects, saNamespace, sa)
		}
		key := ref.Kind + "/" + name
		if ref.Kind == "Role" {
			key = "Role/" + ns + "/" + ref.Name
		}
		g, ok := roles[key]
		if !ok {
			t.Errorf("%s %s refers to %s, which the chart does not render", kind, name, key)
		}
		if ref.Kind == "ClusterRole" && ns != "" {
			g.Namespace = ns // a RoleBinding to a ClusterRole grants in its namespace only
		}
		bound[key] = g
	}
	for _, o := range m.typed {
		switch b := o.(type) {
		case *rbacv1.ClusterRoleBinding:
			if isMetricsReader(b.RoleRef.Name) {
				continue
			}
			bind("ClusterRoleBinding", "", b.RoleRef.Name, b.RoleRef, b.Subjects)
		case *rbacv1.RoleBinding:
			bind("RoleBinding", b.Namespace, b.RoleRef.Name, b.RoleRef, b.Subjects)
		}
	}
	for key := range roles {
		if _, ok := bound[key]; !ok {
			t.Errorf("%s is bound to nothing", key)
		}
	}
	return bound
}

// isMetricsReader says whether a ClusterRole is the one the chart makes
// for metrics scrapers (rbac-metrics.yaml).
func isMetricsReader(name string) bool { return strings.HasSuffix(name, "-metrics-reader") }

// kinds counts the rendered objects by kind.
func (m *manifests) kinds() map[string]int {
	n := map[string]int{}
	for _, u := range m.raw {
		n[u.GetKind()]++
	}
	return n
}

// objects returns the rendered objects as unstructured client objects.
func (m *manifests) objects() []client.Object {
	out := make([]client.Object, len(m.raw))
	for i, u := range m.raw {
		out[i] = u.DeepCopy()
	}
	return out
}
