package reconcile

import (
	"context"
	"fmt"
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// registration returns the Argo CD cluster Secret the registrar owns for
// vcluster key in Argo CD namespace argocd, or nil. The cache holds only
// cluster Secrets in the Argo CD namespaces.
func (r *Reconciler) registration(ctx context.Context, argocd string, key types.NamespacedName) (*corev1.Secret, error) {
	var s corev1.Secret
	err := r.Client.Get(ctx, types.NamespacedName{Namespace: argocd, Name: SecretName(key.Namespace, key.Name)}, &s)
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

func owned(s *corev1.Secret) bool { return s.Labels[ManagedByLabel] == ManagedByValue }

// apply writes desired unless existing already says the same, with
// server-side apply under one field owner, so fields that others (Argo CD,
// a user) set on the Secret are left alone. held says whether desired is
// now in place: false when a conflict, reported, keeps it out.
func (r *Reconciler) apply(ctx context.Context, w *workload, existing, desired *corev1.Secret) (held bool, err error) {
	logger := log.FromContext(ctx)
	if existing != nil && upToDate(existing, desired) {
		logger.V(1).Info("registration up to date", "secret", desired.Name)
		return true, nil
	}
	if other, err := r.collision(ctx, desired); err != nil {
		return false, err
	} else if other != "" {
		r.metrics().errors.WithLabelValues(ReasonConflict).Inc()
		r.Recorder.Eventf(w.Object, nil, corev1.EventTypeWarning, ReasonConflict, "Register",
			"%s; the existing registration is left untouched. Set annotation %s to another name, or remove the other registration.",
			other, ClusterNameAnnotation)
		return false, nil
	}
	if existing == nil {
		// The cache holds only cluster Secrets: ask the API server whether a
		// Secret of that name exists that is not ours, and leave it alone.
		var live corev1.Secret
		err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(desired), &live)
		switch {
		case err == nil && !owned(&live):
			r.metrics().errors.WithLabelValues(ReasonConflict).Inc()
			r.Recorder.Eventf(w.Object, nil, corev1.EventTypeWarning, ReasonConflict, "Register",
				"Secret %s/%s exists and is not managed by the registrar; it is left untouched. Delete or rename it to let the registrar register this vcluster.",
				desired.Namespace, desired.Name)
			return false, nil
		case err != nil && !apierrors.IsNotFound(err):
			return false, fmt.Errorf("checking for an existing Secret %s/%s: %w", desired.Namespace, desired.Name, err)
		case err == nil:
			existing = &live
		}
	}

	ac := corev1ac.Secret(desired.Name, desired.Namespace).
		WithType(desired.Type).
		WithLabels(desired.Labels).
		WithAnnotations(desired.Annotations).
		WithData(desired.Data)
	if err := r.Client.Apply(ctx, ac, client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return false, fmt.Errorf("applying Argo CD cluster Secret %s/%s: %w", desired.Namespace, desired.Name, err)
	}
	r.metrics().writes.WithLabelValues("apply").Inc()

	server := string(desired.Data[ArgoCDServerKey])
	if existing == nil {
		r.Recorder.Eventf(w.Object, nil, corev1.EventTypeNormal, ReasonRegistered, "Register",
			"Registered in Argo CD as cluster %q at %s (Secret %s/%s)", desired.Data[ArgoCDNameKey], server, desired.Namespace, desired.Name)
		logger.Info("registered vcluster", "secret", desired.Name, "server", server)
	} else {
		r.Recorder.Eventf(w.Object, nil, corev1.EventTypeNormal, ReasonUpdated, "Register",
			"Updated Argo CD cluster Secret %s/%s", desired.Namespace, desired.Name)
		logger.Info("updated registration", "secret", desired.Name, "server", server)
	}
	return true, nil
}

// collision describes another Argo CD cluster Secret that declares the same
// cluster name or server as desired, or returns "". Argo CD resolves an
// Application's destination by either, so a second holder of one would let
// a vcluster capture deployments meant for another cluster. The first
// holder keeps it.
func (r *Reconciler) collision(ctx context.Context, desired *corev1.Secret) (string, error) {
	for _, c := range []struct{ index, key, what string }{
		{clusterNameIndex, ArgoCDNameKey, "cluster name"},
		{clusterServerIndex, ArgoCDServerKey, "server"},
	} {
		var list corev1.SecretList
		value := strings.TrimRight(string(desired.Data[c.key]), "/")
		if err := r.Client.List(ctx, &list, client.InNamespace(desired.Namespace),
			client.MatchingFields{c.index: value}); err != nil {
			return "", fmt.Errorf("checking %s collisions: %w", c.what, err)
		}
		for _, s := range list.Items {
			if s.Name != desired.Name {
				return fmt.Sprintf("%s %q is already registered by Secret %s/%s", c.what, value, s.Namespace, s.Name), nil
			}
		}
	}
	return "", nil
}

// upToDate says whether existing holds everything desired does. The hash
// catches removals (a label no longer propagated); the field comparison
// catches hand edits of our fields, which are then restored.
func upToDate(existing, desired *corev1.Secret) bool {
	if existing.Annotations[ContentHashAnnotation] != desired.Annotations[ContentHashAnnotation] {
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
// w may be nil when the workload itself is gone.
func (r *Reconciler) deregister(ctx context.Context, w *workload, existing *corev1.Secret, why string) error {
	if existing == nil {
		return nil
	}
	err := r.Client.Delete(ctx, existing, client.Preconditions{UID: &existing.UID})
	switch {
	case apierrors.IsNotFound(err):
		return nil // someone else removed it meanwhile
	case err != nil:
		return fmt.Errorf("deleting Argo CD cluster Secret %s/%s: %w", existing.Namespace, existing.Name, err)
	}
	r.metrics().writes.WithLabelValues("delete").Inc()
	if w != nil {
		r.Recorder.Eventf(w.Object, nil, corev1.EventTypeNormal, ReasonDeregistered, "Deregister",
			"Removed Argo CD cluster Secret %s/%s: %s", existing.Namespace, existing.Name, why)
	}
	log.FromContext(ctx).Info("deregistered vcluster", "secret", existing.Name, "why", why)
	return nil
}
