package registration

import (
	"fmt"
	"strings"

	"github.com/registrar-dev/registrar/pkg/api"
)

// IdentityOf is the identity of a vcluster: its api.IdentityAnnotation (the
// workload's, else its Namespace's), else def, else api.IdentityAdmin.
func IdentityOf(src Sources, def string) (string, error) {
	if s, ok := src.setting(api.IdentityAnnotation); ok {
		switch s.value {
		case api.IdentityAdmin, api.IdentityServiceAccount:
			return s.value, nil
		}
		return "", s.invalid(fmt.Sprintf("%q or %q", api.IdentityAdmin, api.IdentityServiceAccount))
	}
	if def == "" {
		return api.IdentityAdmin, nil
	}
	return def, nil
}

// IdentityScope is what the registrar's ServiceAccount is bound to inside a
// vcluster: a ClusterRole cluster-wide, or in Namespaces only (as `argocd
// cluster add --namespace` grants), a Role of its own in each or the
// ClusterRole named by api.IdentityClusterRoleAnnotation.
type IdentityScope struct {
	// ClusterRole is an existing ClusterRole to bind; "" binds the role
	// the registrar creates (ManagerRole).
	ClusterRole string
	// Namespaces limits the bindings to these namespaces; nil is
	// cluster-wide.
	Namespaces []string
}

// ScopeOf reads the identity scope of a vcluster from its annotations.
func ScopeOf(src Sources) (IdentityScope, error) {
	var sc IdentityScope
	if s, ok := src.setting(api.IdentityClusterRoleAnnotation); ok {
		v := strings.TrimSpace(s.value)
		if v == "" || len(v) > 253 || strings.ContainsAny(v, "/%") || v == "." || v == ".." {
			return sc, s.invalid("the name of a ClusterRole of the vcluster")
		}
		sc.ClusterRole = v
	}
	if s, ok := src.setting(api.NamespacesAnnotation); ok {
		list, err := namespaceList(s.value)
		if err != nil {
			return sc, s.invalid("a comma-separated list of namespace names")
		}
		sc.Namespaces = strings.Split(list, ",")
	}
	return sc, nil
}

// Role is the name of the role the scope binds.
func (sc IdentityScope) Role() string {
	if sc.ClusterRole != "" {
		return sc.ClusterRole
	}
	return ManagerRole
}

// String is the scope as api.TokenRenewAfterAnnotation's neighbour
// api.IdentityScopeAnnotation records it.
func (sc IdentityScope) String() string {
	if len(sc.Namespaces) == 0 {
		return "cluster:" + sc.Role()
	}
	return "namespaces:" + sc.Role() + ":" + strings.Join(sc.Namespaces, ",")
}
