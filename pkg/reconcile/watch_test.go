package reconcile

import (
	"maps"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/registrar-dev/registrar/pkg/registration"
	"github.com/registrar-dev/registrar/pkg/vcluster"
)

// The cache holds Secrets in the Argo CD namespaces only when they are
// Argo CD cluster Secrets, and in no namespace that is not listed, watched
// or (without watchNamespaces) reached by the app=vcluster selector.
func TestCacheHoldsClusterSecretsOfListedArgoCDNamespacesOnly(t *testing.T) {
	for _, watch := range [][]string{nil, {"team-a", "argocd-staging"}} {
		o := CacheOptions([]string{"argocd-staging", "argocd-production"}, watch...)
		var secrets map[string]cache.Config
		for obj, by := range o.ByObject {
			if _, ok := obj.(*corev1.Secret); ok {
				secrets = by.Namespaces
			}
		}
		for _, ns := range []string{"argocd-staging", "argocd-production"} {
			sel := secrets[ns].LabelSelector
			if sel == nil || sel.String() != registration.ArgoCDSecretTypeLabel+"="+registration.ArgoCDSecretTypeValue {
				t.Errorf("watch %v: Secrets in %s selected by %v, want only Argo CD cluster Secrets", watch, ns, sel)
			}
		}
		want := []string{cache.AllNamespaces, "argocd-production", "argocd-staging"}
		if watch != nil {
			want = []string{"argocd-production", "argocd-staging", "team-a"}
		}
		if got := slices.Sorted(maps.Keys(secrets)); !slices.Equal(got, want) {
			t.Errorf("watch %v: Secrets cached in %v, want %v", watch, got, want)
		}
		if all, ok := secrets[cache.AllNamespaces]; ok && (all.LabelSelector == nil || all.LabelSelector.String() != vcluster.AppLabel+"="+vcluster.AppValue) {
			t.Errorf("Secrets in every namespace selected by %v, want app=vcluster only", all.LabelSelector)
		}
	}
}
