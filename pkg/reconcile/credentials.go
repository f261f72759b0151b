package reconcile

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/registration"
	"github.com/registrar-dev/registrar/pkg/vcluster"
)

// A CredentialSource supplies what a registration's credentials are read
// from. The kubeconfig Secret vcluster exports is the first; a source that
// mints a ServiceAccount token inside the vcluster would be another.
type CredentialSource interface {
	// Read puts the vcluster's credentials, or what Build parses them from,
	// into src. from names the host object they come from, recorded on the
	// registration; found is false when the API server says it does not
	// exist. Bad input is left for Build to report; an error is retried.
	// With Options.DryRun it must write nothing, in the host cluster or in
	// the vcluster.
	Read(ctx context.Context, src *registration.Sources) (from types.NamespacedName, found bool, err error)
}

// kubeconfigSource reads the kubeconfig Secret of a vcluster, from the
// cache when it carries vcluster's labels and from the API server when not
// (vclusters before 0.24, custom names).
type kubeconfigSource struct{ r *Reconciler }

func (k kubeconfigSource) Read(ctx context.Context, src *registration.Sources) (types.NamespacedName, bool, error) {
	r := k.r
	vc := types.NamespacedName{Namespace: src.Workload.GetNamespace(), Name: src.Workload.GetName()}
	key := types.NamespacedName{Namespace: vc.Namespace, Name: vcluster.KubeconfigSecretName(src.Workload)}
	var secret corev1.Secret
	err := r.Client.Get(ctx, key, &secret)
	if err == nil {
		r.watches.release(vc)
		src.KubeconfigSecret = &secret
		return key, true, nil
	}
	if !apierrors.IsNotFound(err) {
		return key, false, fmt.Errorf("reading kubeconfig Secret %s: %w", key, err)
	}
	// Unlabelled or not there yet: follow it (before reading it, so that no
	// later change goes unseen), so that its rotation or creation is seen
	// at once.
	r.watches.ensure(vc, key)
	err = r.readFollowed(ctx, key, &secret)
	if apierrors.IsNotFound(err) {
		r.watches.observed(key, "")
		return key, false, nil
	}
	if err != nil {
		return key, false, fmt.Errorf("reading kubeconfig Secret %s: %w", key, err)
	}
	r.watches.observed(key, secret.ResourceVersion)
	src.KubeconfigSecret = &secret
	return key, true, nil
}

// readFollowed reads a followed Secret from the API server's watch cache,
// at least as fresh as everything its watch has told, which costs the API
// server no etcd read. Anything but the Secret itself is asked again of
// etcd: a NotFound may deregister the vcluster, and deletion needs proof,
// not a cache that may lag behind the watch (another API server's).
func (r *Reconciler) readFollowed(ctx context.Context, key types.NamespacedName, secret *corev1.Secret) error {
	if rv := r.watches.freshAs(key); rv != "" {
		fresh := &client.GetOptions{Raw: &metav1.GetOptions{ResourceVersion: rv}}
		if err := r.APIReader.Get(ctx, key, secret, fresh); err == nil {
			return nil
		}
	}
	return r.APIReader.Get(ctx, key, secret)
}

// readCredentials reads what the credentials come from into the sources.
// When the very object the registrations were built from is gone, its
// credentials are no longer the vcluster's to hand out.
func (r *Reconciler) readCredentials(ctx context.Context, st *state) (bool, error) {
	from, found, err := r.credentials().Read(ctx, &st.src)
	if err != nil || found {
		return err != nil, err
	}
	for _, s := range st.registrations {
		if s.Annotations[api.KubeconfigSecretAnnotation] == from.Name {
			return true, r.deregisterAll(ctx, st, fmt.Sprintf("its kubeconfig Secret %s was deleted", from))
		}
	}
	return false, nil
}
