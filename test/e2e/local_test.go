//go:build e2elocal

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/redis/go-redis/v9"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/registrar-dev/registrar/test/fixture"
)

// The offline twin of the kind suite, on this machine alone:
//   - the host cluster is envtest's kube-apiserver and etcd;
//   - sandbox is a real vcluster (fixture.StartRealVCluster): vcluster's
//     own binary, installed from its own chart, its proxy on 127.0.0.2:443;
//     it writes its kubeconfig Secret and serves its own certificate;
//   - staging is a stand-in (fixture.StartStandIn), a second real API server
//     on 127.0.0.3:443 with vcluster's SANs and the objects vcluster writes
//     into the host: two real vclusters cannot run side by side here, both
//     would put their inner API server on 127.0.0.1:6443;
//   - tokens is another stand-in, on 127.0.0.4:443, annotated
//     registrar.dev/identity=serviceaccount: Argo CD syncs it with a
//     ServiceAccount token the registrar minted inside, not its certificate;
//   - the registrar is the built binary, with the args charts/registrar
//     renders (helm template) and, through impersonation, the RBAC of the
//     chart's ServiceAccount;
//   - Argo CD is its real application controller and repo-server, built
//     from the argo-cd module (hack/build-argocd.sh), with Debian's Redis,
//     syncing from a git repository served by `git daemon` on loopback;
//   - only the controller resolves <svc>.<ns>.svc, through a private mount
//     namespace whose /etc/hosts maps each to its stand-in.
//
// Needs root (port 443, mount namespaces). Run with `make e2e-local`.

// vclusterAddrs are the vclusters' loopback addresses; they listen on 443,
// the port of the registered service URL (which names none). The first is
// a real vcluster, the others stand-ins.
var vclusterAddrs = []struct {
	name, namespace, ip string
	annotations         map[string]string
}{
	{"sandbox", "vcluster-sandbox", "127.0.0.2", nil},
	// Argo CD gets a ServiceAccount token of this one, not its certificate.
	{"tokens", "vcluster-tokens", "127.0.0.4", map[string]string{"registrar.dev/identity": "serviceaccount"}},
	{"staging", "vcluster-staging", "127.0.0.3", nil},
}

const argocdNamespace = "argocd"

