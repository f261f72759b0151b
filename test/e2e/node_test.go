//go:build e2e && e2enode

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Checks only the real node of `make e2e-node` allows (build tag e2enode,
// besides e2e): the test binary runs on the node's own machine, inside its
// network namespace, so it sees the containers' processes as the kernel runs
// them, and its pods reach Services as any pod does. They run after
// TestClusterStory, on the cluster the story leaves (sandbox registered).

const (
	registrarRelease = "registrar"
	// What charts/registrar names after its release (registrar.fullname).
	registrarMetricsService = registrarRelease + "-metrics"
	registrarMetricsReader  = registrarRelease + "-metrics-reader"
	registrarSelector       = "app.kubernetes.io/name=registrar"
)

type node struct {
	host client.Client
	cs   kubernetes.Interface
	helm string
}

func newNode(t *testing.T) node {
	t.Helper()
	if os.Getenv("E2E_NODE_DIR") == "" {
		t.Fatal("E2E_NODE_DIR is not set: run `make e2e-node`")
	}
	_, host, cs, helm := clusterClients(t)
	return node{host: host, cs: cs, helm: helm}
}

// TestRegistrarPodAsEnforced reads the registrar's container as the kernel
// runs it, not as its manifest asks: the user and group of its process, its
// capabilities, no_new_privs, its seccomp mode and a read-only root.
func TestRegistrarPodAsEnforced(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	pod := n.registrarPod(ctx, t)
	var deploy appsv1.Deployment
	if err := n.host.Get(ctx, client.ObjectKey{Namespace: clusterArgoCDNamespace, Name: registrarRelease}, &deploy); err != nil {
		t.Fatal(err)
	}
	// What the chart asks for, which the kernel's view must match.
	psc := deploy.Spec.Template.Spec.SecurityContext
	if psc == nil || psc.RunAsUser == nil || psc.RunAsGroup == nil {
		t.Fatalf("the chart's pod securityContext names no runAsUser/runAsGroup: %+v", psc)
	}
	uid, gid := fmt.Sprint(*psc.RunAsUser), fmt.Sprint(*psc.RunAsGroup)

	pid := containerPID(t, pod, "registrar")
	status := procStatus(t, pid)
	for _, field := range []string{"Uid", "Gid"} {
		want := uid
		if field == "Gid" {
			want = gid
		}
		// Real, effective, saved and filesystem IDs.
		if got := strings.Fields(status[field]); len(got) != 4 || got[0] != want || got[1] != want || got[2] != want || got[3] != want {
			t.Errorf("the registrar's process has %s %q, want %s four times", field, status[field], want)
		}
	}
	for _, field := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
		if status[field] != "0000000000000000" {
			t.Errorf("the registrar's process has %s %s, want no capability at all", field, status[field])
		}
	}
	if status["NoNewPrivs"] != "1" {
		t.Errorf("the registrar's process has NoNewPrivs %q, want 1 (allowPrivilegeEscalation: false)", status["NoNewPrivs"])
	}
	// 2 is SECCOMP_MODE_FILTER: the runtime's default profile is loaded.
	if status["Seccomp"] != "2" {
		t.Errorf("the registrar's process has Seccomp %q, want 2 (a filter: RuntimeDefault)", status["Seccomp"])
	}
	if opts := rootMountOptions(t, pid); !hasOption(opts, "ro") {
		t.Errorf("the registrar's root filesystem is mounted %q, want read-only", opts)
	}
	t.Logf("registrar pid %d: uid %s gid %s, no capabilities, NoNewPrivs 1, Seccomp 2, root %s",
		pid, status["Uid"], status["Gid"], rootMountOptions(t, pid))
}

