package reconcile

import (
	"context"
	"fmt"
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/util/csaupgrade"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/registration"
)

// registration returns the Argo CD cluster Secret the registrar owns for
// vcluster key in Argo CD namespace argocd, or nil. The cache holds only
// cluster Secrets in the Argo CD namespaces.
func (r *Reconciler) registration(ctx context.Context, argocd string, key types.NamespacedName) (*corev1.Secret, error) {
	var s corev1.Secret
	err := r.Client.Get(ctx, types.NamespacedName{Namespace: argocd, Name: registration.SecretName(key.Namespace, key.Name)}, &s)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading registration of %s: %w", key, err)
	}
	if !owned(&s) {
		return nil, nil
	}
	return &s, nil
}

func owned(s *corev1.Secret) bool { return s.Labels[api.ManagedByLabel] == api.ManagedByValue }

// apply writes desired unless existing already says the same. A new
// registration is one Create, which fails with AlreadyExists rather than
// touch a Secret of that name that is not ours; an update is a server-side
// apply under one field owner, so fields that others (Argo CD, a user) set
// on the Secret are left alone, made on the very version the cache showed
// as ours. held says whether desired is now in place: false when a
// conflict, reported, keeps it out. Each outcome is recorded on st.
func (r *Reconciler) apply(ctx context.Context, st *state, existing, desired *corev1.Secret) (held bool, err error) {
	logger := log.FromContext(ctx)
	w := st.workload
	if existing != nil && upToDate(existing, desired) {
		logger.V(1).Info("registration up to date", "secret", desired.Name)
		st.decide(DecisionUnchanged, desired, "the registration is up to date")
		return true, nil
	}
	if other, blocker, err := r.collision(ctx, desired); err != nil {
		return false, err
	} else if other != "" {
		r.refuse(st, desired, blocker, "%s; the existing registration is left untouched. Set annotation %s to another name, or remove the other registration.",
			other, api.ClusterNameAnnotation)
		return false, nil
	}
	server := string(desired.Data[registration.ArgoCDServerKey])
	if existing == nil {
		created, err := r.create(ctx, desired)
		if err != nil {
			return false, err
		}
		if created {
			r.Recorder.Eventf(w.Object, nil, corev1.EventTypeNormal, api.ReasonRegistered, "Register",
				"Registered in Argo CD as cluster %q at %s (Secret %s/%s)", desired.Data[registration.ArgoCDNameKey], server, desired.Namespace, desired.Name)
			logger.Info("registered vcluster", "secret", desired.Name, "server", server)
			st.decide(DecisionRegister, desired, "no registration yet")
			return true, nil
		}
		// A Secret of that name exists that the cache does not show as
		// ours: ours not yet in the cache, or someone else's.
		var live corev1.Secret
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(desired), &live); err != nil {
			return false, fmt.Errorf("reading the existing Secret %s/%s: %w", desired.Namespace, desired.Name, err)
		}
		if !owned(&live) {
			r.refuse(st, desired, client.ObjectKeyFromObject(&live),
				"Secret %s/%s exists and is not managed by the registrar; it is left untouched. Delete or rename it to let the registrar register this vcluster.",
				desired.Namespace, desired.Name)
			return false, nil
		}
		if upToDate(&live, desired) {
			st.decide(DecisionUnchanged, desired, "the registration is up to date")
			return true, nil
		}
		existing = &live
	}
	if err := r.update(ctx, existing, desired); err != nil {
		return false, err
	}
	r.Recorder.Eventf(w.Object, nil, corev1.EventTypeNormal, api.ReasonUpdated, "Register",
		"Updated Argo CD cluster Secret %s/%s", desired.Namespace, desired.Name)
	logger.Info("updated registration", "secret", desired.Name, "server", server)
	st.decide(DecisionUpdate, desired, "changed: %s", strings.Join(differences(existing, desired), ", "))
	return true, nil
}

