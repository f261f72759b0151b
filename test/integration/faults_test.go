package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/registration"
	"github.com/registrar-dev/registrar/test/fixture"
)

// ours lists the registrar's Argo CD cluster Secrets in namespace argocd.
func ours(t *testing.T, c client.Client, argocd string) []corev1.Secret {
	t.Helper()
	var list corev1.SecretList
	if err := c.List(context.Background(), &list, client.InNamespace(argocd),
		client.MatchingLabels{api.ManagedByLabel: api.ManagedByValue}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// createVClusters writes n ready vclusters vc-0..vc-(n-1) into ns, 16 at
// a time, in the background; wait returns once all are written, with the
// first error. The writers never touch t: only the test's own goroutine
// may end it.
func createVClusters(ns string, n int) (wait func() error) {
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	go func() {
		for i := range n {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				vc, err := fixture.NewVCluster(fmt.Sprintf("vc-%d", i), ns)
				if err == nil {
					_, err = vc.Create(context.Background(), k8sClient)
				}
				errs <- err
			}()
		}
	}()
	return func() error {
		var first error
		for range n {
			if err := <-errs; err != nil && first == nil {
				first = err
			}
		}
		return first
	}
}

// TestKillMidBurstThenRestart kills the registrar with SIGKILL while it
// registers 200 vclusters, starts it again, and checks that every vcluster
// ends registered exactly once with no orphan.
func TestKillMidBurstThenRestart(t *testing.T) {
	const n = 200
	e := newWorld(t)
	ns := e.createNamespace("burst", true)
	args := []string{"controller", "--argocd-namespace", e.argocd, "--namespace-selector", testLabel + "=" + e.id,
		"--kube-api-qps", "200", "--kube-api-burst", "400"}

	first := fixture.StartRegistrar(t, host.Kubeconfig, args...)
	created := createVClusters(ns, n)
	fixture.Eventually(t, "20 registrations", func() bool { return len(ours(t, k8sClient, e.argocd)) >= 20 },
		fixture.Within(60*time.Second))
	first.Kill()
	atKill := len(ours(t, k8sClient, e.argocd))
	if atKill >= n {
		t.Fatalf("all %d registered before the kill: the test proves nothing", n)
	}
	t.Logf("killed with %d of %d registered", atKill, n)

	fixture.StartRegistrar(t, host.Kubeconfig, args...)
	if err := created(); err != nil {
		t.Fatalf("writing the vclusters: %v", err)
	}
	fixture.Eventually(t, fmt.Sprintf("%d registrations", n), func() bool { return len(ours(t, k8sClient, e.argocd)) >= n },
		fixture.Within(90*time.Second))

	secrets := ours(t, k8sClient, e.argocd)
	seen := map[string]bool{}
	for _, s := range secrets {
		src := s.Labels[api.SourceNamespaceLabel] + "/" + s.Labels[api.SourceNameLabel]
		if seen[src] {
			t.Errorf("%s registered twice", src)
		}
		seen[src] = true
		if s.Name != registration.SecretName(s.Labels[api.SourceNamespaceLabel], s.Labels[api.SourceNameLabel]) {
			t.Errorf("Secret %s does not carry its source's name", s.Name)
		}
	}
	for i := range n {
		if !seen[fmt.Sprintf("%s/vc-%d", ns, i)] {
			t.Errorf("vc-%d not registered", i)
		}
	}
	if len(secrets) != n {
		t.Errorf("%d registrations for %d vclusters", len(secrets), n)
	}
}

// TestRecoversFromAPIServerOutage stops the host's API server for 30 s
// right after vclusters change, restarts it, and checks that the same
// registrar process converges.
func TestRecoversFromAPIServerOutage(t *testing.T) {
	ctx := context.Background()
	hostPKI, err := fixture.NewVCluster("host", "host")
	if err != nil {
		t.Fatal(err)
	}
	standIn, err := fixture.StartStandIn(ctx, assets, hostPKI, "127.0.0.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(standIn.Stop)
	kc, err := standIn.Kubeconfig()
	if err != nil {
		t.Fatal(err)
	}
	restCfg, err := clientcmd.RESTConfigFromKubeConfig(kc)
	if err != nil {
		t.Fatal(err)
	}
	hostClient, err := client.New(restCfg, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"argocd", "vc"} {
		if err := hostClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
			t.Fatal(err)
		}
	}
	a, b := createVCluster(t, hostClient, "vc", "a"), createVCluster(t, hostClient, "vc", "b")
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	p := fixture.StartRegistrar(t, path, "controller", "--argocd-namespace", "argocd")
	fixture.Eventually(t, "a and b registered", func() bool { return len(ours(t, hostClient, "argocd")) == 2 },
		fixture.Within(30*time.Second))

	// Changes, then the outage.
	if err := hostClient.Delete(ctx, a.StatefulSet()); err != nil {
		t.Fatal(err)
	}
	if err := b.Rotate(ctx, hostClient); err != nil {
		t.Fatal(err)
	}
	cert := b.ClientCertificate()
	createVCluster(t, hostClient, "vc", "c")
	standIn.StopAPIServer()
	time.Sleep(30 * time.Second) // the outage itself
	if p.Exited() {
		t.Fatal("the registrar exited during the outage")
	}
	if err := standIn.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}

	fixture.Eventually(t, "convergence after the outage", func() bool {
		var names []string
		for _, s := range ours(t, hostClient, "argocd") {
			if s.Labels[api.SourceNameLabel] == "b" && !contains(string(s.Data["config"]), b64(cert)) {
				return false
			}
			names = append(names, s.Labels[api.SourceNameLabel])
		}
		return fmt.Sprint(names) == "[b c]" || fmt.Sprint(names) == "[c b]"
	}, fixture.Within(60*time.Second))
	if p.Exited() {
		t.Fatal("the registrar restarted itself")
	}
}

