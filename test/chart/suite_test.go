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
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/registrar-dev/registrar/test/fixture"
)

// chartDir is charts/registrar, from this package's directory.
const chartDir = "../../charts/registrar"

var (
	helmBin   string
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
	return fixture.RunTests(m, func(h *fixture.Host) { cfg, k8sClient = h.Config, h.Client }, fixture.CRDs("testdata"))
}
