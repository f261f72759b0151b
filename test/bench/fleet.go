package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/registrar-dev/registrar/pkg/registration"
	"github.com/registrar-dev/registrar/test/fixture"
)

// vclusterName is the release name of every vcluster; each lives in a
// namespace of its own, as vcluster is usually installed.
const vclusterName = "sandbox"

// fleet is a set of vclusters, one per namespace "<prefix>-<i>", all
// sharing one PKI (fixture.WithPKI).
type fleet struct {
	prefix string
	vcs    []*fixture.VCluster
	// unlabelled vclusters have a kubeconfig Secret without labels, as
	// vcluster before v0.24 wrote it.
	unlabelled map[int]bool
	readyAt    []time.Time
}

func newFleet(prefix string, n, unlabelled int, pki *fixture.PKI) (*fleet, error) {
	f := &fleet{prefix: prefix, unlabelled: map[int]bool{}, readyAt: make([]time.Time, n)}
	// Spread the unlabelled ones over the fleet.
	for k := 0; k < unlabelled && k < n; k++ {
		f.unlabelled[k*n/unlabelled] = true
	}
	for i := 0; i < n; i++ {
		opts := []fixture.Option{fixture.WithPKI(pki)}
		if f.unlabelled[i] {
			opts = append(opts, fixture.Unlabelled())
		}
		vc, err := fixture.NewVCluster(vclusterName, fmt.Sprintf("%s-%d", prefix, i), opts...)
		if err != nil {
			return nil, err
		}
		f.vcs = append(f.vcs, vc)
	}
	return f, nil
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
		out[i] = registration.SecretName(vc.Namespace, vc.Name)
	}
	return out
}

// create writes every vcluster, ready (fixture.VCluster.Create); the
// namespaces must exist. readyAt records when each became ready.
func (f *fleet) create(ctx context.Context, c client.Client, workers int) error {
	return parallel(len(f.vcs), workers, func(i int) error {
		if _, err := f.vcs[i].Create(ctx, c); err != nil {
			return err
		}
		f.readyAt[i] = time.Now()
		return nil
	})
}

// delete removes each vcluster's StatefulSet, Service and kubeconfig
// Secret, as `helm uninstall` would (envtest runs no namespace controller,
// so deleting the namespace would leave its contents behind).
func (f *fleet) delete(ctx context.Context, c client.Client, workers int) error {
	return parallel(len(f.vcs), workers, func(i int) error { return f.vcs[i].Delete(ctx, c) })
}

// remove deletes the fleet, its namespaces included, so that the next
// fleet's registrar does not list them (the cost curve's later fleets used
// to start among the namespaces of every earlier one). envtest runs no
// namespace controller, which would empty and finalize a deleted
// namespace: the bench empties it (f.delete) and finalizes it, and the
// Events the registrar wrote there are left to their TTL.
func (f *fleet) remove(ctx context.Context, cl *cluster, workers int) error {
	if err := f.delete(ctx, cl.c, workers); err != nil {
		return err
	}
	names := f.namespaces()
	return parallel(len(names), workers, func(i int) error {
		nss := cl.cs.CoreV1().Namespaces()
		if err := nss.Delete(ctx, names[i], metav1.DeleteOptions{}); err != nil {
			return client.IgnoreNotFound(err)
		}
		ns, err := nss.Get(ctx, names[i], metav1.GetOptions{})
		if err != nil {
			return client.IgnoreNotFound(err)
		}
		ns.Spec.Finalizers = nil
		_, err = nss.Finalize(ctx, ns, metav1.UpdateOptions{})
		return client.IgnoreNotFound(err)
	})
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
