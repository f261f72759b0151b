package chart

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// conventionalValues sets every value platform teams look for first (the
// ones argo-helm, cert-manager and external-secrets charts have), as a
// values file: lists of objects are clumsy with --set.
const conventionalValues = `
replicaCount: 2
revisionHistoryLimit: 3
strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
podDisruptionBudget: {enabled: true, minAvailable: 1}
extraArgs: [--leader-election-lease-duration=30s, --zap-time-encoding=iso8601]
extraEnv: [{name: HTTPS_PROXY, value: "http://proxy:3128"}]
extraVolumes: [{name: ca, configMap: {name: corporate-ca}}]
extraVolumeMounts: [{name: ca, mountPath: /etc/ssl/corporate, readOnly: true}]
topologySpreadConstraints:
  - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway}
  - {maxSkew: 2, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {tier: gold}}}
image: {digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", tag: ignored}
serviceAccount: {labels: {team: platform}}
metrics: {service: {enabled: true}}
serviceMonitor:
  enabled: true
  interval: 60s
  scrapeTimeout: 20s
  relabelings: [{sourceLabels: [__meta_kubernetes_pod_node_name], targetLabel: node}]
  metricRelabelings: [{sourceLabels: [__name__], regex: go_gc_.*, action: drop}]
global: {anything: [the parent chart's]}
extraObjects:
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: extra-object, namespace: "{{ .Release.Namespace }}"}
    data: {release: "{{ .Release.Name }}"}
  - |
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: extra-string
      namespace: {{ .Release.Namespace }}
`

// conventionalRelease is a release with conventionalValues.
func conventionalRelease(t *testing.T, name, namespace string) release {
	t.Helper()
	path := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(path, []byte(conventionalValues), 0o600); err != nil {
		t.Fatal(err)
	}
	return release{name: name, namespace: namespace, valuesFile: path}
}

