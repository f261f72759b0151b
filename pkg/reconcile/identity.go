package reconcile

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/registrar-dev/registrar/pkg/api"
)

// DefaultTokenTTL is the lifetime of a ServiceAccount token the registrar
// requests; MinTokenTTL is the shortest the TokenRequest API issues
// (ValidateTokenRequest in kubernetes' pkg/apis/authentication/validation
// refuses less than 10 minutes).
const (
	DefaultTokenTTL = 24 * time.Hour
	MinTokenTTL     = 10 * time.Minute
)

// renewalJitter spreads the renewals of a fleet whose tokens were issued in
// the same second: each is renewed up to a tenth of its lifetime before the
// two-thirds mark.
const renewalJitter = 0.1

// identityOf is the identity of a vcluster: its api.IdentityAnnotation (the
// workload's, else its Namespace's), else def, else api.IdentityAdmin.
func identityOf(src Sources, def string) (string, error) {
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

// identityScope is what the registrar's ServiceAccount is bound to inside a
// vcluster: a ClusterRole cluster-wide, or in Namespaces only (as `argocd
// cluster add --namespace` grants), a Role of its own in each or the
// ClusterRole named by api.IdentityClusterRoleAnnotation.
type identityScope struct {
	// ClusterRole is an existing ClusterRole to bind; "" binds the role
	// the registrar creates (ManagerRole).
	ClusterRole string
	// Namespaces limits the bindings to these namespaces; nil is
	// cluster-wide.
	Namespaces []string
}

// scopeOf reads the identity scope of a vcluster from its annotations.
func scopeOf(src Sources) (identityScope, error) {
	var sc identityScope
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

// role is the name of the role the scope binds.
func (sc identityScope) role() string {
	if sc.ClusterRole != "" {
		return sc.ClusterRole
	}
	return ManagerRole
}

// String is the scope as api.TokenRenewAfterAnnotation's neighbour
// api.IdentityScopeAnnotation records it.
func (sc identityScope) String() string {
	if len(sc.Namespaces) == 0 {
		return "cluster:" + sc.role()
	}
	return "namespaces:" + sc.role() + ":" + strings.Join(sc.Namespaces, ",")
}

// previousToken is the token of the registrar's ServiceAccount that an
// existing registration carries, the latest to be renewed when several
// do; nil when none carries one the registrar can keep using.
func previousToken(registrations map[string]*corev1.Secret) *ServiceAccountToken {
	var best *ServiceAccountToken
	for _, s := range registrations {
		if s.Annotations[api.IdentityAnnotation] != api.IdentityServiceAccount {
			continue
		}
		renewAfter, err := time.Parse(time.RFC3339, s.Annotations[api.TokenRenewAfterAnnotation])
		if err != nil {
			continue
		}
		var cfg clusterConfig
		if json.Unmarshal(s.Data[ArgoCDConfigKey], &cfg) != nil || cfg.BearerToken == "" {
			continue
		}
		if best == nil || renewAfter.After(best.RenewAfter) {
			best = &ServiceAccountToken{
				Token:      cfg.BearerToken,
				RenewAfter: renewAfter,
				Rotation:   s.Annotations[api.TokenRotationAnnotation],
				Scope:      s.Annotations[api.IdentityScopeAnnotation],
			}
		}
	}
	return best
}

// renewalDue says why the token prev is to be replaced now, or "" when it
// is not: none yet, two thirds of its lifetime passed, or a rotation asked
// for with a new value of api.RotateTokenAnnotation.
func renewalDue(prev *ServiceAccountToken, rotation string, now time.Time) string {
	switch {
	case prev == nil:
		return "no token issued yet"
	case prev.Rotation != rotation:
		return "rotation requested by annotation " + api.RotateTokenAnnotation
	case !now.Before(prev.RenewAfter):
		return "two thirds of its lifetime passed"
	}
	return ""
}

// renewAfter is when a token issued at issued and expiring at expires is
// renewed: at two thirds of its lifetime, less up to renewalJitter of it
// at random. Truncated to the second, as the annotation records it.
func renewAfter(issued, expires time.Time, random float64) time.Time {
	life := expires.Sub(issued)
	at := issued.Add(life*2/3 - time.Duration(random*renewalJitter*float64(life)))
	return at.Truncate(time.Second)
}

// jitterFraction is a random number in [0, 1) for renewAfter.
func jitterFraction() float64 { return rand.Float64() }

// hasTokenIdentity says whether registration s carries a ServiceAccount
// token the registrar issued.
func hasTokenIdentity(s *corev1.Secret) bool {
	return s != nil && s.Annotations[api.IdentityAnnotation] == api.IdentityServiceAccount
}