func TestLocalStory(t *testing.T) {
	began := time.Now()
	ctx := context.Background()
	repoRoot, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	assets, err := fixture.TestBinaries()
	if err != nil {
		t.Fatal(err)
	}
	bin := os.Getenv("E2E_BIN")
	if bin == "" {
		bin = filepath.Join(repoRoot, "bin")
	}
	registrar := filepath.Join(bin, "registrar")
	controller := filepath.Join(bin, "argocd-application-controller")
	repoServer := filepath.Join(bin, "argocd-repo-server")
	helm := os.Getenv("HELM")
	if helm == "" {
		helm = filepath.Join(bin, "helm")
	}
	requireTools(t, registrar, controller, repoServer, helm, "redis-server", "git", "unshare", "mount", "chroot")
	vclusterBin, vclusterVersion, err := fixture.VClusterFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		t.Fatal("the offline twin needs root: its vcluster stand-ins listen on port 443 and Argo CD's controller runs in a private mount namespace")
	}
	argoSrc := os.Getenv("E2E_ARGOCD_SRC")
	if argoSrc == "" {
		argoSrc = goModuleDir(ctx, t, "github.com/argoproj/argo-cd/v3")
	}
	manifest, err := LoadManifest(filepath.Join(repoRoot, "hack/e2e/app/configmap.yaml"))
	if err != nil {
		t.Fatal(err)
	}

	s := newStack(t)

	// Host cluster, with Argo CD's CRDs.
	scheme, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	h := fixture.StartHostForTest(t, fixture.Binaries(assets), fixture.Scheme(scheme), fixture.CRDs(
		filepath.Join(argoSrc, "manifests/crds/application-crd.yaml"),
		filepath.Join(argoSrc, "manifests/crds/appproject-crd.yaml"),
	))
	cfg, host, kubeconfig := h.Config, h.Client, h.Kubeconfig
	createArgoCDObjects(ctx, t, host)
	registrarArgs, serviceAccount := installChartRBAC(ctx, t, host, helm, filepath.Join(repoRoot, "charts/registrar"))
	// The registrar acts as the chart's ServiceAccount: its RBAC is the chart's.
	registrarKubeconfig := filepath.Join(s.dir, "registrar.kubeconfig")
	if err := fixture.WriteKubeconfig(cfg, registrarKubeconfig, serviceAccount); err != nil {
		t.Fatal(err)
	}

	// The vclusters start in the background while Argo CD starts: the
	// real one installs itself into the host, the stand-ins wait for
	// their objects until the stack is up.
	realAddr := vclusterAddrs[0]
	var realVC *fixture.RealVCluster
	var realErr error
	vcs := make([]*fixture.VCluster, len(vclusterAddrs))
	standIns := make([]*fixture.StandIn, len(vclusterAddrs))
	standInErrs := make([]error, len(vclusterAddrs))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		realVC, realErr = fixture.StartRealVCluster(ctx, h, realAddr.name, realAddr.namespace,
			fixture.VClusterBinary(vclusterBin, vclusterVersion), fixture.Helm(helm), fixture.ProxyAddress(realAddr.ip, 443))
	}()
	for i, a := range vclusterAddrs[1:] {
		i++
		vc, err := fixture.NewVCluster(a.name, a.namespace, fixture.Annotations(a.annotations))
		if err != nil {
			t.Fatal(err)
		}
		vcs[i] = vc
		wg.Add(1)
		go func() {
			defer wg.Done()
			standIns[i], standInErrs[i] = fixture.StartStandIn(ctx, assets, vc, a.ip, 443)
		}()
	}
	// Registered before the processes start, so that it runs after they
	// are stopped, while the vclusters they talk to still answer: stopped
	// first, the vclusters slow the teardown by a kill timeout.
	t.Cleanup(func() {
		wg.Wait()
		if realVC != nil {
			if t.Failed() {
				realVC.LogTail(t)
			}
			realVC.Stop()
		}
		for _, si := range standIns {
			if si != nil {
				si.Stop()
			}
		}
	})

	home := s.path("home")
	argoEnv := []string{"HOME=" + home, "TMPDIR=" + s.path("tmp")}

	redisAddr := fixture.FreeAddr(t)
	redisProc := s.start("redis", nil, "redis-server",
		"--bind", "127.0.0.1", "--port", port(redisAddr), "--save", "", "--appendonly", "no")

	repoURL := serveGitRepo(t, s, filepath.Join(repoRoot, "hack/e2e/app"))

	// repo-server: v3.5.7 runs git-verify-wrapper.sh on every commit it
	// checks out, from PATH (the image ships it in /usr/local/bin).
	wrappers := s.path("wrappers")
	for _, f := range []string{"git-verify-wrapper.sh", "gpg-wrapper.sh", "git-ask-pass.sh"} {
		copyExecutable(t, filepath.Join(argoSrc, "hack", f), wrappers)
	}
	repoAddr, repoMetrics := fixture.FreeAddr(t), fixture.FreeAddr(t)
	repoProc := s.start("argocd-repo-server", append(argoEnv,
		"PATH="+wrappers+":"+os.Getenv("PATH"),
		"ARGOCD_GPG_ENABLED=false",
		"ARGOCD_SSH_DATA_PATH="+s.path("ssh"),
		"ARGOCD_TLS_DATA_PATH="+s.path("tls"),
		"ARGOCD_GNUPGHOME="+s.path("gnupg"),
	), repoServer,
		"--disable-tls", "--client-ca-path=",
		"--redis", redisAddr,
		"--address", "127.0.0.1", "--port", port(repoAddr),
		"--metrics-address", "127.0.0.1", "--metrics-port", port(repoMetrics))

	// Argo CD's controller and the registrar (whose connection probe must
	// agree with it) see the service DNS names, each in a mount namespace
	// of its own where /etc/hosts maps them to the stand-ins; the machine's
	// /etc/hosts is untouched, and exec keeps the PID for SIGTERM.
	hosts := filepath.Join(s.dir, "hosts")
	hostsData := "127.0.0.1 localhost\n"
	for _, a := range vclusterAddrs {
		hostsData += a.ip + " " + a.name + "." + a.namespace + ".svc\n"
	}
	if err := os.WriteFile(hosts, []byte(hostsData), 0o644); err != nil {
		t.Fatal(err)
	}
	controllerMetrics := fixture.FreeAddr(t)
	controllerArgv := fixture.WithHosts(hosts, controller,
		"--kubeconfig", kubeconfig, "--namespace", argocdNamespace,
		"--redis", redisAddr,
		"--repo-server", repoAddr, "--repo-server-plaintext",
		"--metrics-port", port(controllerMetrics))
	controllerProc := s.start("argocd-application-controller", argoEnv, controllerArgv[0], controllerArgv[1:]...)

	// The registrar, with the flags the chart renders, its listeners moved
	// to free loopback ports (flags given later win).
	for _, flag := range []string{"--metrics-bind-address=", "--health-probe-bind-address="} {
		if !slices.ContainsFunc(registrarArgs, func(a string) bool { return strings.HasPrefix(a, flag) }) {
			t.Fatalf("the chart's args %q lack %s", registrarArgs, flag)
		}
	}
	t.Logf("registrar %s", strings.Join(registrarArgs, " "))
	registrarArgv := fixture.WithHosts(hosts, append([]string{registrar}, registrarArgs...)...)
	registrarProc := fixture.StartControllerForTest(t, fixture.Command{
		Name: "registrar", Path: registrarArgv[0], Args: registrarArgv[1:], Log: s.log("registrar"),
	}, registrarKubeconfig)

	s.waitReady(redisProc, 20*time.Second, func() error {
		return redis.NewClient(&redis.Options{Addr: redisAddr}).Ping(ctx).Err()
	})
	s.waitReady(repoProc, 60*time.Second, dialable(repoAddr))
	s.waitReady(controllerProc, 60*time.Second, func() error { return fixture.HTTPGetOK("http://" + controllerMetrics + "/metrics") })
	s.waitReady(registrarProc.Process, 30*time.Second, registrarProc.Ready)

	wg.Wait()
	if realErr != nil {
		t.Fatalf("starting vcluster %s: %v", realAddr.name, realErr)
	}
	for i, err := range standInErrs {
		if err != nil {
			t.Fatalf("starting the stand-in of %s: %v", vcs[i].Name, err)
		}
	}
	t.Logf("vcluster %s %s up, its proxy at %s:%d", realAddr.name, realVC.Version, realVC.IP, realVC.Port)

	adminCfg, err := realVC.AdminConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inside, err := NewClient(adminCfg)
	if err != nil {
		t.Fatal(err)
	}
	story := []VCluster{{Name: realAddr.name, Namespace: realAddr.namespace, Client: inside}}
	workloads := map[string]client.Object{realAddr.name: realVC.Workload()}
	for i, vc := range vcs[1:] {
		i++
		workloads[vc.Name] = writeVCluster(ctx, t, host, vc)
		inside, err := NewClient(&rest.Config{
			Host: "https://" + standIns[i].Addr,
			TLSClientConfig: rest.TLSClientConfig{
				CAData: vc.PKI.CACert, CertData: vc.PKI.ClientCert, KeyData: vc.PKI.ClientKey,
				ServerName: vc.Name + "." + vc.Namespace,
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		story = append(story, VCluster{Name: vc.Name, Namespace: vc.Namespace, Client: inside})
	}
	ready := time.Now()
	t.Logf("stack up in %s", ready.Sub(began).Round(100*time.Millisecond))

	RunStory(t, World{
		Host:            host,
		ArgoCDNamespace: argocdNamespace,
		ClusterInfo:     RedisClusterInfo(redisAddr, ""),
		Timeout:         90 * time.Second,
	}, Story{
		VClusters: story,
		RepoURL:   repoURL,
		Path:      "app",
		Manifest:  manifest,
		DeleteVCluster: func(ctx context.Context, vc VCluster) error {
			return host.Delete(ctx, workloads[vc.Name])
		},
		SwapCA: func(ctx context.Context, vc VCluster) error {
			for _, standIn := range vcs[1:] {
				if standIn.Name == vc.Name {
					return standIn.RotateCA(ctx, host)
				}
			}
			return fmt.Errorf("%s is not a stand-in: only a stand-in's CA can be swapped here", vc.Name)
		},
	})
	t.Logf("story in %s; total %s", time.Since(ready).Round(100*time.Millisecond), time.Since(began).Round(100*time.Millisecond))

	// The vcluster with the ServiceAccount identity synced with a token
	// alone; the one with the default identity with its certificate.
	w := World{Host: host, ArgoCDNamespace: argocdNamespace, Timeout: 90 * time.Second}
	for _, vc := range story {
		if vc.Name == realAddr.name {
			if cfg := EventuallyRegistered(t, w, vc).Config; len(cfg.CertData) == 0 || cfg.BearerToken != "" {
				t.Errorf("%s (default identity) is registered with a certificate: %v, a token: %v", vc.Name, len(cfg.CertData) != 0, cfg.BearerToken != "")
			}
		}
		if vc.Name == "tokens" {
			if cfg := EventuallyRegistered(t, w, vc).Config; len(cfg.CertData) != 0 || len(cfg.KeyData) != 0 || cfg.BearerToken == "" {
				t.Errorf("%s (serviceaccount identity) is registered with a certificate: %v, a token: %v", vc.Name, len(cfg.CertData) != 0, cfg.BearerToken != "")
			}
			t.Logf("%s synced with the token of ServiceAccount kube-system/argocd-manager", vc.Name)
		}
	}
}

// createArgoCDObjects writes what Argo CD's install would: its namespace, the
// argocd-cm ConfigMap (the controller exits without it) and the default
// AppProject (which the controller does not create itself).
func createArgoCDObjects(ctx context.Context, t *testing.T, host client.Client) {
	t.Helper()
	partOf := map[string]string{"app.kubernetes.io/part-of": "argocd"}
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: argocdNamespace}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "argocd-cm", Namespace: argocdNamespace, Labels: partOf}},
		&v1alpha1.AppProject{
			ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: argocdNamespace},
			Spec: v1alpha1.AppProjectSpec{
				SourceRepos:              []string{"*"},
				Destinations:             []v1alpha1.ApplicationDestination{{Server: "*", Namespace: "*"}},
				ClusterResourceWhitelist: []v1alpha1.ClusterResourceRestrictionItem{{Group: "*", Kind: "*"}},
			},
		},
	} {
		if err := host.Create(ctx, obj); err != nil {
			t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
		}
	}
}

