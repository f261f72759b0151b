package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/registrar-dev/registrar/test/fixture"
)

func TestMain(m *testing.M) {
	code := m.Run()
	fixture.RemoveBuilds()
	os.Exit(code)
}

// Flags whose value would silently mean something else are refused before
// anything connects: exit status 2 and a message naming the flag.
func TestMisleadingFlagsAreRefused(t *testing.T) {
	bin := fixture.RegistrarBinary(t)
	for _, tc := range []struct {
		args []string
		says string
	}{
		// client-go reads a QPS of 0 as its default of 5 per second.
		{[]string{"--kube-api-qps=0"}, "--kube-api-qps must be -1"},
		{[]string{"--kube-api-burst=0", "--kube-api-qps=10"}, "--kube-api-burst at least 1"},
		{[]string{"--probe-concurrency=0"}, "--probe-concurrency at least 1"},
		{[]string{"--probe-grace-period=0s"}, "--probe-grace-period and --expiry-warning more than 0"},
		// A stray argument would drop every flag after it: a dry run that
		// writes, or a controller started by `registrar version`.
		{[]string{"--once", "typo", "--dry-run"}, `unexpected argument "typo"`},
		{[]string{"version"}, `unexpected argument "version"`},
		// A configuration error is not "changes pending" (1 in a dry run).
		{[]string{"--once", "--dry-run", "--kubeconfig", "/nonexistent/kubeconfig"}, "no usable Kubernetes configuration"},
	} {
		out, err := exec.Command(bin, tc.args...).CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("registrar %v: %v, want exit status 2\n%s", tc.args, err, out)
			continue
		}
		if !strings.Contains(string(out), tc.says) {
			t.Errorf("registrar %v said %q, want it to say %q", tc.args, out, tc.says)
		}
	}
}

// The registrar asks the API server for gzip only when told to: beside the
// API server compression costs both sides CPU. What the binary sends is
// read at a TLS server standing in for the API server.
func TestCompressionIsAskedForOnlyWhenTurnedOn(t *testing.T) {
	bin := fixture.RegistrarBinary(t)
	for _, tc := range []struct {
		args []string
		gzip bool
	}{
		{nil, false},
		{[]string{"--kube-api-compression=true"}, true},
	} {
		encodings := make(chan string, 100)
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case encodings <- r.Header.Get("Accept-Encoding"):
			default: // the first requests are enough; never block the server's Close
			}
			http.Error(w, "stand-in", http.StatusServiceUnavailable)
		}))
		srv.EnableHTTP2 = true
		srv.StartTLS()
		kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
		cfg := clientcmdapi.NewConfig()
		cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: srv.URL, InsecureSkipTLSVerify: true}
		cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "t"}
		cfg.Contexts["x"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
		cfg.CurrentContext = "x"
		if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", kubeconfig, "--once", "--dry-run"}, tc.args...)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-encodings:
			if asked := strings.Contains(got, "gzip"); asked != tc.gzip {
				t.Errorf("registrar %v sent Accept-Encoding %q; want gzip asked for: %v", tc.args, got, tc.gzip)
			}
		case <-ctx.Done():
			t.Errorf("registrar %v made no request within 30 s", tc.args)
		}
		cancel()
		_ = cmd.Wait()
		srv.Close()
	}
}
