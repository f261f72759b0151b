package registration

import (
	"slices"
	"strings"

	"github.com/registrar-dev/registrar/pkg/api"
)

// ArgoCDNamespace is the namespace of the Argo CD instance a vcluster is
// registered in: the one api.ArgoCDNamespaceAnnotation names (on the workload,
// else on its Namespace), which must be one of allowed, else allowed[0].
// A name outside allowed is bad input, not a reason to write anywhere:
// the registrar caches, and may write, only the allowed namespaces.
func ArgoCDNamespace(src Sources, allowed []string) (string, error) {
	s, ok := src.setting(api.ArgoCDNamespaceAnnotation)
	if !ok {
		return allowed[0], nil
	}
	if slices.Contains(allowed, s.value) {
		return s.value, nil
	}
	return "", api.InputErrorf(api.ReasonBadAnnotation,
		"annotation %s on %s names Argo CD namespace %q, which is not one of the registrar's (%s, from --argocd-namespace); set one of those, or remove it to register in %s",
		s.key, s.on, s.value, strings.Join(allowed, ", "), allowed[0])
}