// TestMetricsScrapedByPods scrapes the registrar's HTTPS metrics through
// its Service from pods, as a Prometheus in the cluster does: with the
// token of a ServiceAccount bound to the chart's metrics-reader ClusterRole
// (200 and registrar_ series), with one not bound (403), with none (401).
// The Service is turned on by `helm upgrade`, which must rewrite no
// registration.
func TestMetricsScrapedByPods(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	ns := clusterArgoCDNamespace

	writes := watchRegistrationWrites(ctx, t, n.cs, ns)
	n.helmUpgrade(t, "--set", "metrics.service.enabled=true")
	n.registrarPod(ctx, t)
	if got := writes(); len(got) > 0 {
		t.Errorf("helm upgrade enabling the metrics Service rewrote registrations: %v", got)
	}

	for _, name := range []string{"e2e-scraper", "e2e-stranger"} {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
		create(ctx, t, n.host, sa)
	}
	create(ctx, t, n.host, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-scraper"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: registrarMetricsReader},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "e2e-scraper", Namespace: ns}},
	})
	url := fmt.Sprintf("https://%s.%s.svc:8443/metrics", registrarMetricsService, ns)
	for _, c := range []struct {
		name, sa string
		token    bool
		code     string
	}{
		{"bound", "e2e-scraper", true, "200"},
		{"unbound", "e2e-stranger", true, "403"},
		{"anonymous", "e2e-stranger", false, "401"},
	} {
		t.Run(c.name, func(t *testing.T) {
			auth := ""
			if c.token {
				auth = `-H "Authorization: Bearer $(cat /var/run/secrets/kubernetes.io/serviceaccount/token)"`
			}
			// -k: the chart's default certificate is self-signed at start.
			// --retry-connrefused: the Service is new, and kube-proxy
			// rejects connections until it has programmed its endpoint (a
			// scrape 3 s after the upgrade was refused); an HTTP answer,
			// whatever its code, is never retried. The pod's log mixes
			// both streams, so what curl says of a refused attempt goes to
			// a file, shown only if curl gives up: stdout is the code,
			// then the body.
			out := n.runPod(ctx, t, "e2e-scrape-"+c.name, c.sa,
				`curl -sS -k --retry 30 --retry-delay 1 --retry-connrefused -o /tmp/body -w '%{http_code}\n' `+auth+` `+url+
					` 2>/tmp/err || { cat /tmp/err; exit 1; }; cat /tmp/body`)
			code, body, _ := strings.Cut(out, "\n")
			if code != c.code {
				t.Fatalf("scrape %s as %s: HTTP %s, want %s; body: %.300s", url, c.name, code, c.code, body)
			}
			if c.code == "200" && !strings.Contains(body, "\nregistrar_") {
				t.Fatalf("scrape %s: 200 but no registrar_ series in %d bytes", url, len(body))
			}
			t.Logf("scrape as %s: HTTP %s", c.name, code)
		})
	}
}

// registrarPod waits for the registrar's Deployment to be rolled out and
// returns its one running pod.
func (n node) registrarPod(ctx context.Context, t *testing.T) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	eventually(t, 3*time.Minute, "the registrar's pod ready, alone", func(ctx context.Context) (bool, string, error) {
		pods, err := n.cs.CoreV1().Pods(clusterArgoCDNamespace).List(ctx, metav1.ListOptions{LabelSelector: registrarSelector})
		if err != nil {
			return false, "", err
		}
		var ready []string
		for i := range pods.Items {
			if podReady(&pods.Items[i]) && pods.Items[i].DeletionTimestamp == nil {
				pod = &pods.Items[i]
				ready = append(ready, pod.Name)
			}
		}
		return len(pods.Items) == 1 && len(ready) == 1, fmt.Sprintf("%d pods, ready: %v", len(pods.Items), ready), nil
	})
	return pod
}

func (n node) helmUpgrade(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(n.helm, append([]string{"upgrade", registrarRelease, filepath.Join("..", "..", "charts", "registrar"),
		"--namespace", clusterArgoCDNamespace, "--reuse-values", "--wait", "--timeout", "3m"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helm upgrade %v: %v\n%s", args, err, out)
	}
}

// runPod runs script in a pod of Argo CD's image (Debian, with curl) as
// ServiceAccount sa, and returns what it printed once it succeeded.
func (n node) runPod(ctx context.Context, t *testing.T, name, sa, script string) string {
	t.Helper()
	var controller appsv1.StatefulSet
	if err := n.host.Get(ctx, client.ObjectKey{Namespace: clusterArgoCDNamespace, Name: "argocd-application-controller"}, &controller); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: clusterArgoCDNamespace},
		Spec: corev1.PodSpec{
			ServiceAccountName: sa,
			RestartPolicy:      corev1.RestartPolicyNever,
			Containers: []corev1.Container{{
				Name: "run", Image: controller.Spec.Template.Spec.Containers[0].Image, ImagePullPolicy: corev1.PullIfNotPresent,
				Command: []string{"sh", "-c", script},
			}},
		},
	}
	create(ctx, t, n.host, pod)
	var phase corev1.PodPhase
	eventually(t, 2*time.Minute, "pod "+name+" done", func(ctx context.Context) (bool, string, error) {
		var p corev1.Pod
		if err := n.host.Get(ctx, client.ObjectKeyFromObject(pod), &p); err != nil {
			return false, "", err
		}
		phase = p.Status.Phase
		return phase == corev1.PodSucceeded || phase == corev1.PodFailed, string(phase), nil
	})
	logs, err := n.cs.CoreV1().Pods(clusterArgoCDNamespace).GetLogs(name, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		t.Fatalf("logs of pod %s: %v", name, err)
	}
	if phase != corev1.PodSucceeded {
		t.Fatalf("pod %s %s: %s", name, phase, logs)
	}
	return strings.TrimSpace(string(logs))
}

