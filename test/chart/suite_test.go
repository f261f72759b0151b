// Package chart tests charts/registrar: helm lint and the rendered
// manifests, decoded into typed objects; the manifests applied to a real
// kube-apiserver (envtest) with strict field validation; and the chart's
// RBAC proven by running the registrar binary as the chart's
// ServiceAccount. helm comes from $HELM and the API server binaries from
// $KUBEBUILDER_ASSETS (make chart-test sets both); missing either fails.
package chart

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/registrar-dev/registrar/test/fixture"
)

// chartDir is charts/registrar, from this package's directory.
const chartDir = "../../charts/registrar"

var (
	helmBin   string
	registrar string // the registrar binary, built fresh for these tests
	cfg       *rest.Config
	k8sClient client.Client
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	logf.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	// A skip would read as a pass: fail instead, and say how to fix it.
	helmBin = os.Getenv("HELM")
	if helmBin == "" {
		fmt.Fprintln(os.Stderr, "HELM is not set: run `make chart-test` (it builds helm from the module proxy) or point HELM at a helm v3 binary")
		return 1
	}
	if _, err := exec.LookPath(helmBin); err != nil {
		fmt.Fprintf(os.Stderr, "HELM=%s is not an executable: run `make helm`: %v\n", helmBin, err)
		return 1
	}
	assets, err := fixture.TestBinaries()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	// Build the registrar from this tree, so the RBAC tests never run a
	// stale bin/registrar.
	tmp, err := os.MkdirTemp("", "registrar-chart-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	registrar = filepath.Join(tmp, "registrar")
	build := exec.Command("go", "build", "-o", registrar, "github.com/registrar-dev/registrar/cmd/registrar")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building the registrar: %v\n", err)
		return 1
	}

	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{"testdata"},
		ErrorIfCRDPathMissing: true,
	}
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
