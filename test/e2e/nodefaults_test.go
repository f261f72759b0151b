//go:build e2e && e2enode

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/registrar-dev/registrar/test/fixture"
)

// Faults on the real node (after node_test.go's checks, whose last one
// demands a run without ConnectionFailed): a vcluster's pod deleted, a
// vcluster paused and resumed, the registrar killed mid-burst, the node's
// API server restarted while a vcluster is being created. In each, no
// registration is lost, none is written twice, and the registrar's own
// view (its connection state and Events) is the one docs/monitoring.md states.

// nodePause is the pause image every node has (hack/e2e/node-images.sh):
// a pod of it becomes ready and serves nothing.
const nodePause = "registry.k8s.io/pause:3.10"

var sandbox = VCluster{Name: "sandbox", Namespace: "vcluster-sandbox"}

// TestVClusterPodDeleted deletes the story's vcluster pod; its StatefulSet
// recreates it. The registration stays as it is; the connection state goes
// Failed at once (a vcluster that loses its last ready replica has no
// grace), with a Warning, then Successful once the new pod is ready.
func TestVClusterPodDeleted(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	w := n.world(3 * time.Minute)
	EventuallyProbed(t, w, sandbox, "Successful")
	events := watchRegistrations(ctx, t, n.cs, clusterArgoCDNamespace)

	failedBefore := n.eventCount(ctx, t, sandbox.Namespace, "ConnectionFailed", sandbox.Name)
	if err := n.cs.CoreV1().Pods(sandbox.Namespace).Delete(ctx, sandbox.Name+"-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	msg := EventuallyProbed(t, n.world(time.Minute), sandbox, "Failed")
	t.Logf("pod deleted: Failed %s later: %s", time.Since(deleted).Round(time.Second), msg)
	EventuallyProbed(t, w, sandbox, "Successful")
	t.Logf("Successful again %s after the deletion, %s after the new pod's Ready",
		time.Since(deleted).Round(time.Second), time.Since(n.podReadySince(ctx, t, sandbox)).Round(time.Second))

	if got := n.eventCount(ctx, t, sandbox.Namespace, "ConnectionFailed", sandbox.Name); got <= failedBefore {
		t.Errorf("no Warning ConnectionFailed on %s while its pod was gone (%d before, %d after)", sandbox.Name, failedBefore, got)
	}
	states := assertNotRewritten(t, events(), source(sandbox))
	if !containsInOrder(states, "Failed", "Successful") {
		t.Errorf("connection states of %s: %v, want Failed then Successful", sandbox.Name, states)
	}
}

// TestVClusterPausedAndResumed pauses the story's vcluster as `vcluster
// pause` does (annotated loft.sh/paused=true, scaled to zero): the
// registration stays, its state is Paused with a Normal Paused Event and
// no Warning, and nothing is probed; resumed, it is Successful within
// seconds of its pod's Ready.
func TestVClusterPausedAndResumed(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	w := n.world(3 * time.Minute)
	EventuallyProbed(t, w, sandbox, "Successful")
	events := watchRegistrations(ctx, t, n.cs, clusterArgoCDNamespace)
	failedBefore := n.eventCount(ctx, t, sandbox.Namespace, "ConnectionFailed", sandbox.Name)

	// vcluster's pause (pkg/lifecycle/lifecycle.go, PauseVCluster) keeps
	// the replicas it scaled away in loft.sh/paused-replicas.
	n.scaleSandbox(ctx, t, 0, map[string]any{"loft.sh/paused": "true", "loft.sh/paused-replicas": "1"})
	msg := EventuallyProbed(t, w, sandbox, "Paused")
	t.Logf("paused: %s", msg)
	eventually(t, 2*time.Minute, "sandbox's pod gone", func(ctx context.Context) (bool, string, error) {
		pods, err := n.cs.CoreV1().Pods(sandbox.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=vcluster,release=" + sandbox.Name})
		return err == nil && len(pods.Items) == 0, fmt.Sprintf("%d pods", len(pods.Items)), err
	})
	if got := n.eventCount(ctx, t, sandbox.Namespace, "Paused", sandbox.Name); got == 0 {
		t.Errorf("no Normal Paused Event on %s", sandbox.Name)
	}
	// Paused, the registration is left alone: nothing probes it, so its
	// state does not move while no pod serves it.
	time.Sleep(15 * time.Second)
	EventuallyProbed(t, n.world(time.Second), sandbox, "Paused")

	n.scaleSandbox(ctx, t, 1, map[string]any{"loft.sh/paused": nil, "loft.sh/paused-replicas": nil})
	EventuallyProbed(t, w, sandbox, "Successful")
	t.Logf("resumed: Successful %s after the pod's Ready", time.Since(n.podReadySince(ctx, t, sandbox)).Round(time.Second))

	if got := n.eventCount(ctx, t, sandbox.Namespace, "ConnectionFailed", sandbox.Name); got != failedBefore {
		t.Errorf("Warning ConnectionFailed on %s while paused or resuming (%d before, %d after)", sandbox.Name, failedBefore, got)
	}
	states := assertNotRewritten(t, events(), source(sandbox))
	for _, s := range states {
		if s == "Failed" {
			t.Errorf("connection states of %s while paused and resumed: %v, want no Failed", sandbox.Name, states)
			break
		}
	}
	if !containsInOrder(states, "Paused", "Successful") {
		t.Errorf("connection states of %s: %v, want Paused then Successful", sandbox.Name, states)
	}
}

// TestRegistrarKilledMidBurst creates a burst of vclusters and kills the
// registrar's container with SIGKILL once the first is registered; the
// kubelet restarts it. Every vcluster ends registered, each written once,
// and no other registration is touched.
func TestRegistrarKilledMidBurst(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	const size = 12
	events := watchRegistrations(ctx, t, n.cs, clusterArgoCDNamespace)
	pod := n.registrarPod(ctx, t)
	restarts := restartCount(pod)

	burst := n.fakeVClusters(ctx, t, "vcluster-burst", "burst", size)
	eventually(t, 2*time.Minute, "the first of the burst registered", func(context.Context) (bool, string, error) {
		return len(added(events())) > 0, "none yet", nil
	})
	before := len(added(events()))
	pid := containerPID(t, pod, "registrar")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	t.Logf("registrar (pid %d) killed with %d of %d registered", pid, before, size)

	eventually(t, 2*time.Minute, "the registrar's container restarted by the kubelet", func(ctx context.Context) (bool, string, error) {
		p, err := n.cs.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		return restartCount(p) > restarts && podReady(p), fmt.Sprintf("restarts %d, ready %t", restartCount(p), podReady(p)), nil
	})
	p, err := n.cs.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var restarted time.Time
	for _, s := range p.Status.ContainerStatuses {
		if s.Name != "registrar" {
			continue
		}
		if term := s.LastTerminationState.Terminated; term == nil || term.ExitCode != 137 {
			t.Errorf("the registrar's last termination: %+v, want exit code 137 (SIGKILL)", term)
		}
		if s.State.Running != nil {
			restarted = s.State.Running.StartedAt.Time
		}
	}
	w := n.world(3 * time.Minute)
	for _, vc := range burst {
		EventuallyRegistered(t, w, vc)
	}
	all := events()
	for _, vc := range burst {
		assertWrittenOnce(t, all, source(vc))
		// Events are sent after the write, in the background: a process
		// killed in between wrote the registration and never told. The one
		// restarted adopts it and does not tell either. What the restarted
		// process writes, it tells once.
		got := n.eventCount(ctx, t, vc.Namespace, "Registered", vc.Name)
		if byRestarted := writtenAfter(all, source(vc), restarted); got > 1 || (byRestarted && got != 1) {
			t.Errorf("%s: %d Registered Events, want 1 (written by the restarted registrar: %t)", vc.Name, got, byRestarted)
		}
	}
	for _, e := range all {
		if !strings.HasPrefix(e.Source, "vcluster-burst/") && e.Type != watch.Modified {
			t.Errorf("the burst touched another registration: %s", e)
		}
	}
	assertNotRewritten(t, all, source(sandbox))
}

// TestAPIServerRestarted installs a vcluster with its chart and restarts
// the node's API server while the vcluster's pod starts: the registrar
// registers it once, and it connects.
func TestAPIServerRestarted(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	events := watchRegistrations(ctx, t, n.cs, clusterArgoCDNamespace)
	restartsBefore := restartCount(n.registrarPod(ctx, t))

	vc := VCluster{Name: "restart", Namespace: "vcluster-restart"}
	n.installVCluster(t, vc)
	eventually(t, 2*time.Minute, "the vcluster's pod created", func(ctx context.Context) (bool, string, error) {
		_, err := n.cs.CoreV1().Pods(vc.Namespace).Get(ctx, vc.Name+"-0", metav1.GetOptions{})
		return err == nil, fmt.Sprint(err), nil
	})
	down := restartAPIServer(t)
	t.Logf("API server down %s", down.Round(100*time.Millisecond))

	w := n.world(5 * time.Minute)
	EventuallyRegistered(t, w, vc)
	_, first, err := findCluster(ctx, w, vc)
	if err != nil {
		t.Fatal(err)
	}
	EventuallyProbed(t, w, vc, "Successful")
	_, last, err := findCluster(ctx, w, vc)
	if err != nil {
		t.Fatal(err)
	}
	if last.UID != first.UID || last.Annotations[contentHashAnnotation] != first.Annotations[contentHashAnnotation] {
		t.Errorf("registration of %s recreated or rewritten: uid %s → %s, content hash %s → %s", vc.Name,
			first.UID, last.UID, first.Annotations[contentHashAnnotation], last.Annotations[contentHashAnnotation])
	}
	// The watch resumes where it stopped unless the restarted API server no
	// longer serves that resource version (its watch cache starts empty):
	// then what happened in between is not seen. What it saw must still be
	// at most one creation with one content; the Secret's UID, its content
	// hash and the one Registered Event cover the rest.
	all := events()
	assertWrittenAtMostOnce(t, all, source(vc))
	assertNotRewritten(t, all, source(sandbox))
	if got := n.eventCount(ctx, t, vc.Namespace, "Registered", vc.Name); got != 1 {
		t.Errorf("%s: %d Registered Events, want 1", vc.Name, got)
	}
	// A leader that cannot renew its Lease for its renew deadline (10 s)
	// exits and is restarted; the API server's start may outlast it.
	t.Logf("registrar container restarts across the API server's restart: %d",
		restartCount(n.registrarPod(ctx, t))-restartsBefore)
}

// restartAPIServer stops the node's API server, which hack/e2e/node.sh
// started and recorded, and starts it again with the same command line in
// the same network namespace (this process's); it returns how long no API
// server answered. The new process is recorded for node.sh's teardown.
func restartAPIServer(t *testing.T) time.Duration {
	t.Helper()
	dir := os.Getenv("E2E_NODE_DIR")
	pids, err := os.ReadFile(filepath.Join(dir, "pids"))
	if err != nil {
		t.Fatal(err)
	}
	pid := 0
	for _, line := range strings.Split(string(pids), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[1] == "kube-apiserver" {
			pid, _ = strconv.Atoi(f[0])
		}
	}
	if pid == 0 {
		t.Fatalf("no kube-apiserver in %s/pids", dir)
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatalf("kube-apiserver (pid %d) is not running: %v", pid, err)
	}
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")

	// Stopped as an operator stops it: SIGTERM. It stops listening at once,
	// then waits for the requests in flight, watches among them, up to its
	// --request-timeout, 60 s (ShutdownTimeout in k8s.io/apiserver's
	// pkg/server/config.go): longer than the registrar's leader may go
	// without renewing its Lease.
	start := time.Now()
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Minute); !exited(pid); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("kube-apiserver (pid %d) still running two minutes after SIGTERM", pid)
		}
	}
	logf, err := os.OpenFile(filepath.Join(dir, "logs", "kube-apiserver-restarted.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "pids"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fmt.Fprintf(f, "%d kube-apiserver\n", cmd.Process.Pid)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait() }() // node.sh's teardown ends it
	_, _, cs, _ := clusterClients(t)
	eventually(t, 2*time.Minute, "the API server ready again", func(ctx context.Context) (bool, string, error) {
		_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil, fmt.Sprint(err), nil
	})
	return time.Since(start)
}

// exited says whether process pid has ended: gone, or a zombie its parent
// (node.sh) has not reaped yet.
func exited(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// pid (comm) state ...: comm may hold spaces and parentheses.
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z'
}

// fakeVClusters writes count vclusters named prefix-<i> into namespace ns,
// all at once, as vcluster would, each with a pod of the pause image, and
// removes them when the test ends. They never connect.
func (n node) fakeVClusters(ctx context.Context, t *testing.T, ns, prefix string, count int) []VCluster {
	t.Helper()
	create(ctx, t, n.host, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	pki, err := fixture.NewPKI(prefix, fixture.ServingSANs(prefix, ns))
	if err != nil {
		t.Fatal(err)
	}
	var out []VCluster
	var wg sync.WaitGroup
	errs := make(chan error, count)
	for i := range count {
		v, err := fixture.NewVCluster(fmt.Sprintf("%s-%d", prefix, i), ns, fixture.WithPKI(pki), fixture.PodImage(nodePause), fixture.NotReady())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, VCluster{Name: v.Name, Namespace: ns})
		wg.Go(func() {
			if _, err := v.Create(ctx, n.host); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return out
}

// scaleSandbox sets the story's vcluster's replicas and annotations (nil
// removes one) in one patch, as `vcluster pause` and `resume` do.
func (n node) scaleSandbox(ctx context.Context, t *testing.T, replicas int32, annotations map[string]any) {
	t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"annotations":%s},"spec":{"replicas":%d}}`, mustJSON(t, annotations), replicas)
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: sandbox.Namespace, Name: sandbox.Name}}
	if err := n.host.Patch(ctx, sts, client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
		t.Fatal(err)
	}
}

func (n node) world(timeout time.Duration) World {
	return World{Host: n.host, ArgoCDNamespace: clusterArgoCDNamespace, Timeout: timeout}
}

// podReadySince is when vc's pod last became Ready (zero: it is not).
func (n node) podReadySince(ctx context.Context, t *testing.T, vc VCluster) time.Time {
	t.Helper()
	pod, err := n.cs.CoreV1().Pods(vc.Namespace).Get(ctx, vc.Name+"-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime.Time
		}
	}
	t.Fatalf("%s's pod is not Ready", vc.Name)
	return time.Time{}
}

// eventCount counts the Events of reason about the workload name in ns,
// each as often as it happened (an Event repeated is one object with a
// count or a series).
func (n node) eventCount(ctx context.Context, t *testing.T, ns, reason, name string) int {
	t.Helper()
	list, err := n.cs.EventsV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, e := range list.Items {
		if e.Reason != reason || e.Regarding.Name != name {
			continue
		}
		switch {
		case e.Series != nil:
			total += int(e.Series.Count)
		case e.DeprecatedCount > 0:
			total += int(e.DeprecatedCount)
		default:
			total++
		}
	}
	return total
}

// source is how a registrationEvent names vc.
func source(vc VCluster) string { return vc.Namespace + "/" + vc.Name }

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// assertNotRewritten checks that the registration of vcluster name was neither
// created, deleted nor given new content in events, and returns the
// connection states it went through.
func assertNotRewritten(t *testing.T, events []registrationEvent, name string) []string {
	t.Helper()
	var states []string
	hashes := map[string]bool{}
	for _, e := range events {
		if e.Source != name {
			continue
		}
		if e.Type != watch.Modified {
			t.Errorf("registration %s: %s, want it left in place", name, e.Type)
		}
		hashes[e.Hash] = true
		if len(states) == 0 || states[len(states)-1] != e.State {
			states = append(states, e.State)
		}
	}
	if len(hashes) > 1 {
		t.Errorf("registration %s rewritten: content hashes %v", name, hashes)
	}
	return states
}

// assertWrittenOnce checks that the registration of vcluster name was created once,
// never deleted, and never given other content.
func assertWrittenOnce(t *testing.T, events []registrationEvent, name string) {
	t.Helper()
	if created, hashes := creations(t, events, name); created != 1 || len(hashes) != 1 {
		t.Errorf("registration %s: created %d times with content hashes %v, want once with one", name, created, hashes)
	}
}

// creations counts the creations of the registration of vcluster name in
// events and collects its content hashes; a deletion fails the test.
func creations(t *testing.T, events []registrationEvent, name string) (created int, hashes map[string]bool) {
	t.Helper()
	hashes = map[string]bool{}
	for _, e := range events {
		if e.Source != name {
			continue
		}
		switch e.Type {
		case watch.Added:
			created++
		case watch.Deleted:
			t.Errorf("registration %s deleted", name)
		}
		hashes[e.Hash] = true
	}
	return created, hashes
}

// writtenAfter says whether the registration of vcluster name was created
// after at, with a second's slack for the kubelet's whole-second times.
func writtenAfter(events []registrationEvent, name string, at time.Time) bool {
	for _, e := range events {
		if e.Source == name && e.Type == watch.Added {
			return e.At.After(at.Add(time.Second))
		}
	}
	return false
}

// assertWrittenAtMostOnce checks that events, which may have missed some
// changes, show the registration of vcluster name created at most once,
// never deleted, and with one content at most.
func assertWrittenAtMostOnce(t *testing.T, events []registrationEvent, name string) {
	t.Helper()
	if created, hashes := creations(t, events, name); created > 1 || len(hashes) > 1 {
		t.Errorf("registration %s: created %d times with content hashes %v, want at most once with one", name, created, hashes)
	}
}

// added lists the registrations created in events.
func added(events []registrationEvent) []string {
	var out []string
	for _, e := range events {
		if e.Type == watch.Added {
			out = append(out, e.Name)
		}
	}
	return out
}

// containsInOrder says whether want appear in states in that order.
func containsInOrder(states []string, want ...string) bool {
	for _, s := range states {
		if len(want) > 0 && s == want[0] {
			want = want[1:]
		}
	}
	return len(want) == 0
}

func restartCount(p *corev1.Pod) int32 {
	for _, s := range p.Status.ContainerStatuses {
		if s.Name == "registrar" {
			return s.RestartCount
		}
	}
	return 0
}
