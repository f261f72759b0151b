package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/registrar-dev/registrar/pkg/reconcile"
	"github.com/registrar-dev/registrar/test/fixture"
)

// vclusterName is the release name of every vcluster; each lives in a
// namespace of its own, as vcluster is usually installed.
const vclusterName = "sandbox"

// fleet is a set of vclusters, one per namespace "<prefix>-<i>", all
// sharing one PKI: the registrar reads the credentials but does not care
// whose CA signed them, and generating 1,000 CAs would time the fixture.
type fleet struct {
	prefix string
	vcs    []*fixture.VCluster
	// unlabelled vclusters have a kubeconfig Secret without labels, as
	// vcluster before 0.26 wrote it (../shared/NOTES.md).
	unlabelled map[int]bool
	readyAt    []time.Time
}

func newFleet(prefix string, n, unlabelled int, pki *fixture.PKI) *fleet {
	f := &fleet{prefix: prefix, unlabelled: map[int]bool{}, readyAt: make([]time.Time, n)}
	for i := 0; i < n; i++ {
		ns := fmt.Sprintf("%s-%d", prefix, i)
		f.vcs = append(f.vcs, &fixture.VCluster{Name: vclusterName, Namespace: ns, PKI: pki, Server: "https://localhost:8443"})
	}
	// Spread the unlabelled ones over the fleet.
	for k := 0; k < unlabelled && k < n; k++ {
		f.unlabelled[k*n/unlabelled] = true
	}
	return f
}

func (f *fleet) namespaces() []string {
	out := make([]string, len(f.vcs))
	for i, vc := range f.vcs {
		out[i] = vc.Namespace
	}
	return out
}

// registrations are the names of the Argo CD cluster Secrets of the fleet.
func (f *fleet) registrations() []string {
	out := make([]string, len(f.vcs))
	for i, vc := range f.vcs {
		out[i] = reconcile.SecretName(vc.Namespace, vc.Name)
	}
	return out
}

func (f *fleet) kubeconfigSecret(i int, cert, key []byte) (*corev1.Secret, error) {
	s, err := f.vcs[i].KubeconfigSecretWith(cert, key)
	if err != nil {
		return nil, err
	}
	if f.unlabelled[i] {
		s.Labels = nil
	}
	return s, nil
}

// create writes each vcluster's kubeconfig Secret, Service and StatefulSet
// and marks the StatefulSet ready through its status, as the StatefulSet
// controller of a real cluster would (envtest runs no controllers). The
// namespaces must exist. readyAt records when each became ready.
func (f *fleet) create(ctx context.Context, c client.Client, workers int) error {
	return parallel(len(f.vcs), workers, func(i int) error {
		vc := f.vcs[i]
		secret, err := f.kubeconfigSecret(i, vc.PKI.ClientCert, vc.PKI.ClientKey)
		if err != nil {
			return err
		}
		sts := vc.StatefulSet()
		for _, obj := range []client.Object{secret, vc.Service(), sts} {
			if err := c.Create(ctx, obj); err != nil {
				return fmt.Errorf("creating %T %s/%s: %w", obj, obj.GetNamespace(), obj.GetName(), err)
			}
		}
		sts.Status.Replicas, sts.Status.ReadyReplicas = 1, 1
		if err := c.Status().Update(ctx, sts); err != nil {
			return fmt.Errorf("marking %s/%s ready: %w", sts.Namespace, sts.Name, err)
		}
		f.readyAt[i] = time.Now()
		return nil
	})
}

// delete removes each vcluster's StatefulSet, Service and kubeconfig
// Secret, as `helm uninstall` would (envtest runs no namespace controller,
// so deleting the namespace would leave its contents behind).
func (f *fleet) delete(ctx context.Context, c client.Client, workers int) error {
	return parallel(len(f.vcs), workers, func(i int) error {
		vc := f.vcs[i]
		meta := metav1.ObjectMeta{Name: vc.Name, Namespace: vc.Namespace}
		for _, obj := range []client.Object{
			&appsv1.StatefulSet{ObjectMeta: meta},
			&corev1.Service{ObjectMeta: meta},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: reconcile.KubeconfigSecretPrefix + vc.Name, Namespace: vc.Namespace}},
		} {
			if err := c.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("deleting %T %s/%s: %w", obj, obj.GetNamespace(), obj.GetName(), err)
			}
		}
		return nil
	})
}

// rotate replaces vcluster i's kubeconfig Secret with one carrying cert and
// key (and, if pki is not nil, that new CA), as vcluster does on rotation.
func (f *fleet) rotate(ctx context.Context, c client.Client, i int, pki *fixture.PKI, cert, key []byte) error {
	vc := *f.vcs[i]
	if pki != nil {
		vc.PKI = pki
		f.vcs[i] = &vc
	}
	want, err := f.kubeconfigSecret(i, cert, key)
	if err != nil {
		return err
	}
	var s corev1.Secret
	if err := c.Get(ctx, client.ObjectKeyFromObject(want), &s); err != nil {
		return err
	}
	s.Data = want.Data
	return c.Update(ctx, &s)
}

// unrelatedPerNamespace is how many unrelated Secrets go in each of their
// namespaces.
const unrelatedPerNamespace = 1000

// addUnrelated creates unrelated 4 KiB Secrets, numbered from..to-1, in
// namespaces "unrelated-<k>" of unrelatedPerNamespace each: the Secrets
// of every other tenant of the host cluster.
func addUnrelated(ctx context.Context, cl *cluster, from, to, size, workers int) error {
	var nss []string
	for k := from / unrelatedPerNamespace; k*unrelatedPerNamespace < to; k++ {
		if k*unrelatedPerNamespace >= from {
			nss = append(nss, fmt.Sprintf("unrelated-%d", k))
		}
	}
	if err := cl.createNamespaces(ctx, nss, workers); err != nil {
		return err
	}
	payload := make([]byte, size)
	if _, err := rand.Read(payload); err != nil {
		return err
	}
	return parallel(to-from, workers, func(j int) error {
		i := from + j
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Name:      fmt.Sprintf("app-secret-%d", i),
				Namespace: fmt.Sprintf("unrelated-%d", i/unrelatedPerNamespace),
				Labels:    map[string]string{"app": "someone-else"},
			},
			Data: map[string][]byte{"payload": payload},
		}
		return cl.c.Create(ctx, s)
	})
}
