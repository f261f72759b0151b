package reconcile

import (
	"math/rand/v2"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/registration"
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

// previousToken is the token of the registrar's ServiceAccount that an
// existing registration carries, the latest to be renewed when several
// do; nil when none carries one the registrar can keep using.
func previousToken(registrations map[string]*corev1.Secret) *registration.ServiceAccountToken {
	var best *registration.ServiceAccountToken
	for _, s := range registrations {
		if s.Annotations[api.IdentityAnnotation] != api.IdentityServiceAccount {
			continue
		}
		renewAfter, err := time.Parse(time.RFC3339, s.Annotations[api.TokenRenewAfterAnnotation])
		if err != nil {
			continue
		}
		cfg, err := registration.ConfigOf(s)
		if err != nil || cfg.BearerToken == "" {
			continue
		}
		if best == nil || renewAfter.After(best.RenewAfter) {
			best = &registration.ServiceAccountToken{
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
func renewalDue(prev *registration.ServiceAccountToken, rotation string, now time.Time) string {
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
