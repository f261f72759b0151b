package reconcile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/registration"
	"github.com/registrar-dev/registrar/pkg/vcluster"
)

// SetupIndexes registers the cache indexes a reconcile reads through
// (collision checks, kubeconfig Secret lookups), for a Reconciler run
// outside a controller: one pass of `registrar sync` or `plan`, which reconciles
// every vcluster through ReconcileOutcomes and needs neither watches nor
// the prober.
func (r *Reconciler) SetupIndexes(mgr manager.Manager) error {
	if len(r.Options.ArgoCDNamespaces) == 0 {
		return errors.New("no Argo CD namespace to register vclusters in")
	}
	ctx := context.Background()
	indexer := mgr.GetFieldIndexer()
	for _, obj := range []client.Object{&appsv1.StatefulSet{}, &appsv1.Deployment{}} {
		if err := indexer.IndexField(ctx, obj, kubeconfigSecretIndex, func(o client.Object) []string {
			if !vcluster.IsVCluster(o) {
				return nil
			}
			return []string{vcluster.KubeconfigSecretName(o)}
		}); err != nil {
			return err
		}
	}
	for name, key := range map[string]string{clusterNameIndex: registration.ArgoCDNameKey, clusterServerIndex: registration.ArgoCDServerKey} {
		if err := indexer.IndexField(ctx, &corev1.Secret{}, name, clusterSecretField(key)); err != nil {
			return err
		}
	}
	return nil
}

// VClusters lists, from the cache, every vcluster a pass reconciles: the
// vcluster workloads it holds, and the sources of the registrations the
// registrar owns in the Argo CD namespaces, whose vcluster may be gone (a
// reconcile of those prunes them on proof). Sorted, each once.
func VClusters(ctx context.Context, cache client.Reader, argocdNamespaces []string) ([]types.NamespacedName, error) {
	seen := map[types.NamespacedName]bool{}
	var sts appsv1.StatefulSetList
	if err := cache.List(ctx, &sts); err != nil {
		return nil, fmt.Errorf("listing StatefulSets: %w", err)
	}
	var deps appsv1.DeploymentList
	if err := cache.List(ctx, &deps); err != nil {
		return nil, fmt.Errorf("listing Deployments: %w", err)
	}
	for _, req := range append(requestsFor(&sts), requestsFor(&deps)...) {
		seen[req.NamespacedName] = true
	}
	for _, ns := range argocdNamespaces {
		var secrets corev1.SecretList
		if err := cache.List(ctx, &secrets, client.InNamespace(ns), client.MatchingLabels{api.ManagedByLabel: api.ManagedByValue}); err != nil {
			return nil, fmt.Errorf("listing the registrations in %s: %w", ns, err)
		}
		for _, s := range secrets.Items {
			src := types.NamespacedName{Namespace: s.Labels[api.SourceNamespaceLabel], Name: s.Labels[api.SourceNameLabel]}
			if src.Namespace != "" && src.Name != "" {
				seen[src] = true
			}
		}
	}
	keys := make([]types.NamespacedName, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b types.NamespacedName) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	return keys, nil
}
