//go:build e2e && e2enode

package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestHelmTestAndCronJob runs, on the real node, what the chart offers for
// one-shot runs: `helm test` (registrar status as the chart's
// ServiceAccount) passes and lists the story's registrations; then, with
// the controller scaled to 0 and the sync CronJob on, a Job made from the
// CronJob runs sync to completion, rewriting no registration; the
// controller then comes back.
func TestHelmTestAndCronJob(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	ns := clusterArgoCDNamespace

	out, err := exec.Command(n.helm, "test", registrarRelease, "--namespace", ns, "--logs", "--timeout", "3m").CombinedOutput()
	if err != nil || !regexp.MustCompile(`Phase:\s+Succeeded`).Match(out) {
		t.Fatalf("helm test: %v\n%s", err, out)
	}
	// The story leaves sandbox registered.
	if !strings.Contains(string(out), "sandbox") {
		t.Errorf("helm test's logs do not list sandbox's registration:\n%s", out)
	}

	writes := watchRegistrationWrites(ctx, t, n.cs, ns)
	n.helmUpgrade(t, "--set", "replicaCount=0", "--set", "cronJob.enabled=true")
	t.Cleanup(func() {
		n.helmUpgrade(t, "--set", "replicaCount=1", "--set", "cronJob.enabled=false")
		n.registrarPod(context.Background(), t)
	})
	cron, err := n.cs.BatchV1().CronJobs(ns).Get(ctx, registrarRelease+"-sync", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// What `kubectl create job --from=cronjob/registrar-sync` makes.
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "registrar-sync-now", Namespace: ns,
		Labels: cron.Spec.JobTemplate.Labels}, Spec: cron.Spec.JobTemplate.Spec}
	// The controller's pod lets the Lease go as it stops; sync refuses
	// while it is held, so wait for the Deployment's pod to be gone.
	eventually(t, 2*time.Minute, "the controller's pods gone", func(ctx context.Context) (bool, string, error) {
		_, all := n.registrarPods(ctx)
		return all == 0, fmt.Sprintf("%d pods", all), nil
	})
	if job, err = n.cs.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		policy := metav1.DeletePropagationBackground
		_ = n.cs.BatchV1().Jobs(ns).Delete(context.Background(), job.Name, metav1.DeleteOptions{PropagationPolicy: &policy})
	})
	eventually(t, 3*time.Minute, "the sync Job finished", func(ctx context.Context) (bool, string, error) {
		j, err := n.cs.BatchV1().Jobs(ns).Get(ctx, job.Name, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		return j.Status.Succeeded+j.Status.Failed > 0, fmt.Sprintf("succeeded %d, failed %d", j.Status.Succeeded, j.Status.Failed), nil
	})
	pods, err := n.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + job.Name})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("the sync Job's pods: %v, %v", pods, err)
	}
	logs, err := n.cs.CoreV1().Pods(ns).GetLogs(pods.Items[0].Name, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if j, _ := n.cs.BatchV1().Jobs(ns).Get(ctx, job.Name, metav1.GetOptions{}); j == nil || j.Status.Succeeded != 1 {
		t.Fatalf("the sync Job failed:\n%s", logs)
	}
	if !strings.Contains(string(logs), "sandbox") {
		t.Errorf("the sync Job's output does not name vcluster sandbox:\n%s", logs)
	}
	// Everything was registered already: sync finds nothing to write.
	if got := writes(); len(got) != 0 {
		t.Errorf("the sync Job rewrote registrations: %v\n%s", got, logs)
	}
	t.Logf("helm test and a sync Job from the CronJob passed; sync's output:\n%s", logs)
}
