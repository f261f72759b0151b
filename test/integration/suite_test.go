// Package integration runs the registrar's reconciler against a real
// kube-apiserver and etcd, started by envtest from binaries built offline
// (make testbins). Each test owns its namespaces and its Argo CD namespace,
// and runs its own manager wired with the real SetupWithManager.
package integration

import (
	"bytes"
	"io"
	"os"
	"sync"
	"testing"

	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
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
	// host is the suite's API server; cfg and k8sClient are its admin
	// config and client.
	host      *fixture.Host
	cfg       *rest.Config
	k8sClient client.Client
	// assets is the directory of the kube-apiserver and etcd binaries.
	assets string
)

func TestMain(m *testing.M) {
	// Every log line, at every verbosity, is kept for the scan for secret
	// material; it also goes to stderr with REGISTRAR_TEST_LOGS=1.
	var out io.Writer = capturedLogs
	if os.Getenv("REGISTRAR_TEST_LOGS") == "1" {
		out = io.MultiWriter(capturedLogs, os.Stderr)
	}
	// The registrar's logger, as cmd/registrar builds it, at its most verbose.
	logf.SetLogger(logging.CapVerbosity(zap.New(zap.WriteTo(out), zap.Level(zapcore.Level(-10))), logging.MaxVerbosity))
	// Bursts of hundreds of objects: no client-side throttling in tests.
	os.Exit(fixture.RunTests(m, func(h *fixture.Host) {
		host, cfg, k8sClient, assets = h, h.Config, h.Client, h.Binaries
	}, fixture.ClientRate(1000, 2000),
		// The suite creates more vcluster Services than envtest's default
		// range (a /24) holds.
		fixture.ServiceIPRange("10.0.0.0/16")))
}
