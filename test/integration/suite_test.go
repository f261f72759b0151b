// Package integration runs the registrar's reconciler against a real
// kube-apiserver and etcd, started by envtest from binaries built offline
// (make testbins). Each test owns its namespaces and its Argo CD namespace,
// and runs its own manager wired with the real SetupWithManager.
package integration

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

var (
	cfg       *rest.Config
	k8sClient client.Client
	// assets is the directory of the kube-apiserver and etcd binaries.
	assets string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// The registrar's logs go to stderr with REGISTRAR_TEST_LOGS=1 only.
	logs := io.Discard
	if os.Getenv("REGISTRAR_TEST_LOGS") == "1" {
		logs = os.Stderr
	}
	logf.SetLogger(zap.New(zap.WriteTo(logs)))
	assets = os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		// A skip would read as a pass: fail instead, and say how to fix it.
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: run `make test` (it builds kube-apiserver and etcd) or point it at a directory holding both")
		return 1
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			fmt.Fprintf(os.Stderr, "%s missing in KUBEBUILDER_ASSETS=%s: run `make testbins`\n", bin, assets)
			return 1
		}
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	var err error
	cfg, err = env.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting envtest: %v\n", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping envtest: %v\n", err)
		}
	}()
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		fmt.Fprintf(os.Stderr, "client: %v\n", err)
		return 1
	}
	return m.Run()
}
