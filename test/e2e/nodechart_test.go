//go:build e2e && e2enode

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestAdmissionGuard turns on the chart's admission guard and has the
// node's API server enforce it: a tenant's change to a registrar.dev/
// annotation is refused with the policy named, its change to any other
// annotation is not, and a listed controller may change them.
func TestAdmissionGuard(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	const ns = "e2e-guard"
	gitops := "system:serviceaccount:" + ns + ":gitops"
	n.helmUpgrade(t, "--set", "admissionGuard.enabled=true", "--set", "admissionGuard.allowedControllers={"+gitops+"}")
	t.Cleanup(func() { n.helmUpgrade(t, "--set", "admissionGuard.enabled=false") })

	create(ctx, t, n.host, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	create(ctx, t, n.host, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "workloads", Namespace: ns},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"apps"}, Resources: []string{"statefulsets"},
			Verbs: []string{"get", "patch", "update"}}},
	})
	create(ctx, t, n.host, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "workloads", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "workloads"},
		Subjects: []rbacv1.Subject{
			{Kind: rbacv1.ServiceAccountKind, Name: "tenant", Namespace: ns},
			{Kind: rbacv1.ServiceAccountKind, Name: "gitops", Namespace: ns},
		},
	})
	// Not a vcluster: the guard covers every StatefulSet, and the registrar
	// ignores this one.
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr(int32(0)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "guarded"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "guarded"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: nodePause}}},
			},
		},
	}
	create(ctx, t, n.host, sts)

	tenant := n.as(t, ns, "tenant")
	annotate := func(c client.Client, key, value string) error {
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, key, value)
		obj := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: sts.Name, Namespace: ns}}
		return c.Patch(ctx, obj, client.RawPatch("application/merge-patch+json", []byte(patch)))
	}
	// The API server loads a new policy within a second or so: a value
	// of its own for each attempt, so that none is a no-op.
	var refused error
	attempt := 0
	eventually(t, time.Minute, "the tenant's registrar.dev/project refused", func(context.Context) (bool, string, error) {
		attempt++
		refused = annotate(tenant, "registrar.dev/project", fmt.Sprintf("team-%d", attempt))
		return refused != nil, "admitted", nil
	})
	for _, want := range []string{"ValidatingAdmissionPolicy 'registrar-annotations'", "registrar.dev/project", "admissionGuard"} {
		if !strings.Contains(refused.Error(), want) {
			t.Errorf("the refusal does not say %q: %v", want, refused)
		}
	}
	t.Logf("tenant refused: %v", refused)
	if err := annotate(tenant, "team.example.com/owner", "tenant"); err != nil {
		t.Errorf("the tenant's own annotation refused: %v", err)
	}
	if err := annotate(n.as(t, ns, "gitops"), "registrar.dev/project", "platform"); err != nil {
		t.Errorf("the listed controller %s refused: %v", gitops, err)
	}
}

// as is a client acting as ServiceAccount ns/name, by impersonation.
func (n node) as(t *testing.T, ns, name string) client.Client {
	t.Helper()
	cfg, _, _, _ := clusterClients(t)
	cfg = rest.CopyConfig(cfg)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + ns + ":" + name,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRegistrarCost reads what the registrar's container costs, as the
// kubelet measures it (its summary API, from the container's cgroup): the
// memory working set, and the CPU used over one quiet minute, beside the
// chart's requests and limits.
func TestRegistrarCost(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	pod := n.registrarPod(ctx, t)
	registrations := len(n.registrations(ctx, t))
	first := n.containerStats(ctx, t, pod, "registrar")
	time.Sleep(time.Minute)
	last := n.containerStats(ctx, t, pod, "registrar")

	elapsed := last.CPU.Time.Sub(first.CPU.Time.Time)
	if elapsed <= 0 || last.CPU.UsageCoreNanoSeconds < first.CPU.UsageCoreNanoSeconds {
		t.Fatalf("the kubelet's CPU figures did not advance: %+v then %+v", first.CPU, last.CPU)
	}
	millicores := float64(last.CPU.UsageCoreNanoSeconds-first.CPU.UsageCoreNanoSeconds) / float64(elapsed.Nanoseconds()) * 1000
	ws := float64(last.Memory.WorkingSetBytes) / (1 << 20)
	var res corev1.ResourceRequirements
	for _, c := range pod.Spec.Containers {
		if c.Name == "registrar" {
			res = c.Resources
		}
	}
	t.Logf("registrar with %d registrations, over a quiet %s: CPU %.1fm (request %s), memory working set %.1f MiB (request %s, limit %s)",
		registrations, elapsed.Round(time.Second), millicores, res.Requests.Cpu(), ws, res.Requests.Memory(), res.Limits.Memory())
	if limit := res.Limits.Memory(); !limit.IsZero() && last.Memory.WorkingSetBytes >= uint64(limit.Value()) {
		t.Errorf("working set %.1f MiB at or above the chart's limit %s", ws, limit)
	}
	if req := res.Requests.Cpu(); !req.IsZero() && millicores > float64(req.MilliValue()) {
		t.Errorf("a quiet minute used %.1fm CPU, above the chart's request %s", millicores, req)
	}
}

// containerStats are the kubelet's figures for container name of pod
// (stats/summary, k8s.io/kubelet/pkg/apis/stats/v1alpha1), read through
// the API server's node proxy.
type containerStats struct {
	CPU struct {
		Time                 metav1.Time `json:"time"`
		UsageCoreNanoSeconds uint64      `json:"usageCoreNanoSeconds"`
	} `json:"cpu"`
	Memory struct {
		WorkingSetBytes uint64 `json:"workingSetBytes"`
	} `json:"memory"`
}

func (n node) containerStats(ctx context.Context, t *testing.T, pod *corev1.Pod, name string) containerStats {
	t.Helper()
	raw, err := n.cs.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes", pod.Spec.NodeName, "proxy", "stats", "summary").DoRaw(ctx)
	if err != nil {
		t.Fatalf("the kubelet's summary of node %s: %v", pod.Spec.NodeName, err)
	}
	var summary struct {
		Pods []struct {
			PodRef struct {
				Name, Namespace string
			} `json:"podRef"`
			Containers []struct {
				Name string `json:"name"`
				containerStats
			} `json:"containers"`
		} `json:"pods"`
	}
	if err := json.Unmarshal(raw, &summary); err != nil {
		t.Fatal(err)
	}
	for _, p := range summary.Pods {
		if p.PodRef.Namespace != pod.Namespace || p.PodRef.Name != pod.Name {
			continue
		}
		for _, c := range p.Containers {
			if c.Name == name {
				return c.containerStats
			}
		}
	}
	t.Fatalf("the kubelet's summary has no container %s of pod %s/%s", name, pod.Namespace, pod.Name)
	return containerStats{}
}
