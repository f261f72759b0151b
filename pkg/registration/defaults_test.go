package registration

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/test/fixture"
)

// teamNamespace is the vcluster's Namespace "vcluster-sandbox" with
// annotations and labels set by the team that owns it.
func teamNamespace(annotations, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "vcluster-sandbox", Annotations: annotations, Labels: labels}}
}

func TestNamespaceDefaultsAndWorkloadOverride(t *testing.T) {
	src, _ := sources(t)
	src.Namespace = teamNamespace(map[string]string{
		api.ProjectAnnotation: "team-a", api.NamespacesAnnotation: "apps", api.ClusterResourcesAnnotation: "true",
		api.ShardAnnotation: "2",
		// Not team-wide: these name one vcluster, so a Namespace cannot set them.
		api.ClusterNameAnnotation: "everyone", api.TLSServerNameAnnotation: "shared.example.com",
	}, nil)
	s, err := Build(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{ArgoCDProjectKey: "team-a", ArgoCDNamespacesKey: "apps", ArgoCDClusterResources: "true", ArgoCDShardKey: "2",
		ArgoCDNameKey: "vcluster-sandbox-sandbox"} {
		if string(s.Data[k]) != v {
			t.Errorf("from the Namespace: %s = %q, want %q", k, s.Data[k], v)
		}
	}
	if got := decodeConfig(t, s).TLSClientConfig.ServerName; got != "sandbox.vcluster-sandbox" {
		t.Errorf("serverName = %q: a Namespace set a per-vcluster annotation", got)
	}

	// The workload's own value wins, key by key.
	src.Workload.SetAnnotations(map[string]string{api.ProjectAnnotation: "special", api.ShardAnnotation: "0"})
	s, err = Build(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{ArgoCDProjectKey: "special", ArgoCDShardKey: "0", ArgoCDNamespacesKey: "apps"} {
		if string(s.Data[k]) != v {
			t.Errorf("workload over Namespace: %s = %q, want %q", k, s.Data[k], v)
		}
	}
}

func TestBadNamespaceDefaultNamesTheNamespace(t *testing.T) {
	for key, value := range map[string]string{api.ShardAnnotation: "-1", api.ProjectAnnotation: "Team A", api.ClusterResourcesAnnotation: "maybe"} {
		src, vc := sources(t)
		src.Namespace = teamNamespace(map[string]string{key: value}, nil)
		_, err := Build(src, opts)
		fixture.WantInputError(t, err, api.ReasonBadAnnotation, "annotation "+key+" on Namespace vcluster-sandbox must be", vc)
	}
}

func TestShardIsANonNegativeInteger(t *testing.T) {
	for value, want := range map[string]string{"0": "0", "7": "7", "007": "7", "2147483647": "2147483647"} {
		src, _ := sources(t)
		src.Workload.SetAnnotations(map[string]string{api.ShardAnnotation: value})
		s, err := Build(src, opts)
		if err != nil {
			t.Errorf("shard %q: %v", value, err)
			continue
		}
		if got := string(s.Data[ArgoCDShardKey]); got != want {
			t.Errorf("shard %q written as %q, want %q", value, got, want)
		}
	}
	for _, value := range []string{"", "-1", "one", "1.5", " 1", "+1", "2147483648", "0x1"} {
		src, _ := sources(t)
		src.Workload.SetAnnotations(map[string]string{api.ShardAnnotation: value})
		_, err := Build(src, opts)
		if ie, ok := api.AsInputError(err); !ok || ie.Reason != api.ReasonBadAnnotation || !strings.Contains(ie.Message, "non-negative integer") {
			t.Errorf("shard %q: %v, want %s saying a non-negative integer", value, err, api.ReasonBadAnnotation)
		}
	}
	src, _ := sources(t)
	s, err := Build(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Data[ArgoCDShardKey]; ok {
		t.Error("shard written without the annotation")
	}
}

func TestPropagationFromNamespaceAndWorkload(t *testing.T) {
	src, _ := sources(t)
	src.Namespace = teamNamespace(nil, map[string]string{"env": "staging", "team": "a", "region": "eu", "unlisted": "x"})
	l := src.Workload.GetLabels()
	l["region"] = "us" // the workload's own wins over its Namespace's
	src.Workload.SetAnnotations(map[string]string{"example.com/slack": "#team-a", "example.com/other": "x"})
	s, err := Build(src, BuildOptions{ArgoCDNamespace: "argocd",
		PropagateNamespaceLabels: []string{"env", "team", "region", "missing"},
		PropagateLabels:          []string{"region"},
		PropagateAnnotations:     []string{"example.com/slack", "example.com/missing"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"env": "staging", "team": "a", "region": "us"} {
		if s.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, s.Labels[k], v)
		}
	}
	for _, k := range []string{"unlisted", "missing"} {
		if _, ok := s.Labels[k]; ok {
			t.Errorf("label %s propagated", k)
		}
	}
	if s.Annotations["example.com/slack"] != "#team-a" {
		t.Errorf("annotations = %v", s.Annotations)
	}
	for _, k := range []string{"example.com/other", "example.com/missing"} {
		if _, ok := s.Annotations[k]; ok {
			t.Errorf("annotation %s propagated", k)
		}
	}
}

// Argo CD's tracking keys, our own and last-applied-configuration are
// never propagated, even when listed; our own keep our values.
func TestNeverPropagated(t *testing.T) {
	src, _ := sources(t)
	reserved := []string{ArgoCDTrackingLabel, ArgoCDTrackingAnnotation, api.ManagedByLabel, ArgoCDSecretTypeLabel,
		api.SourceNameLabel, api.SourceUIDAnnotation, api.ContentHashAnnotation, corev1.LastAppliedConfigAnnotation, api.Prefix + "future"}
	values := map[string]string{}
	for _, k := range reserved {
		values[k] = "from-the-vcluster"
	}
	src.Namespace = teamNamespace(nil, values)
	l := src.Workload.GetLabels()
	for k, v := range values {
		l[k] = v
	}
	src.Workload.SetAnnotations(values)
	s, err := Build(src, BuildOptions{ArgoCDNamespace: "argocd",
		PropagateLabels: reserved, PropagateNamespaceLabels: reserved, PropagateAnnotations: reserved})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []map[string]string{s.Labels, s.Annotations} {
		for k, v := range m {
			if v == "from-the-vcluster" {
				t.Errorf("%s propagated", k)
			}
		}
	}
	if s.Labels[api.ManagedByLabel] != api.ManagedByValue || s.Labels[ArgoCDSecretTypeLabel] != ArgoCDSecretTypeValue ||
		s.Labels[api.SourceNameLabel] != "sandbox" || s.Annotations[api.SourceUIDAnnotation] != "uid-1" {
		t.Errorf("our own keys lost: labels %v, annotations %v", s.Labels, s.Annotations)
	}
	if got := NeverPropagated(append([]string{"env"}, reserved...)); len(got) != len(reserved) {
		t.Errorf("NeverPropagated = %v, want %v", got, reserved)
	}
}

func TestArgoCDNamespaceChoice(t *testing.T) {
	allowed := []string{"argocd-staging", "argocd-production"}
	for _, tc := range []struct {
		name                string
		workload, namespace map[string]string
		want, err           string
	}{
		{name: "default: the first", want: "argocd-staging"},
		{name: "by workload", workload: map[string]string{api.ArgoCDNamespaceAnnotation: "argocd-production"}, want: "argocd-production"},
		{name: "by Namespace", namespace: map[string]string{api.ArgoCDNamespaceAnnotation: "argocd-production"}, want: "argocd-production"},
		{name: "workload over Namespace", workload: map[string]string{api.ArgoCDNamespaceAnnotation: "argocd-staging"},
			namespace: map[string]string{api.ArgoCDNamespaceAnnotation: "argocd-production"}, want: "argocd-staging"},
		{name: "unlisted", workload: map[string]string{api.ArgoCDNamespaceAnnotation: "kube-system"},
			err: `on StatefulSet vcluster-sandbox/sandbox names Argo CD namespace "kube-system", which is not one of the registrar's (argocd-staging, argocd-production`},
		{name: "unlisted on the Namespace", namespace: map[string]string{api.ArgoCDNamespaceAnnotation: "argocd"},
			err: `on Namespace vcluster-sandbox names Argo CD namespace "argocd"`},
		{name: "empty", workload: map[string]string{api.ArgoCDNamespaceAnnotation: ""}, err: `names Argo CD namespace ""`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, _ := sources(t)
			src.Workload.SetAnnotations(tc.workload)
			src.Namespace = teamNamespace(tc.namespace, nil)
			got, err := ArgoCDNamespace(src, allowed)
			if tc.err != "" {
				ie, ok := api.AsInputError(err)
				if !ok || ie.Reason != api.ReasonBadAnnotation || !strings.Contains(ie.Message, tc.err) {
					t.Errorf("got %q, %v; want %s saying %q", got, err, api.ReasonBadAnnotation, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