// create creates obj and deletes it when the test ends.
func create(ctx context.Context, t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(ctx, obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), obj) })
}

// registrationEvent is one change to a registration: the watch event's
// type, the Secret's name, the vcluster it registers ("namespace/name",
// from its source labels), its content hash and its connection state,
// and when the watch delivered it.
type registrationEvent struct {
	Type                      watch.EventType
	Name, Source, Hash, State string
	At                        time.Time
}

func (e registrationEvent) String() string { return fmt.Sprintf("%s %s", e.Type, e.Name) }

// watchRegistrations records every change to a Secret of ns that carries
// the registrar's managed-by label, from now on, across API server
// restarts (a watch that ends resumes where it stopped); the returned
// function lists them so far.
func watchRegistrations(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns string) func() []registrationEvent {
	t.Helper()
	selector := managedByLabel + "=" + managedByRegistrar
	list, err := cs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	// From the list's version: what existed then is not a write.
	lw := &cache.ListWatch{WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		o.LabelSelector = selector
		return cs.CoreV1().Secrets(ns).Watch(ctx, o)
	}}
	w, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, lw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	var mu sync.Mutex
	var events []registrationEvent
	go func() {
		for e := range w.ResultChan() {
			if s, ok := e.Object.(*corev1.Secret); ok {
				mu.Lock()
				events = append(events, registrationEvent{Type: e.Type, Name: s.Name,
					Source: s.Labels[sourceNamespaceLabel] + "/" + s.Labels[sourceNameLabel],
					Hash:   s.Annotations[contentHashAnnotation], State: s.Annotations[connectionStateAnnotation], At: time.Now()})
				mu.Unlock()
			}
		}
	}()
	return func() []registrationEvent {
		mu.Lock()
		defer mu.Unlock()
		return append([]registrationEvent(nil), events...)
	}
}

// watchRegistrationWrites lists, as "MODIFIED name", every change to a
// registration from now on (watchRegistrations).
func watchRegistrationWrites(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns string) func() []string {
	t.Helper()
	events := watchRegistrations(ctx, t, cs, ns)
	return func() []string {
		var out []string
		for _, e := range events() {
			out = append(out, e.String())
		}
		return out
	}
}

// containerPID is the PID, as this machine sees it, of the first process
// of container name of pod: the cgroup the kubelet made for it (cgroupfs
// driver: kubepods/[qos/]pod<uid>/<container id>) lists it.
func containerPID(t *testing.T, pod *corev1.Pod, name string) int {
	t.Helper()
	var id string
	for _, s := range pod.Status.ContainerStatuses {
		if s.Name == name {
			_, id, _ = strings.Cut(s.ContainerID, "://")
		}
	}
	if id == "" {
		t.Fatalf("pod %s has no container %s running", pod.Name, name)
	}
	matches, _ := filepath.Glob("/sys/fs/cgroup/pids/kubepods/*/pod" + string(pod.UID) + "/" + id + "/cgroup.procs")
	more, _ := filepath.Glob("/sys/fs/cgroup/pids/kubepods/pod" + string(pod.UID) + "/" + id + "/cgroup.procs")
	matches = append(matches, more...)
	if len(matches) != 1 {
		t.Fatalf("cgroup of container %s (%s) of pod %s: found %v", name, id, pod.Name, matches)
	}
	data, err := os.ReadFile(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Sscan(string(data), &pid); err != nil {
		t.Fatalf("no process in %s: %q", matches[0], data)
	}
	return pid
}

func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, _ := strings.Cut(s.Text(), ":")
		m[k] = strings.TrimSpace(v)
	}
	return m
}

