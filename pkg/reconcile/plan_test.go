package reconcile

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/registration"
)

func TestDifferencesNameKeysNotValues(t *testing.T) {
	existing := &corev1.Secret{Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{registration.ArgoCDServerKey: []byte("https://a.b.svc"), registration.ArgoCDConfigKey: []byte("old-credentials")}}
	existing.Labels = map[string]string{"team": "a"}
	existing.Annotations = map[string]string{api.ContentHashAnnotation: "1"}
	for _, tc := range []struct {
		name   string
		change func(*corev1.Secret)
		want   []string
	}{
		{"credentials", func(s *corev1.Secret) { s.Data[registration.ArgoCDConfigKey] = []byte("new-credentials") }, []string{"data config"}},
		{"label and project", func(s *corev1.Secret) {
			s.Labels["team"] = "b"
			s.Data[registration.ArgoCDProjectKey] = []byte("p")
		}, []string{"label team", "data project"}},
		{"type", func(s *corev1.Secret) { s.Type = "other" }, []string{"type"}},
		// A key removed changes the hash alone.
		{"a key removed", func(s *corev1.Secret) { delete(s.Labels, "team") }, []string{"a key no longer written"}},
	} {
		desired := existing.DeepCopy()
		desired.Annotations[api.ContentHashAnnotation] = "2"
		tc.change(desired)
		if got := differences(existing, desired); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestDecisionsThatChangeOrFail(t *testing.T) {
	for d, want := range map[Decision][2]bool{
		DecisionRegister: {true, false}, DecisionUpdate: {true, false}, DecisionDeregister: {true, false},
		DecisionUnchanged: {false, false}, DecisionSkip: {false, false},
		DecisionRefuse: {false, true}, DecisionError: {false, true},
	} {
		if d.Changes() != want[0] || d.Failed() != want[1] {
			t.Errorf("%s: changes %v, failed %v; want %v", d, d.Changes(), d.Failed(), want)
		}
	}
}
