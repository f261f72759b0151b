package reconcile

import (
	"context"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/registrar-dev/registrar/pkg/connection"
	"github.com/registrar-dev/registrar/pkg/registration"
)

// cacheLagRequeue is how soon a vcluster is looked at again when the API
// server holds a workload the cache does not hold yet.
const cacheLagRequeue = time.Second

// Options configure a Reconciler.
type Options struct {
	// ArgoCDNamespaces are the namespaces of the Argo CD instances the
	// registrar writes cluster Secrets into. A vcluster is registered in
	// the one its api.ArgoCDNamespaceAnnotation names (on the workload or its
	// Namespace), else in the first.
	ArgoCDNamespaces []string
	// ClusterName renders the Argo CD cluster name from a NameData, unless
	// the workload sets api.ClusterNameAnnotation.
	ClusterName *template.Template
	// PropagateLabels lists the workload label keys copied onto the Argo CD
	// cluster Secret, for ApplicationSet cluster generators.
	PropagateLabels []string
	// PropagateNamespaceLabels lists the label keys of the vcluster's
	// Namespace copied onto the Argo CD cluster Secret.
	PropagateNamespaceLabels []string
	// PropagateAnnotations lists the workload annotation keys copied onto
	// the Argo CD cluster Secret.
	PropagateAnnotations []string
	// NamespaceSelector limits the namespaces whose vclusters are trusted;
	// nil trusts every namespace.
	NamespaceSelector labels.Selector
	// Credentials supplies what a registration's credentials are read
	// from; nil reads the kubeconfig Secret vcluster exports.
	Credentials CredentialSource
	// WatchNamespaces are the namespaces vclusters are watched in, as
	// given to CacheOptions; nil is every namespace.
	WatchNamespaces []string
	// Registry receives the reconciler's metrics; nil is
	// controller-runtime's registry, which the manager serves.
	Registry prometheus.Registerer

	// ProbeInterval is how often every registration is probed, besides
	// right after it is written; 0 disables the connection probe.
	ProbeInterval time.Duration
	// ProbeTimeout bounds one probe (DefaultProbeTimeout when 0).
	ProbeTimeout time.Duration
	// ProbeGracePeriod is how long a vcluster just registered, ready or
	// resumed may fail its probe, reported Pending, before it is reported
	// Failed (DefaultProbeGracePeriod when 0).
	ProbeGracePeriod time.Duration
	// ProbeConcurrency bounds the probes running at once
	// (DefaultProbeConcurrency when 0).
	ProbeConcurrency int
	// ProbeDialer dials the server of a registration; nil is the system
	// resolver and a plain TCP dial. Tests use it to reach
	// <service>.<namespace>.svc.
	ProbeDialer connection.DialFunc
	// ExpiryWarning is how long before its credentials expire a
	// registration is warned about (DefaultExpiryWarning when 0).
	ExpiryWarning time.Duration

	// DryRun has every step decide as usual and write nothing: no Argo CD
	// cluster Secret is created, updated or deleted. The caller swaps the
	// Recorder for one that records no Event, and leaves the probe off.
	DryRun bool
	// Identity is the identity of a vcluster that sets no
	// api.IdentityAnnotation: api.IdentityAdmin (also when empty) or
	// api.IdentityServiceAccount.
	Identity string
	// TokenTTL is the lifetime of the ServiceAccount tokens the registrar
	// requests (DefaultTokenTTL when 0; at least MinTokenTTL).
	TokenTTL time.Duration
	// Now is the clock of token renewal; nil is time.Now. Tests move it.
	Now func() time.Time
}

// Reconciler keeps one Argo CD cluster Secret per vcluster. Its requests
// are vcluster keys: the namespace and name shared by a vcluster's
// workload, Service and (by default) kubeconfig Secret.
type Reconciler struct {
	// Client reads from the manager's narrow cache and writes.
	Client client.Client
	// APIReader reads from the API server: for proof that a source is gone
	// and for objects the cache does not hold.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Options   Options

	// watches follows kubeconfig Secrets outside the cache; set up by
	// SetupWithManager.
	watches *secretWatches
	// ownWrites and refusals decide which Argo CD cluster Secret events
	// reconcile a vcluster (argocdevents.go).
	ownWrites ownWrites
	refusals  refusals
	once      sync.Once
	m         *reconcilerMetrics
	// prober probes registrations; nil when probes are off.
	prober *prober
	// expiry holds the last expiry state reported per registration.
	expiry sync.Map
	// identities remembers, per vcluster, the drift checks and failures
	// of its ServiceAccount identity.
	identities identities
}