// rootMountOptions are the options of the mount at / in the process's
// mount namespace (mountinfo's sixth field).
func rootMountOptions(t *testing.T, pid int) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	var opts string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 5 && f[4] == "/" {
			opts = f[5] // the last mount at / is the one the process sees
		}
	}
	return opts
}

func hasOption(opts, o string) bool {
	for _, x := range strings.Split(opts, ",") {
		if x == o {
			return true
		}
	}
	return false
}

// TestLeaderHandOver runs two replicas, deletes the leader's pod and
// expects the other to take the Lease within the lease timings, with no
// registration lost or rewritten, and a vcluster installed during the
// hand-over registered.
func TestLeaderHandOver(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	ns := clusterArgoCDNamespace
	n.helmUpgrade(t, "--set", "replicaCount=2")
	t.Cleanup(func() { n.helmUpgrade(t, "--set", "replicaCount=1") })
	eventually(t, 3*time.Minute, "two registrar pods ready", func(ctx context.Context) (bool, string, error) {
		ready, all := n.registrarPods(ctx)
		return len(ready) == 2 && all == 2, fmt.Sprintf("ready %v of %d", ready, all), nil
	})
	leader := n.leaderPod(ctx, t)
	ready, _ := n.registrarPods(ctx)
	t.Logf("replicas %v, leader %s", ready, leader)

	writes := watchRegistrationWrites(ctx, t, n.cs, ns)
	handover := VCluster{Name: "handover", Namespace: "vcluster-handover"}
	n.installVCluster(t, handover)
	start := time.Now()
	if err := n.cs.CoreV1().Pods(ns).Delete(ctx, leader, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var next string
	eventually(t, time.Minute, "another pod holding the Lease", func(ctx context.Context) (bool, string, error) {
		next = n.leaderPodOrEmpty(ctx)
		return next != "" && next != leader, "holder " + next, nil
	})
	took := time.Since(start)
	// controller-runtime's defaults, which the chart keeps: a Lease of 15 s
	// renewed every 2 s; a leader that stops gracefully releases it.
	if took > 20*time.Second {
		t.Errorf("hand-over from %s to %s took %s, want within the 15 s Lease and a 2 s retry", leader, next, took.Round(time.Millisecond))
	}
	t.Logf("leader %s deleted; %s leads %s later", leader, next, took.Round(time.Millisecond))

	w := World{Host: n.host, ArgoCDNamespace: ns, Timeout: 5 * time.Minute}
	EventuallyRegistered(t, w, handover)
	t.Logf("%s registered %s after the leader's deletion", handover.Name, time.Since(start).Round(time.Second))
	for _, e := range writes() {
		// The new vcluster's registration is written (and its connection
		// state recorded); nothing else may be.
		if !strings.Contains(e, handover.Namespace+"-"+handover.Name) && !strings.Contains(e, handover.Name) {
			t.Errorf("across the hand-over a registration other than %s's was written: %s (all: %v)", handover.Name, e, writes())
		}
	}
}

// TestUpgradeAndUninstall: an upgrade that changes no registration rolls the
// Deployment and writes nothing; one that does (a propagated label) rewrites
// exactly the registration concerned; `helm uninstall` leaves registrations
// in place (docs/install.md, "Uninstall") and a reinstall adopts them unwritten.
func TestUpgradeAndUninstall(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	ns := clusterArgoCDNamespace
	before := n.registrations(ctx, t)
	if len(before) == 0 {
		t.Fatal("no registration to keep: the story should have left sandbox registered")
	}

	writes := watchRegistrationWrites(ctx, t, n.cs, ns)
	old := n.registrarPod(ctx, t)
	n.helmUpgrade(t, "--set", "resources.requests.memory=80Mi")
	now := n.registrarPod(ctx, t)
	if now.Name == old.Name {
		t.Errorf("helm upgrade changing resources did not roll the Deployment (pod %s still there)", old.Name)
	}
	if got := writes(); len(got) > 0 {
		t.Errorf("helm upgrade changing resources wrote registrations: %v", got)
	}

	// sandbox's workload gets a label, then the registrar is told to
	// propagate it: sandbox's registration alone is rewritten, with it.
	var sts appsv1.StatefulSet
	if err := n.host.Get(ctx, client.ObjectKey{Namespace: "vcluster-sandbox", Name: "sandbox"}, &sts); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(sts.DeepCopy())
	if sts.Labels == nil {
		sts.Labels = map[string]string{}
	}
	sts.Labels["e2e-env"] = "node"
	if err := n.host.Patch(ctx, &sts, patch); err != nil {
		t.Fatal(err)
	}
	n.helmUpgrade(t, "--set", "propagateLabels={e2e-env}")
	eventually(t, 2*time.Minute, "sandbox's registration labelled e2e-env=node", func(ctx context.Context) (bool, string, error) {
		for name, s := range n.registrations(ctx, t) {
			if strings.Contains(name, "sandbox") {
				return s.Labels["e2e-env"] == "node", fmt.Sprintf("labels %v", s.Labels), nil
			}
		}
		return false, "no registration of sandbox", nil
	})
	for _, e := range writes() {
		if !strings.Contains(e, "sandbox") {
			t.Errorf("propagating sandbox's label wrote another registration: %s", e)
		}
	}

	// Uninstall: the registrations stay.
	if out, err := exec.Command(n.helm, "uninstall", registrarRelease, "--namespace", ns, "--wait").CombinedOutput(); err != nil {
		t.Fatalf("helm uninstall: %v\n%s", err, out)
	}
	eventually(t, 2*time.Minute, "no registrar pod left", func(ctx context.Context) (bool, string, error) {
		_, all := n.registrarPods(ctx)
		return all == 0, fmt.Sprintf("%d pods", all), nil
	})
	kept := n.registrations(ctx, t)
	for name := range before {
		if _, ok := kept[name]; !ok {
			t.Errorf("helm uninstall removed registration %s", name)
		}
	}
	// Reinstall with what the upgrade set: adopted as they are.
	reinstall := watchRegistrationWrites(ctx, t, n.cs, ns)
	cmd := exec.Command(n.helm, "install", registrarRelease, filepath.Join("..", "..", "charts", "registrar"), "--namespace", ns,
		"--set", "image.repository="+os.Getenv("E2E_NODE_IMAGE_REPOSITORY"), "--set", "image.tag="+os.Getenv("E2E_NODE_IMAGE_TAG"),
		"--set", "propagateLabels={e2e-env}", "--wait", "--timeout", "3m")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helm install again: %v\n%s", err, out)
	}
	pod := n.registrarPod(ctx, t)
	// The new registrar has read every vcluster once its pod is ready; give
	// its prober one round too.
	eventually(t, time.Minute, "the reinstalled registrar leading", func(ctx context.Context) (bool, string, error) {
		holder := n.leaderPodOrEmpty(ctx)
		return holder == pod.Name, "holder " + holder, nil
	})
	time.Sleep(5 * time.Second)
	if got := reinstall(); len(got) > 0 {
		t.Errorf("reinstalling rewrote registrations it should have adopted: %v", got)
	}
}

