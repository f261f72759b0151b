package reconcile

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/identity"
	"github.com/registrar-dev/registrar/pkg/registration"
)

// identityRetry is how soon an identity that could not be set up is tried
// again: nothing inside the vcluster is watched.
const identityRetry = time.Minute

// identityMemo is what the registrar remembers of one vcluster's
// ServiceAccount identity between reconciles: nothing a restart needs.
type identityMemo struct {
	// nextCheck is when the objects inside the vcluster are next checked
	// for drift, without renewing the token.
	nextCheck time.Time
	// failure is the last IdentityFailed message reported.
	failure string
}

// identities holds the identityMemo of each vcluster.
type identities struct {
	mu    sync.Mutex
	memos map[types.NamespacedName]*identityMemo
}

func (ids *identities) memo(key types.NamespacedName) (m *identityMemo, known bool) {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	if ids.memos == nil {
		ids.memos = map[types.NamespacedName]*identityMemo{}
	}
	if m, ok := ids.memos[key]; ok {
		return m, true
	}
	m = &identityMemo{}
	ids.memos[key] = m
	return m, false
}

func (ids *identities) forget(key types.NamespacedName) {
	ids.mu.Lock()
	delete(ids.memos, key)
	ids.mu.Unlock()
}

// obtainIdentity is the credential step of the ServiceAccount identity.
// With the admin credentials of the kubeconfig Secret it makes sure,
// inside the vcluster, of the ServiceAccount and its bindings, and obtains
// a token for Build. A healthy registration keeps its token, and nothing
// is asked of the vcluster, until the token is due for renewal, a rotation
// is asked for, the scope changes or the periodic drift check comes round.
// A failure is reported and never falls back to the admin credentials: an
// earlier token stays registered, and without one nothing is.
func (r *Reconciler) obtainIdentity(ctx context.Context, st *state) (bool, error) {
	identity, err := registration.IdentityOf(st.src, r.Options.Identity)
	if err != nil {
		return r.badInput(ctx, st, err)
	}
	if identity != api.IdentityServiceAccount {
		return false, nil
	}
	conn, err := registration.ConnectionOf(st.src)
	if err != nil {
		return false, nil // Build reports it
	}
	scope, err := registration.ScopeOf(st.src)
	if err != nil {
		return r.badInput(ctx, st, err)
	}
	now := r.now()
	rotation := st.workload.Object.GetAnnotations()[api.RotateTokenAnnotation]
	prev := previousToken(st.registrations)
	memo, known := r.identities.memo(st.key)
	renew := renewalDue(prev, rotation, now)
	check := ""
	switch {
	case renew != "":
	case prev.Scope != scope.String():
		check = "its scope changed"
	case !known && r.Options.ProbeInterval > 0:
		// First sight since start: check at a random moment within the
		// interval, so that a restart does not visit a fleet at once.
		memo.nextCheck = now.Add(time.Duration(rand.Int64N(int64(r.Options.ProbeInterval) + 1)))
	case r.Options.ProbeInterval > 0 && !now.Before(memo.nextCheck):
		check = "periodic check"
	}
	if renew == "" && check == "" {
		st.src.Token = prev
		r.scheduleIdentity(st, prev, memo, now)
		return false, nil
	}
	if r.Options.DryRun {
		return r.wouldSetUpIdentity(st, prev, renew, check)
	}

	logger := log.FromContext(ctx)
	tok, err := r.setUpIdentity(ctx, conn, scope, rotation, renew != "", now)
	if err != nil {
		return r.identityFailed(ctx, st, prev, memo, err)
	}
	if memo.failure != "" {
		logger.Info("ServiceAccount identity set up again", "scope", scope.String())
		memo.failure = ""
	}
	if r.Options.ProbeInterval > 0 {
		memo.nextCheck = now.Add(wait.Jitter(r.Options.ProbeInterval, probeJitter))
	}
	if tok == nil {
		logger.V(1).Info("ServiceAccount identity checked inside the vcluster", "why", check)
		tok = prev
		tok.Scope = scope.String()
	} else {
		why := renew
		if why == "" {
			why = "its ServiceAccount was re-created inside the vcluster"
		}
		logger.Info("issued a ServiceAccount token", "why", why, "renewAfter", tok.RenewAfter)
	}
	st.src.Token = tok
	r.scheduleIdentity(st, tok, memo, now)
	return false, nil
}