// state is what the steps of one reconcile learn about a vcluster, each
// step reading what the earlier ones left.
type state struct {
	key types.NamespacedName
	// registrations are the Argo CD cluster Secrets the registrar owns for
	// the vcluster, by Argo CD namespace.
	registrations map[string]*corev1.Secret
	workload      *workload
	src           registration.Sources
	// desired are the Argo CD cluster Secrets to write, one per target.
	desired []*corev1.Secret
	result  ctrl.Result
	// outcomes are the decisions the steps made (plan.go).
	outcomes []Outcome
	// applied is set once every desired registration is in place.
	applied bool
}

// A step does one part of a reconcile. It returns done to end the
// reconcile early (nothing left to do, or a terminal condition already
// reported); an error ends it too, and is retried with backoff.
type step struct {
	name string
	run  func(context.Context, *state) (done bool, err error)
}

// pipeline lists the steps of a reconcile, in order.
func (r *Reconciler) pipeline() []step {
	return []step{
		{"registrations", r.readRegistrations}, // what the registrar wrote before, in every Argo CD namespace
		{"workload", r.readWorkload},           // the StatefulSet or Deployment; if gone, deregister on proof only
		{"trust", r.checkTrust},                // namespace selector, opt-out, readiness
		{"service", r.readService},             // the vcluster's Service, for the server URL
		{"credentials", r.readCredentials},     // Options.Credentials: the kubeconfig Secret
		{"identity", r.obtainIdentity},         // with identity serviceaccount: a token minted inside the vcluster
		{"build", r.build},                     // pure: one desired Secret per target
		{"apply", r.applyTargets},              // write what changed; remove registrations no target wants
		{"revoke", r.revokeReplaced},           // post-apply: a token identity switched back to admin is revoked inside
		{"probe", r.scheduleProbes},            // post-apply: the prober connects as Argo CD will
		{"expiry", r.checkExpiry},              // post-apply: warn before the credentials expire
	}
}

// Reconcile brings the registrations of one vcluster in line with its
// sources by running the pipeline.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	st, err := r.run(ctx, req.NamespacedName)
	if err != nil {
		return ctrl.Result{}, err
	}
	return st.result, nil
}

// run runs the pipeline for vcluster key until a step ends it.
func (r *Reconciler) run(ctx context.Context, key types.NamespacedName) (*state, error) {
	st := &state{key: key}
	for _, s := range r.pipeline() {
		done, err := s.run(ctx, st)
		if err != nil {
			return st, err
		}
		if done {
			break
		}
	}
	return st, nil
}

// readRegistrations finds the registrations the registrar owns for the
// vcluster. The cache holds only cluster Secrets in the Argo CD namespaces.
func (r *Reconciler) readRegistrations(ctx context.Context, st *state) (bool, error) {
	st.registrations = map[string]*corev1.Secret{}
	for _, ns := range r.Options.ArgoCDNamespaces {
		s, err := r.registration(ctx, ns, st.key)
		if err != nil {
			return true, err
		}
		if s != nil {
			st.registrations[ns] = s
		}
	}
	return false, nil
}

// applyTargets writes each desired registration, then removes the
// registrations in Argo CD namespaces no longer desired, once every desired
// one is in place, so that a vcluster that moves is never unregistered in
// between.
func (r *Reconciler) applyTargets(ctx context.Context, st *state) (bool, error) {
	wanted := map[string]bool{}
	var where []string
	allHeld := true
	for _, d := range st.desired {
		wanted[d.Namespace] = true
		where = append(where, d.Namespace)
		held, err := r.apply(ctx, st, st.registrations[d.Namespace], d)
		if err != nil {
			return true, err
		}
		allHeld = allHeld && held
	}
	if !allHeld {
		return false, nil
	}
	st.applied = true
	for ns, s := range st.registrations {
		if !wanted[ns] {
			if err := r.deregister(ctx, st, s, "it is now registered in Argo CD namespace "+strings.Join(where, ", ")); err != nil {
				return true, err
			}
		}
	}
	return false, nil
}

// optedOut removes the registrations of a vcluster that still exists but
// may no longer be registered, revoking its ServiceAccount identity first,
// and stops following its kubeconfig Secret.
func (r *Reconciler) optedOut(ctx context.Context, st *state, why string) error {
	defer r.watches.release(st.key)
	if err := r.revokeBeforeDeregister(ctx, st, why); err != nil {
		return err
	}
	return r.deregisterAll(ctx, st, why)
}

// deregisterAll removes every registration of the vcluster and says why.
func (r *Reconciler) deregisterAll(ctx context.Context, st *state, why string) error {
	r.identities.forget(st.key)
	for _, s := range st.registrations {
		if err := r.deregister(ctx, st, s, why); err != nil {
			return err
		}
	}
	return nil
}

func (r *Reconciler) credentials() CredentialSource {
	if r.Options.Credentials != nil {
		return r.Options.Credentials
	}
	return kubeconfigSource{r}
}