// registrarPods lists the ready registrar pods and counts them all.
func (n node) registrarPods(ctx context.Context) (ready []string, all int) {
	pods, err := n.cs.CoreV1().Pods(clusterArgoCDNamespace).List(ctx, metav1.ListOptions{LabelSelector: registrarSelector})
	if err != nil {
		return nil, -1
	}
	for i := range pods.Items {
		if podReady(&pods.Items[i]) && pods.Items[i].DeletionTimestamp == nil {
			ready = append(ready, pods.Items[i].Name)
		}
	}
	return ready, len(pods.Items)
}

// leaderPodOrEmpty is the pod holding the registrar's Lease: its holder
// identity is "<hostname>_<uuid>" (controller-runtime's leaderelection),
// and a pod's hostname is its name.
func (n node) leaderPodOrEmpty(ctx context.Context) string {
	lease, err := n.cs.CoordinationV1().Leases(clusterArgoCDNamespace).Get(ctx, "registrar-leader", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil {
		return ""
	}
	pod, _, _ := strings.Cut(*lease.Spec.HolderIdentity, "_")
	return pod
}

func (n node) leaderPod(ctx context.Context, t *testing.T) string {
	t.Helper()
	var holder string
	eventually(t, time.Minute, "a registrar pod holding the Lease", func(ctx context.Context) (bool, string, error) {
		holder = n.leaderPodOrEmpty(ctx)
		return holder != "", "no holder", nil
	})
	return holder
}

// registrations are the Secrets the registrar wrote, by name.
func (n node) registrations(ctx context.Context, t *testing.T) map[string]corev1.Secret {
	t.Helper()
	list, err := n.cs.CoreV1().Secrets(clusterArgoCDNamespace).List(ctx, metav1.ListOptions{LabelSelector: managedByLabel + "=" + managedByRegistrar})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]corev1.Secret{}
	for _, s := range list.Items {
		m[s.Name] = s
	}
	return m
}