// installChartRBAC renders charts/registrar for namespace argocd, creates
// its ServiceAccount and RBAC objects in the host, and returns the
// registrar container's args and the ServiceAccount's user name.
func installChartRBAC(ctx context.Context, t *testing.T, host client.Client, helm, chart string) ([]string, string) {
	t.Helper()
	var args []string
	var serviceAccount string
	for _, obj := range renderChart(t, helm, chart, "registrar", argocdNamespace) {
		switch obj.GetKind() {
		case "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding":
			if obj.GetNamespace() == "" && (obj.GetKind() == "ServiceAccount" || obj.GetKind() == "Role" || obj.GetKind() == "RoleBinding") {
				obj.SetNamespace(argocdNamespace)
			}
			if err := host.Create(ctx, obj); err != nil {
				t.Fatalf("creating the chart's %s %s: %v", obj.GetKind(), obj.GetName(), err)
			}
		case "Deployment":
			var dep appsv1.Deployment
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &dep); err != nil {
				t.Fatal(err)
			}
			spec := dep.Spec.Template.Spec
			for _, c := range spec.Containers {
				if c.Name == "registrar" {
					args = c.Args
				}
			}
			serviceAccount = "system:serviceaccount:" + argocdNamespace + ":" + spec.ServiceAccountName
		}
	}
	if args == nil || serviceAccount == "" {
		t.Fatalf("the chart renders no Deployment with a registrar container")
	}
	return args, serviceAccount
}