// setUpIdentity ensures the objects of the identity inside the vcluster
// and, when renew is set or the ServiceAccount had to be re-created,
// issues a token; tok is nil when none was issued.
func (r *Reconciler) setUpIdentity(ctx context.Context, conn registration.Connection, scope registration.IdentityScope, rotation string, renew bool, now time.Time) (*registration.ServiceAccountToken, error) {
	in, err := identity.Connect(conn, r.Options.ProbeDialer, r.probeTimeout())
	if err != nil {
		return nil, err
	}
	defer in.Close()
	saCreated, err := in.EnsureRBAC(ctx, scope)
	if err != nil {
		return nil, err
	}
	if !renew && !saCreated {
		return nil, nil
	}
	token, expires, err := in.IssueToken(ctx, r.tokenTTL())
	if err != nil {
		return nil, err
	}
	return &registration.ServiceAccountToken{
		Token:      token,
		RenewAfter: renewAfter(now, expires, jitterFraction()),
		Rotation:   rotation,
		Scope:      scope.String(),
	}, nil
}

// scheduleIdentity has the vcluster reconciled again at the token's
// renewal and at the next drift check.
func (r *Reconciler) scheduleIdentity(st *state, tok *registration.ServiceAccountToken, memo *identityMemo, now time.Time) {
	st.requeueAfter(max(tok.RenewAfter.Sub(now), 0) + time.Second)
	if !memo.nextCheck.IsZero() {
		st.requeueAfter(max(memo.nextCheck.Sub(now), 0) + time.Second)
	}
}

// identityFailed reports a ServiceAccount identity that could not be set up
// or renewed, once per distinct reason, and tries again later. The
// registration keeps its earlier token, if it has one; without one the
// reconcile ends and nothing is written.
func (r *Reconciler) identityFailed(ctx context.Context, st *state, prev *registration.ServiceAccountToken, memo *identityMemo, cause error) (bool, error) {
	st.requeueAfter(wait.Jitter(identityRetry, probeJitter))
	keeps := "the vcluster stays unregistered until this is resolved"
	switch {
	case prev != nil:
		keeps = "the registration keeps its current token until it expires (annotation " + api.CredentialsNotAfterAnnotation + ")"
	case len(st.registrations) > 0:
		keeps = "the existing registration is left as it is"
	}
	msg := fmt.Sprintf("Argo CD's ServiceAccount identity in this vcluster could not be set up: %s. The admin credentials are not handed out instead; %s. The registrar tries again in about %s.",
		strings.TrimSuffix(cause.Error(), "."), keeps, identityRetry)
	if prev == nil {
		if len(st.registrations) == 0 {
			st.decide(DecisionRefuse, nil, "%s: %s", api.ReasonIdentityFailed, msg)
		}
		for _, s := range st.registrations {
			st.decide(DecisionRefuse, s, "%s: %s", api.ReasonIdentityFailed, msg)
		}
	}
	if memo.failure != msg {
		memo.failure = msg
		r.metrics().errors.WithLabelValues(api.ReasonIdentityFailed).Inc()
		r.Recorder.Eventf(st.workload.Object, nil, corev1.EventTypeWarning, api.ReasonIdentityFailed, "Identity", "%s", msg)
		log.FromContext(ctx).Info("ServiceAccount identity failed", "error", cause.Error(), "foreign", identity.IsForeign(cause))
	}
	if prev == nil {
		return true, nil
	}
	st.src.Token = prev
	return false, nil
}

// wouldSetUpIdentity is the identity step of a dry run, which touches
// nothing inside a vcluster either: a registration whose token is still
// valid is built with it (a due drift check is left out); one that needs a
// new token is reported as the change it would be, and the reconcile ends
// there, since no token can be built without issuing one.
func (r *Reconciler) wouldSetUpIdentity(st *state, prev *registration.ServiceAccountToken, renew, check string) (bool, error) {
	if renew == "" {
		st.src.Token = prev
		return false, nil
	}
	why := "would set up ServiceAccount " + registration.ManagerNamespace + "/" + registration.ManagerServiceAccount + " inside the vcluster and register a token of it (" + renew + ")"
	if len(st.registrations) == 0 {
		st.decide(DecisionRegister, nil, "%s", why)
		return true, nil
	}
	for _, s := range st.registrations {
		st.decide(DecisionUpdate, s, "%s", why)
	}
	return true, nil
}

func (r *Reconciler) now() time.Time {
	if r.Options.Now != nil {
		return r.Options.Now()
	}
	return time.Now()
}

func (r *Reconciler) tokenTTL() time.Duration {
	if r.Options.TokenTTL > 0 {
		return r.Options.TokenTTL
	}
	return DefaultTokenTTL
}

func (r *Reconciler) probeTimeout() time.Duration {
	if r.Options.ProbeTimeout > 0 {
		return r.Options.ProbeTimeout
	}
	return DefaultProbeTimeout
}
