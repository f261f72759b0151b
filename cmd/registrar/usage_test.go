package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
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

// apiServer stands in for the host cluster's API server: it answers every
// request 503 and counts them, so that a test can tell whether the
// registrar contacted it at all.
type apiServer struct {
	*httptest.Server
	requests   atomic.Int64
	encodings  chan string
	kubeconfig string
}

func newAPIServer(t *testing.T) *apiServer {
	s := &apiServer{encodings: make(chan string, 100)}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		select {
		case s.encodings <- r.Header.Get("Accept-Encoding"):
		default: // the first requests are enough; never block the server's Close
		}
		http.Error(w, "stand-in", http.StatusServiceUnavailable)
	}))
	s.EnableHTTP2 = true
	s.StartTLS()
	t.Cleanup(s.Close)
	s.kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: s.URL, InsecureSkipTLSVerify: true}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "t"}
	cfg.Contexts["x"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	cfg.CurrentContext = "x"
	if err := clientcmd.WriteToFile(*cfg, s.kubeconfig); err != nil {
		t.Fatal(err)
	}
	return s
}

// registrarRun is what one run of the registrar binary printed, and its
// exit status.
type registrarRun struct {
	code           int
	stdout, stderr string
}

// runRegistrar runs the binary with args and $KUBECONFIG set to
// kubeconfig, for at most 20 s: a run that should have been refused at
// once and instead started a pass or the controller is stopped there.
func runRegistrar(t *testing.T, kubeconfig string, args ...string) registrarRun {
	t.Helper()
	// Built first: the build is not the run the 20 s are for.
	bin := fixture.RegistrarBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	run := registrarRun{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Errorf("registrar %v still ran after 20 s\n%s", args, run.stderr)
		run.code = -1
	case errors.As(err, &exit):
		run.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("running registrar %v: %v", args, err)
	}
	return run
}

