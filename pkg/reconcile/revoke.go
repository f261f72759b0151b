package reconcile

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/identity"
	"github.com/registrar-dev/registrar/pkg/registration"
)

// revokeReplaced runs after apply: when a registration that carried a
// ServiceAccount token now carries the admin credentials (the identity was
// switched back), the ServiceAccount is revoked inside the vcluster. It
// waits until every desired registration is written (a collision keeps
// the token registration, and so the token, in place), so Argo CD is never
// left without working credentials.
func (r *Reconciler) revokeReplaced(ctx context.Context, st *state) (bool, error) {
	if !st.applied || len(st.desired) == 0 || hasTokenIdentity(st.desired[0]) {
		return false, nil
	}
	for _, s := range st.registrations {
		if hasTokenIdentity(s) {
			r.revokeIdentity(ctx, st, "its identity is now "+api.IdentityAdmin)
			return false, nil
		}
	}
	return false, nil
}

// revokeBeforeDeregister revokes the ServiceAccount identity of a vcluster
// whose registrations are about to be removed while it still exists
// (opted out, or its namespace no longer trusted). The sources it needs
// are read here, since the reconcile ends before the steps that read them.
func (r *Reconciler) revokeBeforeDeregister(ctx context.Context, st *state, why string) error {
	tokens := false
	for _, s := range st.registrations {
		tokens = tokens || hasTokenIdentity(s)
	}
	if !tokens {
		return nil
	}
	if st.src.Service == nil {
		if _, err := r.readService(ctx, st); err != nil {
			return err
		}
	}
	if st.src.KubeconfigSecret == nil {
		if _, _, err := r.credentials().Read(ctx, &st.src); err != nil {
			return err
		}
	}
	r.revokeIdentity(ctx, st, why)
	return nil
}

// revokeIdentity deletes, inside the vcluster, the bindings, the role the
// registrar created and its ServiceAccount, which voids every token issued
// for it. A failure is reported, not retried: the registration goes
// regardless, and the token it carried stops working when it expires.
func (r *Reconciler) revokeIdentity(ctx context.Context, st *state, why string) {
	r.identities.forget(st.key)
	logger := log.FromContext(ctx)
	if r.Options.DryRun {
		logger.Info("would revoke the ServiceAccount identity inside the vcluster", "why", why)
		return
	}
	err := func() error {
		conn, err := registration.ConnectionOf(st.src)
		if err != nil {
			return err
		}
		in, err := identity.Connect(conn, r.Options.ProbeDialer, r.probeTimeout())
		if err != nil {
			return err
		}
		defer in.Close()
		removed, err := in.Revoke(ctx)
		if len(removed) > 0 {
			r.Recorder.Eventf(st.workload.Object, nil, corev1.EventTypeNormal, api.ReasonIdentityRevoked, "Revoke",
				"Revoked Argo CD's ServiceAccount identity in this vcluster (%s): deleted %s", why, strings.Join(removed, ", "))
			logger.Info("revoked ServiceAccount identity", "why", why, "deleted", removed)
		}
		return err
	}()
	if err != nil {
		r.metrics().errors.WithLabelValues(api.ReasonIdentityFailed).Inc()
		r.Recorder.Eventf(st.workload.Object, nil, corev1.EventTypeWarning, api.ReasonIdentityFailed, "Revoke",
			"Argo CD's ServiceAccount identity in this vcluster could not be revoked (%s): %s. Its token stops working when it expires; delete ServiceAccount %s/%s inside the vcluster to revoke it now.",
			why, strings.TrimSuffix(err.Error(), "."), registration.ManagerNamespace, registration.ManagerServiceAccount)
		logger.Info("ServiceAccount identity not revoked", "why", why, "error", fmt.Sprint(err))
	}
}