// writeVCluster writes into the host what vcluster writes there: namespace,
// kubeconfig Secret, Service and StatefulSet, marked ready as the
// StatefulSet controller (absent from envtest) would. It returns the
// StatefulSet.
func writeVCluster(ctx context.Context, t *testing.T, host client.Client, vc *fixture.VCluster) client.Object {
	t.Helper()
	if err := host.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: vc.Namespace}}); err != nil {
		t.Fatal(err)
	}
	sts, err := vc.Create(ctx, host)
	if err != nil {
		t.Fatal(err)
	}
	return sts
}

// serveGitRepo commits the files of dir under app/ in a fresh repository
// and serves it with `git daemon` on loopback, returning its git:// URL.
func serveGitRepo(t *testing.T, s *stack, dir string) string {
	t.Helper()
	base := s.path("git")
	repo := s.path("git", "repo")
	app := s.path("git", "repo", "app")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(app, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitEnv := []string{"HOME=" + s.path("home"), "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=e2e", "GIT_AUTHOR_EMAIL=e2e@localhost", "GIT_COMMITTER_NAME=e2e", "GIT_COMMITTER_EMAIL=e2e@localhost"}
	run(t, repo, gitEnv, "git", "init", "-q", "-b", "main")
	run(t, repo, gitEnv, "git", "add", ".")
	run(t, repo, gitEnv, "git", "commit", "-q", "-m", "the manifest the e2e Applications sync")

	addr := fixture.FreeAddr(t)
	p := s.start("git-daemon", gitEnv, "git", "daemon", "--export-all", "--reuseaddr",
		"--base-path="+base, "--listen=127.0.0.1", "--port="+port(addr), base)
	url := "git://" + addr + "/repo"
	s.waitReady(p, 20*time.Second, func() error {
		out, err := execOutput(gitEnv, "git", "ls-remote", url)
		if err == nil && !strings.Contains(out, "HEAD") {
			return errNoHead
		}
		return err
	})
	return url
}