// A usage error is refused before anything is contacted: exit status 2,
// one line naming what is wrong, not a request to the API server. Above
// all a plan never writes, whatever else is on its command line.
func TestUsageErrorsContactNothing(t *testing.T) {
	api := newAPIServer(t)
	for _, tc := range []struct {
		args []string
		says string
	}{
		// A stray argument: Go's flag package used to stop there and drop
		// every flag after it, turning a dry run into a write.
		{[]string{"plan", "typo"}, `unexpected argument "typo": registrar plan takes flags only`},
		{[]string{"plan", "--argocd-namespace", "argocd", "typo", "--output", "yaml"}, `unexpected argument "typo"`},
		{[]string{"plan", "--", "--argocd-namespace=argocd"}, `unexpected argument "--argocd-namespace=argocd"`},
		{[]string{"plan", "-o", "yaml", "json"}, `unexpected argument "json"`},
		{[]string{"sync", "now"}, `unexpected argument "now": registrar sync takes flags only`},
		{[]string{"controller", "start"}, `unexpected argument "start"`},
		{[]string{"status", "all"}, `unexpected argument "all": registrar status takes flags only`},
		{[]string{"status", "-o", "table"}, "--output=table: use wide, yaml, json, or leave it out for a table"},
		{[]string{"status", "--argocd-namespace=Argo"}, `--argocd-namespace: "Argo" is not a namespace name`},
		// status reads registrations; what decides them is not its business.
		{[]string{"status", "--namespace-selector=team=a"}, "unknown flag: --namespace-selector"},
		{[]string{"version", "--short"}, "unknown flag: --short; see 'registrar version --help'"},
		// The flat form is gone: `registrar --once` is not a command.
		{[]string{"--once", "--dry-run"}, "unknown flag: --once"},
		{[]string{"typo"}, `unknown command "typo" for "registrar"`},
		// A flag of another subcommand is not defined here.
		{[]string{"plan", "--dry-run"}, "unknown flag: --dry-run; see 'registrar plan --help'"},
		{[]string{"plan", "--leader-elect"}, "unknown flag: --leader-elect"},
		{[]string{"sync", "--metrics-bind-address=:9090"}, "unknown flag: --metrics-bind-address"},
		// A plan issues no token and records no Event.
		{[]string{"plan", "--token-ttl=1h"}, "unknown flag: --token-ttl"},
		{[]string{"plan", "--expiry-warning=48h"}, "unknown flag: --expiry-warning"},
		{[]string{"plan", "--connection-check-interval=1m"}, "unknown flag: --connection-check-interval"},
		// The old names are gone.
		{[]string{"controller", "--probe-interval=1m"}, "unknown flag: --probe-interval"},
		{[]string{"controller", "--argocd-namespaces=a,b"}, "unknown flag: --argocd-namespaces"},
		{[]string{"plan", "-o", "wide"}, "--output=wide: use yaml or json"},
		// Values that would silently mean something else. client-go reads
		// a QPS of 0 as its default of 5 per second.
		{[]string{"plan", "--kube-api-qps=0"}, "--kube-api-qps=0: use -1"},
		{[]string{"sync", "--kube-api-burst=0", "--kube-api-qps=10"}, "--kube-api-burst=0: use 1 or more"},
		{[]string{"controller", "--connection-check-concurrency=0"}, "--connection-check-concurrency=0: use 1 or more"},
		// Every value is checked before anything runs, with the form
		// expected, not the parser's words nor 90 lines of usage.
		{[]string{"controller", "--connection-check-interval=abc"}, `invalid argument "abc" for "--connection-check-interval" flag: use a duration such as 90s, 5m or 1h30m; see 'registrar controller --help'`},
		{[]string{"plan", "--kube-api-burst=many"}, `invalid argument "many" for "--kube-api-burst" flag: use a whole number`},
		{[]string{"controller", "--leader-elect=maybe"}, `invalid argument "maybe" for "--leader-elect" flag: use true or false`},
		{[]string{"controller", "--connection-check-timeout=0"}, "--connection-check-timeout=0s: use a duration more than 0, e.g. 10s"},
		{[]string{"plan", "--watch-namespaces=team-a,Team_A"}, `--watch-namespaces: "Team_A" is not a namespace name; use a DNS label`},
		{[]string{"plan", "--argocd-namespace=argocd,Argo"}, `--argocd-namespace: "Argo" is not a namespace name`},
		{[]string{"plan", "--argocd-namespace=argocd", "--argocd-namespace=argocd"}, `--argocd-namespace: "argocd" is listed twice`},
		{[]string{"plan", "--cluster-name-template={{.Nam}}"}, "--cluster-name-template={{.Nam}}: template: cluster-name:1:2: executing"},
		{[]string{"plan", "--cluster-name-template={{.Namespace"}, "--cluster-name-template={{.Namespace: template: cluster-name:1: unclosed action; use a Go template over .Namespace and .Name"},
		{[]string{"sync", "--cluster-name-template=prod"}, `--cluster-name-template=prod names every vcluster "prod"`},
		{[]string{"plan", "--namespace-selector=team in a,b)"}, "--namespace-selector=team in a,b): "},
		{[]string{"controller", "--metrics-bind-address=8443"}, "--metrics-bind-address=8443: use host:port or :port"},
		{[]string{"controller", "--leader-election-lease-duration=5s"}, "--leader-election-lease-duration=5s: use more than --leader-election-renew-deadline (10s)"},
		{[]string{"plan", "--identity=sa"}, `--identity=sa: use "admin" or "serviceaccount"`},
		{[]string{"sync", "--leader-election-id=Leader_1"}, "--leader-election-id=Leader_1: not a Lease name"},
		{[]string{"controller", "--leader-election-namespace=Ops"}, `--leader-election-namespace: "Ops" is not a namespace name`},
	} {
		before := api.requests.Load()
		run := runRegistrar(t, api.kubeconfig, tc.args...)
		if run.code != exitUsage {
			t.Errorf("registrar %v exited %d, want %d\n%s", tc.args, run.code, exitUsage, run.stderr)
		}
		if !strings.Contains(run.stderr, tc.says) {
			t.Errorf("registrar %v said %q, want it to say %q", tc.args, run.stderr, tc.says)
		}
		if n := api.requests.Load() - before; n > 0 {
			t.Errorf("registrar %v sent %d requests to the API server; want none", tc.args, n)
		}
		if run.stdout != "" {
			t.Errorf("registrar %v printed %q on stdout; want nothing", tc.args, run.stdout)
		}
		if lines := strings.Count(run.stderr, "\n"); lines != 1 {
			t.Errorf("registrar %v printed %d lines on stderr; want one:\n%s", tc.args, lines, run.stderr)
		}
	}
}

// Each wrong flag gets its own line; none hides another.
func TestEveryWrongFlagIsNamed(t *testing.T) {
	api := newAPIServer(t)
	run := runRegistrar(t, api.kubeconfig, "controller", "--connection-check-timeout=0", "--connection-check-grace-period=-1s",
		"--watch-namespaces=Team_A", "--identity=root", "--expiry-warning=0", "--kube-api-qps=0")
	if run.code != exitUsage {
		t.Errorf("exit %d, want %d", run.code, exitUsage)
	}
	lines := strings.Split(strings.TrimSpace(run.stderr), "\n")
	for _, flag := range []string{"--connection-check-timeout=", "--connection-check-grace-period=", "--watch-namespaces:", "--identity=", "--expiry-warning=", "--kube-api-qps="} {
		n := 0
		for _, l := range lines {
			if strings.HasPrefix(l, "registrar: "+flag) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d lines name %s, want one:\n%s", n, flag, run.stderr)
		}
	}
	if len(lines) != 6 {
		t.Errorf("%d lines, want one per wrong flag:\n%s", len(lines), run.stderr)
	}
	if api.requests.Load() > 0 {
		t.Error("the registrar contacted the API server")
	}
}

