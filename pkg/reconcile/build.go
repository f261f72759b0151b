package reconcile

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/registration"
)

// build computes the desired registration for each target. Bad input is
// terminal until it changes, which a watch will tell: say what is wrong,
// keep any earlier registration, do not retry.
func (r *Reconciler) build(ctx context.Context, st *state) (bool, error) {
	targets, err := r.targets(st)
	if err != nil {
		return r.badInput(ctx, st, err)
	}
	for _, ns := range targets {
		desired, err := registration.Build(st.src, registration.BuildOptions{
			ArgoCDNamespace:          ns,
			ClusterName:              r.Options.ClusterName,
			PropagateLabels:          r.Options.PropagateLabels,
			PropagateNamespaceLabels: r.Options.PropagateNamespaceLabels,
			PropagateAnnotations:     r.Options.PropagateAnnotations,
			Identity:                 r.Options.Identity,
		})
		if err != nil {
			return r.badInput(ctx, st, err)
		}
		st.desired = append(st.desired, desired)
	}
	return false, nil
}

// badInput ends a reconcile on err: an api.InputError is reported once, as a
// Warning event and a metric, and not retried; any other error is.
func (r *Reconciler) badInput(ctx context.Context, st *state, err error) (bool, error) {
	ie, ok := api.AsInputError(err)
	if !ok {
		return true, err
	}
	r.metrics().errors.WithLabelValues(ie.Reason).Inc()
	r.Recorder.Eventf(st.workload.Object, nil, corev1.EventTypeWarning, ie.Reason, "Register", "%s", ie.Message)
	log.FromContext(ctx).Info("vcluster cannot be registered", "reason", ie.Reason, "error", ie.Message)
	if len(st.registrations) == 0 {
		st.decide(DecisionRefuse, nil, "%s: %s", ie.Reason, ie.Message)
	}
	for _, s := range st.registrations {
		st.decide(DecisionRefuse, s, "%s: %s; the registration is kept as it is", ie.Reason, ie.Message)
	}
	return true, nil
}

// targets are the Argo CD namespaces the vcluster is to be registered in:
// the one of Options.ArgoCDNamespaces it chooses by annotation, else the
// first. A choice outside them is an api.InputError, and nothing is written.
func (r *Reconciler) targets(st *state) ([]string, error) {
	ns, err := registration.ArgoCDNamespace(st.src, r.Options.ArgoCDNamespaces)
	if err != nil {
		return nil, err
	}
	return []string{ns}, nil
}
