package reconcile

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/registrar-dev/registrar/pkg/api"
)

func TestUpToDateFollowsTheContent(t *testing.T) {
	desired := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Labels:      map[string]string{api.ManagedByLabel: api.ManagedByValue},
			Annotations: map[string]string{api.ContentHashAnnotation: "aaaa"},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{"server": []byte("https://a.ns.svc")},
	}
	if !upToDate(desired.DeepCopy(), desired) {
		t.Error("an identical registration is not up to date")
	}
	extra := desired.DeepCopy()
	extra.Data["added-by-hand"] = []byte("x")
	if !upToDate(extra, desired) {
		t.Error("a key the registrar does not own made the registration out of date")
	}
	for name, edit := range map[string]func(*corev1.Secret){
		"content hash": func(s *corev1.Secret) { s.Annotations[api.ContentHashAnnotation] = "bbbb" },
		"type":         func(s *corev1.Secret) { s.Type = corev1.SecretTypeDockerConfigJson },
		"our label":    func(s *corev1.Secret) { s.Labels[api.ManagedByLabel] = "someone-else" },
		"our data":     func(s *corev1.Secret) { s.Data["server"] = []byte("https://b.ns.svc") },
		"missing data": func(s *corev1.Secret) { delete(s.Data, "server") },
	} {
		existing := desired.DeepCopy()
		edit(existing)
		if upToDate(existing, desired) {
			t.Errorf("a registration whose %s changed is up to date", name)
		}
	}
}