// create writes desired as a new Secret; created is false when a Secret of
// that name already exists, which is then left as it is. In a dry run it
// writes nothing: it reads the API server for a Secret of that name, which
// the cache may not hold.
func (r *Reconciler) create(ctx context.Context, desired *corev1.Secret) (created bool, err error) {
	if r.Options.DryRun {
		var live corev1.Secret
		err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(desired), &live)
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("reading Secret %s/%s: %w", desired.Namespace, desired.Name, err)
		}
		return false, nil
	}
	s := desired.DeepCopy()
	done := r.ownWrites.begin(ctx, client.ObjectKeyFromObject(s))
	err = r.Client.Create(ctx, s, client.FieldOwner(api.FieldOwner))
	if apierrors.IsAlreadyExists(err) {
		done()
		return false, nil
	}
	if err != nil {
		done()
		return false, fmt.Errorf("creating Argo CD cluster Secret %s/%s: %w", desired.Namespace, desired.Name, err)
	}
	r.metrics().writes.WithLabelValues("create").Inc()
	done(s.ResourceVersion)
	return true, nil
}

// update server-side applies desired over existing, a Secret of ours. The
// resource version of existing goes with the request, so the write fails
// with a conflict (and the reconcile is retried) rather than touch a Secret
// that was replaced meanwhile, perhaps by one that is not ours.
func (r *Reconciler) update(ctx context.Context, existing, desired *corev1.Secret) error {
	if r.Options.DryRun {
		return nil
	}
	done := r.ownWrites.begin(ctx, client.ObjectKeyFromObject(desired))
	rv, err := r.upgradeOwnership(ctx, existing)
	if err != nil {
		done()
		return err
	}
	ac := corev1ac.Secret(desired.Name, desired.Namespace).
		WithResourceVersion(rv).
		WithType(desired.Type).
		WithLabels(desired.Labels).
		WithAnnotations(desired.Annotations).
		WithData(desired.Data)
	if err := r.Client.Apply(ctx, ac, client.FieldOwner(api.FieldOwner), client.ForceOwnership); err != nil {
		// The ownership upgrade may have written; its echo is replayed.
		done()
		return fmt.Errorf("applying Argo CD cluster Secret %s/%s: %w", desired.Namespace, desired.Name, err)
	}
	r.metrics().writes.WithLabelValues("apply").Inc()
	if ac.ResourceVersion != nil {
		done(rv, *ac.ResourceVersion)
	} else {
		done()
	}
	return nil
}

// upgradeOwnership hands the fields a Create of ours set (owned by an
// Update of api.FieldOwner) to api.FieldOwner's server-side apply, so that a field
// the next apply leaves out is removed rather than kept by the Create's
// claim. It is one JSON patch, conditional on the resource version, once in
// the life of a registration; it returns the resource version to apply on.
func (r *Reconciler) upgradeOwnership(ctx context.Context, existing *corev1.Secret) (string, error) {
	patch, err := csaupgrade.UpgradeManagedFieldsPatch(existing, sets.New(api.FieldOwner), api.FieldOwner)
	if err != nil {
		return "", fmt.Errorf("upgrading field ownership of Secret %s/%s: %w", existing.Namespace, existing.Name, err)
	}
	if patch == nil {
		return existing.ResourceVersion, nil
	}
	s := existing.DeepCopy()
	if err := r.Client.Patch(ctx, s, client.RawPatch(types.JSONPatchType, patch)); err != nil {
		return "", fmt.Errorf("upgrading field ownership of Secret %s/%s: %w", existing.Namespace, existing.Name, err)
	}
	r.metrics().writes.WithLabelValues("ownership").Inc()
	return s.ResourceVersion, nil
}

// refuse reports registration desired kept out by another Secret, and has
// a change or deletion of that Secret reconcile the vcluster again.
func (r *Reconciler) refuse(st *state, desired *corev1.Secret, blocker types.NamespacedName, format string, args ...any) {
	w := st.workload
	r.metrics().errors.WithLabelValues(api.ReasonConflict).Inc()
	r.Recorder.Eventf(w.Object, nil, corev1.EventTypeWarning, api.ReasonConflict, "Register", format, args...)
	r.refusals.add(blocker, client.ObjectKeyFromObject(w.Object))
	st.decide(DecisionRefuse, desired, api.ReasonConflict+": "+format, args...)
}