// TestLeaderElectionFailover runs two registrars: only the leader writes;
// when it is killed, the other takes over and registers what comes next.
func TestLeaderElectionFailover(t *testing.T) {
	e := newWorld(t)
	ns := e.createNamespace("vc", true)
	lease := "registrar-" + e.id
	args := []string{"controller", "--argocd-namespace", e.argocd, "--namespace-selector", testLabel + "=" + e.id,
		"--leader-elect", "--leader-election-namespace", e.argocd, "--leader-election-id", lease,
		"--leader-election-lease-duration", "4s", "--leader-election-renew-deadline", "3s",
		"--leader-election-retry-period", "500ms"}
	p1 := fixture.StartRegistrar(t, host.Kubeconfig, args...)
	p2 := fixture.StartRegistrar(t, host.Kubeconfig, args...)
	// Both serve, leader or not: their metrics can be read.
	for _, p := range []*fixture.Controller{p1, p2} {
		fixture.Await(t, "both replicas are ready", fixture.Succeeds(p.Ready),
			fixture.Within(30*time.Second), fixture.WhileRunning(p.Process))
	}
	fixture.Eventually(t, "a leader", func() bool {
		var l coordinationv1.Lease
		err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: e.argocd, Name: lease}, &l)
		return err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != ""
	}, fixture.Within(30*time.Second))
	e.newVCluster(ns, "before")
	e.eventuallyRegistered(ns, "before")
	var w1, w2 float64
	fixture.Eventually(t, "the leader counts its write", func() bool {
		w1, w2 = p1.Metric(t, "registrar_writes_total"), p2.Metric(t, "registrar_writes_total")
		return w1+w2 > 0
	}, fixture.Within(10*time.Second))
	if (w1 == 0) == (w2 == 0) {
		t.Fatalf("writes: %v and %v; want exactly one writer", w1, w2)
	}
	leader, follower := p1, p2
	if w2 > 0 {
		leader, follower = p2, p1
	}

	leader.Kill()
	e.newVCluster(ns, "after")
	e.eventuallyRegistered(ns, "after")
	// The counter moves just after the write returns, so the Secret may be
	// seen first.
	fixture.Eventually(t, "the follower counts the write after the failover", func() bool {
		return follower.Metric(t, "registrar_writes_total") > 0
	}, fixture.Within(10*time.Second))
}