// Each conventional value lands where Kubernetes reads it.
func TestConventionalValuesRender(t *testing.T) {
	m := conventionalRelease(t, "registrar", "argocd").template(t)
	d := m.deployment(t)
	c := m.container(t)
	pod := d.Spec.Template.Spec

	// extraArgs come after the chart's own flags, as given.
	if n := len(c.Args); n != len(defaultArgs)+2 || !slices.Equal(c.Args[:n-2], defaultArgs) ||
		!slices.Equal(c.Args[n-2:], []string{"--leader-election-lease-duration=30s", "--zap-time-encoding=iso8601"}) {
		t.Errorf("args = %v, want the defaults then extraArgs", c.Args)
	}
	if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "HTTPS_PROXY" && e.Value == "http://proxy:3128" }) {
		t.Errorf("env = %v, want extraEnv's HTTPS_PROXY", c.Env)
	}
	if len(pod.Volumes) != 1 || pod.Volumes[0].Name != "ca" || pod.Volumes[0].ConfigMap == nil || pod.Volumes[0].ConfigMap.Name != "corporate-ca" {
		t.Errorf("volumes = %+v, want extraVolumes", pod.Volumes)
	}
	if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != "/etc/ssl/corporate" || !c.VolumeMounts[0].ReadOnly {
		t.Errorf("volumeMounts = %+v, want extraVolumeMounts", c.VolumeMounts)
	}
	if want := (appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
		MaxSurge: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(0))}}); !equality.Semantic.DeepEqual(d.Spec.Strategy, want) {
		t.Errorf("strategy = %+v, want %+v", d.Spec.Strategy, want)
	}
	if ptr.Deref(d.Spec.RevisionHistoryLimit, -1) != 3 {
		t.Errorf("revisionHistoryLimit = %v, want 3", d.Spec.RevisionHistoryLimit)
	}
	if want := "ghcr.io/registrar-dev/registrar@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"; c.Image != want {
		t.Errorf("image = %q, want %q (the digest wins over the tag)", c.Image, want)
	}

	// A constraint without a labelSelector spreads the registrar's pods;
	// one with its own keeps it.
	tsc := pod.TopologySpreadConstraints
	if len(tsc) != 2 {
		t.Fatalf("topologySpreadConstraints = %+v, want 2", tsc)
	}
	if tsc[0].LabelSelector == nil || !equality.Semantic.DeepEqual(tsc[0].LabelSelector.MatchLabels, d.Spec.Selector.MatchLabels) ||
		tsc[0].TopologyKey != "topology.kubernetes.io/zone" || tsc[0].WhenUnsatisfiable != corev1.ScheduleAnyway {
		t.Errorf("first constraint = %+v, want the Deployment's selector filled in", tsc[0])
	}
	if tsc[1].LabelSelector == nil || !equality.Semantic.DeepEqual(tsc[1].LabelSelector.MatchLabels, map[string]string{"tier": "gold"}) || tsc[1].MaxSkew != 2 {
		t.Errorf("second constraint = %+v, want its own labelSelector kept", tsc[1])
	}

	var pdb *policyv1.PodDisruptionBudget
	configMaps := map[string]*corev1.ConfigMap{}
	for _, o := range m.typed {
		switch o := o.(type) {
		case *policyv1.PodDisruptionBudget:
			pdb = o
		case *corev1.ServiceAccount:
			if o.Labels["team"] != "platform" || o.Labels["app.kubernetes.io/name"] != "registrar" {
				t.Errorf("ServiceAccount labels = %v, want serviceAccount.labels beside the chart's", o.Labels)
			}
		case *corev1.ConfigMap:
			configMaps[o.Name] = o
		}
	}
	if pdb == nil {
		t.Fatal("podDisruptionBudget.enabled rendered no PodDisruptionBudget")
	}
	if pdb.Spec.MinAvailable == nil || *pdb.Spec.MinAvailable != intstr.FromInt32(1) || pdb.Spec.MaxUnavailable != nil ||
		!equality.Semantic.DeepEqual(pdb.Spec.Selector.MatchLabels, d.Spec.Selector.MatchLabels) {
		t.Errorf("PodDisruptionBudget spec = %+v, want minAvailable 1 over the Deployment's pods", pdb.Spec)
	}

	// extraObjects, objects and strings alike, go through tpl.
	if cm := configMaps["extra-object"]; cm == nil || cm.Namespace != "argocd" || cm.Data["release"] != "registrar" {
		t.Errorf("extraObjects object = %+v, want its templates rendered", cm)
	}
	if cm := configMaps["extra-string"]; cm == nil || cm.Namespace != "argocd" {
		t.Errorf("extraObjects string = %+v, want it rendered", cm)
	}

	var endpoint map[string]any
	for _, u := range m.raw {
		if u.GetKind() == "ServiceMonitor" {
			eps, _, _ := unstructured.NestedSlice(u.Object, "spec", "endpoints")
			if len(eps) == 1 {
				endpoint, _ = eps[0].(map[string]any)
			}
		}
	}
	if endpoint == nil || endpoint["interval"] != "60s" || endpoint["scrapeTimeout"] != "20s" {
		t.Fatalf("ServiceMonitor endpoint = %v, want interval 60s and scrapeTimeout 20s", endpoint)
	}
	relabel, _ := endpoint["relabelings"].([]any)
	metricRelabel, _ := endpoint["metricRelabelings"].([]any)
	if len(relabel) != 1 || relabel[0].(map[string]any)["targetLabel"] != "node" ||
		len(metricRelabel) != 1 || metricRelabel[0].(map[string]any)["action"] != "drop" {
		t.Errorf("ServiceMonitor relabelings %v, metricRelabelings %v", relabel, metricRelabel)
	}
}

// Without a minAvailable, the budget lets one pod go at a time; a
// percentage passes through as one.
func TestPodDisruptionBudgetDefaultsToOneUnavailable(t *testing.T) {
	for set, want := range map[string]*intstr.IntOrString{
		"podDisruptionBudget.enabled=true":       ptr.To(intstr.FromInt32(1)),
		"podDisruptionBudget.maxUnavailable=50%": ptr.To(intstr.FromString("50%")),
	} {
		m := release{name: "registrar", namespace: "argocd", set: []string{"replicaCount=3", "podDisruptionBudget.enabled=true", set}}.template(t)
		var found bool
		for _, o := range m.typed {
			if pdb, ok := o.(*policyv1.PodDisruptionBudget); ok {
				found = true
				if pdb.Spec.MinAvailable != nil || pdb.Spec.MaxUnavailable == nil || *pdb.Spec.MaxUnavailable != *want {
					t.Errorf("--set %s: budget minAvailable %v maxUnavailable %v, want maxUnavailable %v", set, pdb.Spec.MinAvailable, pdb.Spec.MaxUnavailable, want)
				}
			}
		}
		if !found {
			t.Errorf("--set %s: no PodDisruptionBudget", set)
		}
	}
}