// collision describes another Argo CD cluster Secret that declares the same
// cluster name or server as desired, and names it, or returns "". Argo CD
// resolves an Application's destination by either, so a second holder of
// one would let a vcluster capture deployments meant for another cluster.
// The first holder keeps it.
func (r *Reconciler) collision(ctx context.Context, desired *corev1.Secret) (string, types.NamespacedName, error) {
	for _, c := range []struct{ index, key, what string }{
		{clusterNameIndex, registration.ArgoCDNameKey, "cluster name"},
		{clusterServerIndex, registration.ArgoCDServerKey, "server"},
	} {
		var list corev1.SecretList
		value := strings.TrimRight(string(desired.Data[c.key]), "/")
		if err := r.Client.List(ctx, &list, client.InNamespace(desired.Namespace),
			client.MatchingFields{c.index: value}); err != nil {
			return "", types.NamespacedName{}, fmt.Errorf("checking %s collisions: %w", c.what, err)
		}
		for _, s := range list.Items {
			if s.Name != desired.Name {
				return fmt.Sprintf("%s %q is already registered by Secret %s/%s", c.what, value, s.Namespace, s.Name),
					client.ObjectKeyFromObject(&s), nil
			}
		}
	}
	return "", types.NamespacedName{}, nil
}

// upToDate says whether existing holds everything desired does. The hash
// catches removals (a label no longer propagated); the field comparison
// catches hand edits of our fields, which are then restored.
func upToDate(existing, desired *corev1.Secret) bool {
	if existing.Annotations[api.ContentHashAnnotation] != desired.Annotations[api.ContentHashAnnotation] {
		return false
	}
	if existing.Type != desired.Type {
		return false
	}
	for k, v := range desired.Labels {
		if existing.Labels[k] != v {
			return false
		}
	}
	for k, v := range desired.Annotations {
		if existing.Annotations[k] != v {
			return false
		}
	}
	return maps.EqualFunc(subset(existing.Data, desired.Data), desired.Data, func(a, b []byte) bool {
		return string(a) == string(b)
	})
}

// subset returns the entries of m whose keys are in keys.
func subset(m, keys map[string][]byte) map[string][]byte {
	out := make(map[string][]byte, len(keys))
	for k := range keys {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

// deregister removes the registration, if any, and says why. The delete is
// conditional on the Secret's UID, so a Secret recreated meanwhile survives.
// The outcome is recorded on st; a dry run deletes nothing.
func (r *Reconciler) deregister(ctx context.Context, st *state, existing *corev1.Secret, why string) error {
	if existing == nil {
		return nil
	}
	w := st.workload // nil when the workload itself is gone
	if r.Options.DryRun {
		st.decide(DecisionDeregister, existing, "%s", why)
		return nil
	}
	err := r.Client.Delete(ctx, existing, client.Preconditions{UID: &existing.UID})
	switch {
	case apierrors.IsNotFound(err):
		st.decide(DecisionDeregister, existing, "%s (already removed by someone else)", why)
		return nil // someone else removed it meanwhile
	case err != nil:
		return fmt.Errorf("deleting Argo CD cluster Secret %s/%s: %w", existing.Namespace, existing.Name, err)
	}
	r.metrics().writes.WithLabelValues("delete").Inc()
	r.ownWrites.forget(client.ObjectKeyFromObject(existing))
	r.forgetExpiry(existing)
	if w != nil {
		r.Recorder.Eventf(w.Object, nil, corev1.EventTypeNormal, api.ReasonDeregistered, "Deregister",
			"Removed Argo CD cluster Secret %s/%s: %s", existing.Namespace, existing.Name, why)
	}
	log.FromContext(ctx).Info("deregistered vcluster", "secret", existing.Name, "why", why)
	st.decide(DecisionDeregister, existing, "%s", why)
	return nil
}
