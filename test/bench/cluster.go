package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/registrar-dev/registrar/test/fixture"
)

// serviceRange is wide enough for thousands of vcluster Services; envtest's
// default (10.0.0.0/24, controlplane/apiserver.go) holds 256.
const serviceRange = "10.0.0.0/12"

// cluster is the host: envtest's kube-apiserver and etcd, an unthrottled
// client for the load generator, and a kubeconfig file for the processes
// under test.
type cluster struct {
	env        *envtest.Environment
	cfg        *rest.Config
	c          client.Client
	cs         kubernetes.Interface
	kubeconfig string
	dir        string
}

func startCluster(assets string) (*cluster, error) {
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			return nil, fmt.Errorf("%s missing in %q: run `make testbins` or set -assets", bin, assets)
		}
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", serviceRange)
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting envtest: %w", err)
	}
	cl := &cluster{env: env}
	ok := false
	defer func() {
		if !ok {
			cl.stop()
		}
	}()
	// The load generator must never be the bottleneck: no client-side limit.
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 1e6, 1e6
	cl.cfg = cfg
	if cl.c, err = client.New(cfg, client.Options{Scheme: scheme.Scheme}); err != nil {
		return nil, err
	}
	if cl.cs, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if cl.dir, err = os.MkdirTemp("", "registrar-bench-"); err != nil {
		return nil, err
	}
	cl.kubeconfig = filepath.Join(cl.dir, "kubeconfig")
	if err := fixture.WriteKubeconfig(cfg, cl.kubeconfig, ""); err != nil {
		return nil, err
	}
	ok = true
	return cl, nil
}

func (cl *cluster) stop() {
	if cl.dir != "" {
		_ = os.RemoveAll(cl.dir)
	}
	if err := cl.env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping envtest:", err)
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
