package reconcile

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/registration"
)

// A Decision is what a reconcile decided for one registration of a
// vcluster. The steps record one as they act (or, with Options.DryRun, as
// they would act), so a one-shot run reports exactly what the controller
// does.
type Decision string

// The decisions, as printed by `registrar plan` and `sync`.
const (
	// DecisionRegister: a new Argo CD cluster Secret is written.
	DecisionRegister Decision = "register"
	// DecisionUpdate: the registration differs from what the vcluster's
	// objects say and is rewritten.
	DecisionUpdate Decision = "update"
	// DecisionUnchanged: the registration already says it all.
	DecisionUnchanged Decision = "unchanged"
	// DecisionDeregister: the registration is removed.
	DecisionDeregister Decision = "deregister"
	// DecisionSkip: the vcluster is not to be registered (opted out, not
	// trusted, not ready); nothing is written.
	DecisionSkip Decision = "skip"
	// DecisionRefuse: the vcluster cannot be registered as it is (bad
	// input, a collision); the Warning event says what to fix.
	DecisionRefuse Decision = "refuse"
	// DecisionError: the reconcile failed (an API error) and is retried.
	DecisionError Decision = "error"
)

// Changes says whether the decision writes to the API server.
func (d Decision) Changes() bool {
	return d == DecisionRegister || d == DecisionUpdate || d == DecisionDeregister
}

// Failed says whether the decision leaves the vcluster out of its desired
// state: refused or failed.
func (d Decision) Failed() bool { return d == DecisionRefuse || d == DecisionError }

// An Outcome is one decision about one vcluster, with why.
type Outcome struct {
	VCluster types.NamespacedName
	Decision Decision
	// Reason says why, in a sentence with no secret content.
	Reason string
	// Secret is the Argo CD cluster Secret concerned; empty when there is
	// none (a vcluster skipped before one was built).
	Secret types.NamespacedName
	// Server is the server URL the registration declares, when known.
	Server string
	// Desired is the Secret written (register, update); nil otherwise. It
	// holds credentials: never print it unredacted.
	Desired *corev1.Secret
}

// ReconcileOutcomes runs the pipeline for one vcluster, as Reconcile does,
// and returns what its steps decided. An error is also reported as an
// Outcome, so that every vcluster a pass looks at appears in its report.
func (r *Reconciler) ReconcileOutcomes(ctx context.Context, key types.NamespacedName) ([]Outcome, ctrl.Result, error) {
	st, err := r.run(ctx, key)
	if err != nil {
		st.decide(DecisionError, nil, "%v", err)
	}
	return st.outcomes, st.result, err
}

// decide records a decision about registration s (desired or existing;
// nil when there is none).
func (st *state) decide(d Decision, s *corev1.Secret, format string, args ...any) {
	o := Outcome{VCluster: st.key, Decision: d, Reason: fmt.Sprintf(format, args...)}
	if s != nil {
		o.Secret = types.NamespacedName{Namespace: s.Namespace, Name: s.Name}
		o.Server = string(s.Data[registration.ArgoCDServerKey])
		if d == DecisionRegister || d == DecisionUpdate {
			o.Desired = s
		}
	}
	st.outcomes = append(st.outcomes, o)
}

// skip records that the vcluster is left alone, and why.
func (st *state) skip(format string, args ...any) {
	st.decide(DecisionSkip, nil, format, args...)
}

// differences names what an update changes: label, annotation and data
// keys of desired whose values existing does not hold, and the type.
// Key names only: the values may be credentials.
func differences(existing, desired *corev1.Secret) []string {
	var out []string
	if existing.Type != desired.Type {
		out = append(out, "type")
	}
	for _, f := range []struct {
		section string
		differ  func(string) bool
		keys    []string
	}{
		{"label", func(k string) bool { return existing.Labels[k] != desired.Labels[k] }, slices.Collect(maps.Keys(desired.Labels))},
		{"annotation", func(k string) bool {
			return k != api.ContentHashAnnotation && existing.Annotations[k] != desired.Annotations[k]
		}, slices.Collect(maps.Keys(desired.Annotations))},
		{"data", func(k string) bool { return string(existing.Data[k]) != string(desired.Data[k]) }, slices.Collect(maps.Keys(desired.Data))},
	} {
		sort.Strings(f.keys)
		for _, k := range f.keys {
			if f.differ(k) {
				out = append(out, f.section+" "+k)
			}
		}
	}
	if len(out) == 0 {
		// Only a key the registrar no longer writes differs (the hash
		// says so).
		out = append(out, "a key no longer written")
	}
	return out
}
