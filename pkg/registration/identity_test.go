package registration

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/registrar-dev/registrar/pkg/api"
)

func TestIdentityAndScopeFromAnnotations(t *testing.T) {
	src, _ := sources(t)
	if id, err := IdentityOf(src, ""); err != nil || id != api.IdentityAdmin {
		t.Errorf("default: %q %v", id, err)
	}
	if id, _ := IdentityOf(src, api.IdentityServiceAccount); id != api.IdentityServiceAccount {
		t.Errorf("--identity=serviceaccount: %q", id)
	}
	src.Namespace = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "vcluster-sandbox",
		Annotations: map[string]string{api.IdentityAnnotation: api.IdentityServiceAccount, api.IdentityClusterRoleAnnotation: "edit"}}}
	if id, _ := IdentityOf(src, api.IdentityAdmin); id != api.IdentityServiceAccount {
		t.Errorf("Namespace annotation: %q", id)
	}
	src.Workload.SetAnnotations(map[string]string{api.IdentityAnnotation: api.IdentityAdmin, api.NamespacesAnnotation: "a, b"})
	if id, _ := IdentityOf(src, api.IdentityServiceAccount); id != api.IdentityAdmin {
		t.Errorf("the workload's annotation wins: %q", id)
	}
	sc, err := ScopeOf(src)
	if err != nil || sc.String() != "namespaces:edit:a,b" {
		t.Errorf("scope %q %v", sc.String(), err)
	}
	src.Workload.SetAnnotations(map[string]string{api.IdentityAnnotation: "sa"})
	if _, err := IdentityOf(src, ""); err == nil || !strings.Contains(err.Error(), `"serviceaccount"`) {
		t.Errorf("bad value: %v", err)
	}
	src.Workload.SetAnnotations(map[string]string{api.IdentityClusterRoleAnnotation: "a/b"})
	if _, err := ScopeOf(src); err == nil {
		t.Error("a ClusterRole name with a slash is accepted")
	}
}