// A configuration error is not "changes pending" (1 of plan) nor "a
// vcluster in error" (1 of sync): it exits 2.
func TestConfigurationErrorsExit2(t *testing.T) {
	api := newAPIServer(t)
	gone := newAPIServer(t)
	gone.Close()
	unreachable := gone.kubeconfig
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"plan", "--kubeconfig", "/nonexistent/kubeconfig"}, "--kubeconfig=/nonexistent/kubeconfig: cannot read it (no such file or directory)"},
		{[]string{"sync", "--kubeconfig", "/nonexistent/kubeconfig"}, "--kubeconfig=/nonexistent/kubeconfig: cannot read it"},
		{[]string{"plan", "--context", "nope"}, "--context=nope: the kubeconfig has no such context; use one of [x]"},
		// The stand-in answers 503 to everything.
		{[]string{"plan"}, "cannot list namespaces at the API server " + api.URL + ": the server is currently unable to handle the request; check --context"},
		{[]string{"sync"}, "cannot list namespaces at the API server " + api.URL},
		{[]string{"status"}, "cannot list secrets at the API server " + api.URL},
		{[]string{"status", "--context", "nope"}, "--context=nope: the kubeconfig has no such context"},
		{[]string{"plan", "--kubeconfig", unreachable}, "connection refused; check --context and that the cluster is up"},
		{[]string{"controller"}, `"msg":"setting up the controller"`},
	} {
		run := runRegistrar(t, api.kubeconfig, tc.args...)
		if run.code != exitUsage {
			t.Errorf("registrar %v exited %d, want %d\n%s", tc.args, run.code, exitUsage, run.stderr)
		}
		if !strings.Contains(run.stderr, tc.says) {
			t.Errorf("registrar %v said %q, want it to say %q", tc.args, run.stderr, tc.says)
		}
	}
}

func TestVersionPrintsOneLine(t *testing.T) {
	api := newAPIServer(t)
	for _, args := range [][]string{{"version"}, {"--version"}} {
		run := runRegistrar(t, api.kubeconfig, args...)
		if run.code != exitOK || !strings.HasPrefix(run.stdout, "registrar ") || strings.Count(run.stdout, "\n") != 1 {
			t.Errorf("registrar %v: exit %d, stdout %q; want 0 and one line", args, run.code, run.stdout)
		}
	}
	// `registrar help` and a bare `registrar` used to start the controller
	// against the current context.
	for _, args := range [][]string{{"help"}, {}, {"help", "plan"}} {
		run := runRegistrar(t, api.kubeconfig, args...)
		if run.code != exitOK || !strings.Contains(run.stdout, "Usage:") {
			t.Errorf("registrar %v: exit %d, stdout %q; want 0 and the help", args, run.code, run.stdout)
		}
	}
	if api.requests.Load() > 0 {
		t.Error("version or help contacted the API server")
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
		api := newAPIServer(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, bin, append([]string{"plan", "--kubeconfig", api.kubeconfig}, tc.args...)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-api.encodings:
			if asked := strings.Contains(got, "gzip"); asked != tc.gzip {
				t.Errorf("registrar %v sent Accept-Encoding %q; want gzip asked for: %v", tc.args, got, tc.gzip)
			}
		case <-ctx.Done():
			t.Errorf("registrar %v made no request within 30 s", tc.args)
		}
		cancel()
		_ = cmd.Wait()
	}
}

// Shell completion offers the formats of --output and the contexts of the
// kubeconfig named so far, and contacts nothing.
func TestCompletionOffersFormatsAndContexts(t *testing.T) {
	api := newAPIServer(t)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", "status", "-o", ""}, []string{"wide", "yaml", "json"}},
		{[]string{"__complete", "plan", "--output", ""}, []string{"yaml", "json"}},
		{[]string{"__complete", "plan", "--kubeconfig", api.kubeconfig, "--context", ""}, []string{"x"}},
		{[]string{"__complete", ""}, []string{"controller", "plan", "status", "sync", "version"}},
	} {
		run := runRegistrar(t, "", tc.args...)
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(run.stdout), "\n") {
			if name, _, _ := strings.Cut(l, "\t"); !strings.HasPrefix(name, ":") {
				got = append(got, name)
			}
		}
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("registrar %v offered %q, want %q among them", tc.args, got, w)
			}
		}
	}
	if api.requests.Load() > 0 {
		t.Error("completion contacted the API server")
	}
}
