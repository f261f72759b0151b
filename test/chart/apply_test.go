package chart

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/registrar-dev/registrar/test/fixture"
)

// Every rendered manifest is accepted by a real kube-apiserver with strict
// field validation: an unknown or misplaced field, a wrong type or an
// invalid value fails here, as it would in `helm install`.
func TestManifestsApplyToAPIServer(t *testing.T) {
	for name, set := range map[string][]string{
		"defaults": nil,
		"everything": {
			"watchNamespaces={ns1,ns2}", "replicaCount=2", "metrics.service.enabled=true",
			"serviceMonitor.enabled=true", "serviceMonitor.labels.release=prom",
			"metrics.service.annotations.example\\.com/a=b", "commonLabels.team=platform",
			"podLabels.x=y", "podAnnotations.z=w", "nodeSelector.kubernetes\\.io/os=linux",
			"tolerations[0].key=k", "tolerations[0].operator=Exists",
			"imagePullSecrets[0].name=pull", "serviceAccount.annotations.a=b",
			"prometheusRule.enabled=true", "prometheusRule.labels.release=prom",
			"prometheusRule.alertLabels.team=platform", "grafanaDashboard.enabled=true",
			"cronJob.enabled=true", "cronJob.command=plan",
		},
	} {
		t.Run(name, func(t *testing.T) {
			id := fixture.RandomID()
			ns := "registrar-" + id
			r := release{name: "r" + id, namespace: ns, set: append(set, "argocdNamespace=argocd-"+id)}
			// watchNamespaces are rendered as ns1/ns2: make them unique too.
			for i, s := range r.set {
				if s == "watchNamespaces={ns1,ns2}" {
					r.set[i] = "watchNamespaces={ns1-" + id + ",ns2-" + id + "}"
				}
			}
			for _, n := range []string{ns, "argocd-" + id, "ns1-" + id, "ns2-" + id} {
				createNamespace(t, n, nil)
			}
			m := r.template(t)
			apply(t, m)
			if k := m.kinds(); name == "everything" && (k["ServiceMonitor"] != 1 || k["PrometheusRule"] != 1 || k["ConfigMap"] != 1 || k["CronJob"] != 1 || k["Pod"] != 1) {
				t.Errorf("want a ServiceMonitor, a PrometheusRule, a dashboard ConfigMap, a CronJob and the helm test Pod applied: %v", k)
			}
		})
	}
}

// The conventional values (extraVolumes, a PodDisruptionBudget, topology
// spread, relabelings, extraObjects, ...) render objects the API server
// accepts as they are.
func TestConventionalValuesApplyToAPIServer(t *testing.T) {
	id := fixture.RandomID()
	ns := "registrar-" + id
	r := conventionalRelease(t, "r"+id, ns)
	r.set = []string{"argocdNamespace=argocd-" + id}
	for _, n := range []string{ns, "argocd-" + id} {
		createNamespace(t, n, nil)
	}
	m := r.template(t)
	apply(t, m)
	if k := m.kinds(); k["PodDisruptionBudget"] != 1 || k["ServiceMonitor"] != 1 || k["ConfigMap"] != 2 {
		t.Errorf("want a PodDisruptionBudget, a ServiceMonitor and two extraObjects applied: %v", k)
	}
}

// The check above can fail: the same API server refuses a Deployment with
// a field the schema does not know.
func TestStrictValidationRefusesUnknownFields(t *testing.T) {
	id := fixture.RandomID()
	ns := "registrar-" + id
	createNamespace(t, ns, nil)
	m := release{name: "r" + id, namespace: ns}.template(t)
	for _, u := range m.raw {
		if u.GetKind() != "Deployment" {
			continue
		}
		bad := u.DeepCopy()
		if err := unstructured.SetNestedField(bad.Object, "true", "spec", "template", "spec", "runAsNonRoot"); err != nil {
			t.Fatal(err)
		}
		err := k8sClient.Create(context.Background(), bad, client.FieldValidation("Strict"))
		if err == nil || !strings.Contains(err.Error(), "runAsNonRoot") {
			t.Errorf("a misplaced runAsNonRoot was accepted: %v", err)
		}
		return
	}
	t.Fatal("no Deployment rendered")
}

// apply creates every rendered object, as `helm install` does, refusing
// unknown fields.
func apply(t *testing.T, m *manifests) {
	t.Helper()
	if len(m.raw) == 0 {
		t.Fatal("nothing rendered")
	}
	for _, obj := range m.objects() {
		if err := k8sClient.Create(context.Background(), obj, client.FieldValidation("Strict")); err != nil {
			t.Errorf("API server refused %s %s/%s: %v", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetNamespace(), obj.GetName(), err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

func createNamespace(t *testing.T, name string, labels map[string]string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
}
