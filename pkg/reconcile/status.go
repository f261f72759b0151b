package reconcile

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/registrar-dev/registrar/pkg/api"
)

// DefaultExpiryWarning is how long before credentials expire the
// registrar warns: a week, time for a person to act.
const DefaultExpiryWarning = 7 * 24 * time.Hour

// scheduleProbes hands every desired registration to the prober, which
// probes one just written at once and the others on its own schedule.
func (r *Reconciler) scheduleProbes(_ context.Context, st *state) (bool, error) {
	if r.prober == nil {
		return false, nil
	}
	for _, d := range st.desired {
		r.prober.track(st.registrations[d.Namespace], d, st.workload)
	}
	return false, nil
}

// checkExpiry warns on the workload when a registration's credentials are
// about to expire or have expired, once per change of that state, and
// looks again when the state next changes. vcluster rotates its
// certificates by rewriting the kubeconfig Secret, which the registrar
// follows: the rewritten registration clears the warning.
func (r *Reconciler) checkExpiry(ctx context.Context, st *state) (bool, error) {
	warning := r.Options.ExpiryWarning
	if warning <= 0 {
		warning = DefaultExpiryWarning
	}
	now := time.Now()
	for _, d := range st.desired {
		notAfter := d.Annotations[api.CredentialsNotAfterAnnotation]
		token := hasTokenIdentity(d)
		state, next := expiryState(notAfter, now, expiryWarningOf(d, warning))
		if !next.IsZero() {
			st.requeueAfter(next.Sub(now) + time.Second)
		}
		key := types.NamespacedName{Namespace: d.Namespace, Name: d.Name}
		if prev, _ := r.expiry.Swap(key, state); prev == state {
			continue
		}
		switch {
		case token && state == expiryExpiring:
			r.Recorder.Eventf(st.workload.Object, nil, corev1.EventTypeWarning, api.ReasonCredentialsExpiring, "Register",
				"The ServiceAccount token Argo CD uses for this vcluster (Secret %s/%s) is overdue for renewal and expires at %s, in %s; the IdentityFailed events say why it was not renewed",
				d.Namespace, d.Name, notAfter, next.Sub(now).Round(time.Minute))
			log.FromContext(ctx).Info("token overdue for renewal", "secret", d.Name, "notAfter", notAfter)
		case token && state == expiryExpired:
			r.Recorder.Eventf(st.workload.Object, nil, corev1.EventTypeWarning, api.ReasonCredentialsExpired, "Register",
				"The ServiceAccount token Argo CD uses for this vcluster (Secret %s/%s) expired at %s: Argo CD cannot connect; the IdentityFailed events say why it was not renewed",
				d.Namespace, d.Name, notAfter)
			log.FromContext(ctx).Info("token expired", "secret", d.Name, "notAfter", notAfter)
		case state == expiryExpiring:
			r.Recorder.Eventf(st.workload.Object, nil, corev1.EventTypeWarning, api.ReasonCredentialsExpiring, "Register",
				"The credentials Argo CD uses for this vcluster (Secret %s/%s) expire at %s, in %s; renew the vcluster's certificates (vcluster certs rotate) and the registrar follows the rewritten kubeconfig Secret",
				d.Namespace, d.Name, notAfter, next.Sub(now).Round(time.Minute))
			log.FromContext(ctx).Info("credentials expiring", "secret", d.Name, "notAfter", notAfter)
		case state == expiryExpired:
			r.Recorder.Eventf(st.workload.Object, nil, corev1.EventTypeWarning, api.ReasonCredentialsExpired, "Register",
				"The credentials Argo CD uses for this vcluster (Secret %s/%s) expired at %s: Argo CD cannot connect; renew the vcluster's certificates (vcluster certs rotate)",
				d.Namespace, d.Name, notAfter)
			log.FromContext(ctx).Info("credentials expired", "secret", d.Name, "notAfter", notAfter)
		}
	}
	return false, nil
}

// expiryWarningOf is how long before its credentials expire registration d
// is warned about: for a ServiceAccount token the registrar renews, from
// the moment its renewal is overdue, else warning.
func expiryWarningOf(d *corev1.Secret, warning time.Duration) time.Duration {
	if !hasTokenIdentity(d) {
		return warning
	}
	renew, err1 := time.Parse(time.RFC3339, d.Annotations[api.TokenRenewAfterAnnotation])
	notAfter, err2 := time.Parse(time.RFC3339, d.Annotations[api.CredentialsNotAfterAnnotation])
	if err1 != nil || err2 != nil || !renew.Before(notAfter) {
		return warning
	}
	// A minute of grace: the renewal itself is due at renew.
	return max(notAfter.Sub(renew)-time.Minute, 0)
}

// forgetExpiry drops what was reported about a removed registration.
func (r *Reconciler) forgetExpiry(s *corev1.Secret) {
	r.expiry.Delete(types.NamespacedName{Namespace: s.Namespace, Name: s.Name})
}

// requeueAfter asks for the vcluster to be reconciled again within d.
func (st *state) requeueAfter(d time.Duration) {
	if st.result.RequeueAfter == 0 || d < st.result.RequeueAfter {
		st.result.RequeueAfter = d
	}
}
