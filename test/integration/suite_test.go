// Package integration runs the registrar's reconciler against a real
// kube-apiserver and etcd, started by envtest from binaries built offline
// (make testbins). Each test owns its namespaces and its Argo CD namespace,
// and runs its own manager wired with the real SetupWithManager.
package integration

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"

	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/registrar-dev/registrar/pkg/logging"
	"github.com/registrar-dev/registrar/test/fixture"
)

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var (
	capturedLogs = &syncBuffer{}
	cfg          *rest.Config
	k8sClient    client.Client
	// assets is the directory of the kube-apiserver and etcd binaries.
	assets string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// Every log line, at every verbosity, is kept for the scan for secret
	// material; it also goes to stderr with REGISTRAR_TEST_LOGS=1.
	var out io.Writer = capturedLogs
	if os.Getenv("REGISTRAR_TEST_LOGS") == "1" {
		out = io.MultiWriter(capturedLogs, os.Stderr)
	}
	// The registrar's logger, as cmd/registrar builds it, at its most verbose.
	logf.SetLogger(logging.CapVerbosity(zap.New(zap.WriteTo(out), zap.Level(zapcore.Level(-10))), logging.MaxVerbosity))
	var err error
	if assets, err = fixture.TestBinaries(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
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
	// Bursts of hundreds of objects: no client-side throttling in tests.
	cfg.QPS, cfg.Burst = 1000, 2000
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		fmt.Fprintf(os.Stderr, "client: %v\n", err)
		return 1
	}
	return m.Run()
}
