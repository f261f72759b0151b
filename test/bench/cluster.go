package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/registrar-dev/registrar/test/fixture"
)

// serviceRange is wide enough for thousands of vcluster Services; envtest's
// default (10.0.0.0/24, controlplane/apiserver.go) holds 256.
const serviceRange = "10.0.0.0/12"

// cluster is the host (fixture.Host, its client unthrottled for the load
// generator) and a clientset of it; processes under test get the host's
// kubeconfig file and log into its directory.
type cluster struct {
	*fixture.Host
	c  client.Client
	cs kubernetes.Interface
}

func startCluster(assets string) (*cluster, error) {
	// The load generator must never be the bottleneck: no client-side limit.
	h, err := fixture.StartHost(fixture.Binaries(assets), fixture.ServiceIPRange(serviceRange), fixture.ClientRate(1e6, 1e6))
	if err != nil {
		return nil, err
	}
	cl := &cluster{Host: h, c: h.Client}
	if cl.cs, err = kubernetes.NewForConfig(h.Config); err != nil {
		cl.stop()
		return nil, err
	}
	return cl, nil
}

func (cl *cluster) stop() {
	if err := cl.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
}

func (cl *cluster) createNamespaces(ctx context.Context, names []string, workers int) error {
	return parallel(len(names), workers, func(i int) error {
		return cl.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: names[i]}})
	})
}

// clearNamespace deletes every Secret in ns (registrations of a registrar
// that no longer runs, or the plain client's Secrets).
func (cl *cluster) clearNamespace(ctx context.Context, ns string) error {
	return cl.c.DeleteAllOf(ctx, &corev1.Secret{}, client.InNamespace(ns))
}

// parallel runs fn(0..n-1) on workers goroutines and returns the first error.
func parallel(n, workers int, fn func(i int) error) error {
	if workers < 1 {
		workers = 1
	}
	var (
		next     atomic.Int64
		firstErr error
		once     sync.Once
		wg       sync.WaitGroup
		failed   atomic.Bool
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { firstErr = err })
					failed.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}
