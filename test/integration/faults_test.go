package integration

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/registrar-dev/registrar/pkg/reconcile"
	"github.com/registrar-dev/registrar/test/fixture"
)

// ours lists the registrar's Argo CD cluster Secrets in namespace argocd.
func ours(t *testing.T, c client.Client, argocd string) []corev1.Secret {
	t.Helper()
	var list corev1.SecretList
	if err := c.List(context.Background(), &list, client.InNamespace(argocd),
		client.MatchingLabels{reconcile.ManagedByLabel: reconcile.ManagedByValue}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// createVClusters writes n ready vclusters vc-0..vc-(n-1) into ns, 16 at a time.
func (e *env) createVClusters(ns string, n int) {
	e.t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			e.newVCluster(ns, fmt.Sprintf("vc-%d", i))
		}()
	}
	wg.Wait()
}

// TestKillMidBurstThenRestart kills the registrar with SIGKILL while it
// registers 200 vclusters, starts it again, and checks that every vcluster
// ends registered exactly once with no orphan.
func TestKillMidBurstThenRestart(t *testing.T) {
	const n = 200
	e := newWorld(t)
	ns := e.createNamespace("burst", true)
	kubeconfig := writeKubeconfig(t, cfg)
	args := []string{"--argocd-namespace", e.argocd, "--namespace-selector", testLabel + "=" + e.id,
		"--kube-api-qps", "200", "--kube-api-burst", "400"}

	first := startProcess(t, kubeconfig, args...)
	go e.createVClusters(ns, n)
	waitFor(t, 60*time.Second, "20 registrations", func() bool { return len(ours(t, k8sClient, e.argocd)) >= 20 })
	first.kill()
	atKill := len(ours(t, k8sClient, e.argocd))
	if atKill >= n {
		t.Fatalf("all %d registered before the kill: the test proves nothing", n)
	}
	t.Logf("killed with %d of %d registered", atKill, n)

	startProcess(t, kubeconfig, args...)
	waitFor(t, 90*time.Second, fmt.Sprintf("%d registrations", n), func() bool { return len(ours(t, k8sClient, e.argocd)) >= n })

	secrets := ours(t, k8sClient, e.argocd)
	seen := map[string]bool{}
	for _, s := range secrets {
		src := s.Labels[reconcile.SourceNamespaceLabel] + "/" + s.Labels[reconcile.SourceNameLabel]
		if seen[src] {
			t.Errorf("%s registered twice", src)
		}
		seen[src] = true
		if s.Name != reconcile.SecretName(s.Labels[reconcile.SourceNamespaceLabel], s.Labels[reconcile.SourceNameLabel]) {
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
	host, err := fixture.StartStandIn(ctx, assets, hostPKI, "127.0.0.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(host.Stop)
	kc, err := host.Kubeconfig()
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
	a, b := createVCluster(t, hostClient, "vc", "a", true), createVCluster(t, hostClient, "vc", "b", true)
	path := t.TempDir() + "/kubeconfig"
	if err := writeFile(path, kc); err != nil {
		t.Fatal(err)
	}
	p := startProcess(t, path, "--argocd-namespace", "argocd")
	waitFor(t, 30*time.Second, "a and b registered", func() bool { return len(ours(t, hostClient, "argocd")) == 2 })

	// Changes, then the outage.
	if err := hostClient.Delete(ctx, a.StatefulSet()); err != nil {
		t.Fatal(err)
	}
	cert, key, err := b.PKI.IssueClient("admin", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := b.KubeconfigSecretWith(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := hostClient.Update(ctx, rotated); err != nil {
		t.Fatal(err)
	}
	createVCluster(t, hostClient, "vc", "c", true)
	host.StopAPIServer()
	time.Sleep(30 * time.Second) // the outage itself
	if p.exited() {
		t.Fatal("the registrar exited during the outage")
	}
	if err := host.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}

	waitFor(t, 60*time.Second, "convergence after the outage", func() bool {
		var names []string
		for _, s := range ours(t, hostClient, "argocd") {
			if s.Labels[reconcile.SourceNameLabel] == "b" && !contains(string(s.Data["config"]), b64(cert)) {
				return false
			}
			names = append(names, s.Labels[reconcile.SourceNameLabel])
		}
		return fmt.Sprint(names) == "[b c]" || fmt.Sprint(names) == "[c b]"
	})
	if p.exited() {
		t.Fatal("the registrar restarted itself")
	}
}

// TestLeaderElectionFailover runs two registrars: only the leader writes;
// when it is killed, the other takes over and registers what comes next.
func TestLeaderElectionFailover(t *testing.T) {
	e := newWorld(t)
	ns := e.createNamespace("vc", true)
	kubeconfig := writeKubeconfig(t, cfg)
	lease := "registrar-" + e.id
	args := []string{"--argocd-namespace", e.argocd, "--namespace-selector", testLabel + "=" + e.id,
		"--leader-elect", "--leader-election-namespace", e.argocd, "--leader-election-id", lease,
		"--leader-election-lease-duration", "4s", "--leader-election-renew-deadline", "3s",
		"--leader-election-retry-period", "500ms"}
	p1 := startProcess(t, kubeconfig, args...)
	p2 := startProcess(t, kubeconfig, args...)
	waitFor(t, 30*time.Second, "a leader", func() bool {
		var l coordinationv1.Lease
		err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: e.argocd, Name: lease}, &l)
		return err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != ""
	})
	e.newVCluster(ns, "before")
	e.eventuallyRegistered(ns, "before")
	var w1, w2 float64
	waitFor(t, 10*time.Second, "the leader counts its write", func() bool {
		w1, w2 = p1.metric("registrar_writes_total"), p2.metric("registrar_writes_total")
		return w1+w2 > 0
	})
	if (w1 == 0) == (w2 == 0) {
		t.Fatalf("writes: %v and %v; want exactly one writer", w1, w2)
	}
	leader, follower := p1, p2
	if w2 > 0 {
		leader, follower = p2, p1
	}

	leader.kill()
	e.newVCluster(ns, "after")
	e.eventuallyRegistered(ns, "after")
	// The counter moves just after the write returns, so the Secret may be
	// seen first.
	waitFor(t, 10*time.Second, "the follower counts the write after the failover", func() bool {
		return follower.metric("registrar_writes_total") > 0
	})
}
