package reconcile

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/registrar-dev/registrar/pkg/api"
)

// Expiry states of a registration's credentials, for events.
const (
	expiryUnknown  = "unknown"
	expiryOK       = "ok"
	expiryExpiring = "expiring"
	expiryExpired  = "expired"
)

// expiryState says whether credentials that stop working at notAfter (the
// annotation's value) have expired at now, or will within warning; next
// is when that answer changes (for expiring credentials, when they
// expire), zero if never.
func expiryState(annotation string, now time.Time, warning time.Duration) (state string, next time.Time) {
	notAfter, err := time.Parse(time.RFC3339, annotation)
	if err != nil {
		return expiryUnknown, time.Time{}
	}
	switch {
	case !now.Before(notAfter):
		return expiryExpired, time.Time{}
	case !now.Before(notAfter.Add(-warning)):
		return expiryExpiring, notAfter
	default:
		return expiryOK, notAfter.Add(-warning)
	}
}

// Expiry buckets of the registrar_credentials_expiry metric, by how long
// the credentials have left.
var expiryBuckets = []struct {
	name string
	left time.Duration
}{
	{"24h", 24 * time.Hour},
	{"7d", 7 * 24 * time.Hour},
	{"30d", 30 * 24 * time.Hour},
}

// expiryBucket names the bucket of credentials that stop working at the
// annotation's value.
func expiryBucket(annotation string, now time.Time) string {
	notAfter, err := time.Parse(time.RFC3339, annotation)
	if err != nil {
		return "unknown"
	}
	left := notAfter.Sub(now)
	if left <= 0 {
		return "expired"
	}
	for _, b := range expiryBuckets {
		if left <= b.left {
			return b.name
		}
	}
	return "later"
}

// expiryRenewing is the expiry bucket of a ServiceAccount token the
// registrar renews itself and whose renewal is not yet due: it always has
// less than a day left, by design, and is no cause for alarm.
const expiryRenewing = "renewing"

// registrationExpiryBucket is the expiry bucket of registration s.
func registrationExpiryBucket(s *corev1.Secret, now time.Time) string {
	if hasTokenIdentity(s) {
		if renew, err := time.Parse(time.RFC3339, s.Annotations[api.TokenRenewAfterAnnotation]); err == nil && now.Before(renew) {
			return expiryRenewing
		}
	}
	return expiryBucket(s.Annotations[api.CredentialsNotAfterAnnotation], now)
}