// installVCluster installs vcluster's chart as vc, with the node's values
// and a hostPath volume of its own, and uninstalls it when the test ends.
func (n node) installVCluster(t *testing.T, vc VCluster) {
	t.Helper()
	dir := filepath.Join(os.Getenv("E2E_NODE_DIR"), "volumes", vc.Name)
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-" + vc.Name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("5Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			ClaimRef:                      &corev1.ObjectReference{Namespace: vc.Namespace, Name: "data-" + vc.Name + "-0"},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{
				Path: dir, Type: ptr(corev1.HostPathDirectoryOrCreate),
			}},
		},
	}
	create(context.Background(), t, n.host, pv)
	cmd := exec.Command(n.helm, "install", vc.Name, os.Getenv("VCLUSTER_CHART"), "--namespace", vc.Namespace, "--create-namespace",
		"-f", filepath.Join("..", "..", "hack", "e2e", "node", "vcluster-values.yaml"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helm install %s: %v\n%s", vc.Name, err, out)
	}
	t.Cleanup(func() {
		_ = exec.Command(n.helm, "uninstall", vc.Name, "--namespace", vc.Namespace, "--wait").Run()
	})
}

func ptr[T any](v T) *T { return &v }

// TestReadyToConnected: a vcluster installed by its own chart is reported
// Connected within seconds of its pod becoming Ready, with no
// ConnectionFailed on the way (the Service's forwarding rules and the
// vcluster's API server are not in place the instant the pod is Ready: the
// registrar reports that as Pending, not Failed). It runs last: no
// ConnectionFailed Event may appear anywhere in a clean run.
func TestReadyToConnected(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	fresh := VCluster{Name: "fresh", Namespace: "vcluster-fresh"}
	n.installVCluster(t, fresh)
	w := World{Host: n.host, ArgoCDNamespace: clusterArgoCDNamespace, Timeout: 4 * time.Minute}
	EventuallyRegistered(t, w, fresh)
	EventuallyProbed(t, w, fresh, "Successful")

	for _, vc := range []VCluster{{Name: "sandbox", Namespace: "vcluster-sandbox"}, fresh} {
		pod, err := n.cs.CoreV1().Pods(vc.Namespace).Get(ctx, vc.Name+"-0", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var ready time.Time
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready = c.LastTransitionTime.Time
			}
		}
		connected := n.eventTimes(ctx, t, vc.Namespace, "Connected", vc.Name)
		var took time.Duration = -1
		for _, at := range connected {
			// The first Connected after the pod's current Ready: with
			// seconds' precision both ways, it may be stamped before it.
			if d := at.Sub(ready); d > -time.Second && (took < 0 || d < took) {
				took = d
			}
		}
		switch {
		case ready.IsZero():
			t.Errorf("%s: pod %s is not Ready", vc.Name, pod.Name)
		case took < 0:
			t.Errorf("%s: no Connected event after its pod became Ready at %s (Connected at %v)", vc.Name, ready, connected)
		case took > 30*time.Second:
			t.Errorf("%s: pod Ready → Connected took %s, want within seconds", vc.Name, took.Round(time.Second))
		default:
			t.Logf("%s: pod Ready → Connected in %s", vc.Name, took.Round(time.Second))
		}
	}

	list, err := n.cs.EventsV1().Events("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list.Items {
		if e.Reason != "ConnectionFailed" {
			continue
		}
		t.Errorf("ConnectionFailed on %s %s/%s in a clean run: %s", e.Regarding.Kind, e.Regarding.Namespace, e.Regarding.Name, e.Note)
	}
}

// eventTimes returns when the events of reason about the workload name in
// ns were first emitted.
func (n node) eventTimes(ctx context.Context, t *testing.T, ns, reason, name string) []time.Time {
	t.Helper()
	list, err := n.cs.EventsV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var at []time.Time
	for _, e := range list.Items {
		if e.Reason == reason && e.Regarding.Name == name {
			at = append(at, e.EventTime.Time)
		}
	}
	return at
}
