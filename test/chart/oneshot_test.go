package chart

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	"github.com/registrar-dev/registrar/test/fixture"
)

// cronJob returns the only CronJob rendered.
func (m *manifests) cronJob(t *testing.T) *batchv1.CronJob {
	t.Helper()
	return only[*batchv1.CronJob](t, m, "CronJob")
}

// testPod returns the helm test hook Pod.
func (m *manifests) testPod(t *testing.T) *corev1.Pod {
	t.Helper()
	for _, o := range m.typed {
		if p, ok := o.(*corev1.Pod); ok && p.Annotations["helm.sh/hook"] == "test" {
			return p
		}
	}
	t.Fatal("no Pod with annotation helm.sh/hook: test")
	return nil
}

// assertOneShotPod checks a one-shot pod against the controller's: the
// same ServiceAccount, security contexts and image, never restarted, and
// labels that neither the Deployment nor the metrics Service select.
func assertOneShotPod(t *testing.T, what string, m *manifests, pod corev1.PodSpec, podLabels map[string]string) {
	t.Helper()
	d := m.deployment(t)
	ctl := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%s: %d containers", what, len(pod.Containers))
	}
	c := pod.Containers[0]
	if !equality.Semantic.DeepEqual(pod.SecurityContext, ctl.SecurityContext) || !equality.Semantic.DeepEqual(c.SecurityContext, ctl.Containers[0].SecurityContext) {
		t.Errorf("%s: security contexts %+v / %+v differ from the controller's", what, pod.SecurityContext, c.SecurityContext)
	}
	if pod.ServiceAccountName != ctl.ServiceAccountName || !ptr.Deref(pod.AutomountServiceAccountToken, false) || pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("%s: serviceAccount %q automount %v restartPolicy %q", what, pod.ServiceAccountName, pod.AutomountServiceAccountToken, pod.RestartPolicy)
	}
	if c.Image != ctl.Containers[0].Image || memoryEnv(c)["REGISTRAR_MEMORY_LIMIT"].ValueFrom == nil {
		t.Errorf("%s: image %q, env %v; want the controller's image and its memory limit env", what, c.Image, c.Env)
	}
	if pod.HostNetwork || pod.HostPID || len(pod.Volumes) != 0 {
		t.Errorf("%s: host namespaces or volumes: %+v", what, pod)
	}
	if labels.SelectorFromSet(d.Spec.Selector.MatchLabels).Matches(labels.Set(podLabels)) {
		t.Errorf("%s: labels %v match the Deployment's selector %v", what, podLabels, d.Spec.Selector.MatchLabels)
	}
}

// flagsParse runs `registrar <args> --help`: cobra parses every flag
// before it prints help, so an unknown flag fails here.
func flagsParse(t *testing.T, what string, args []string) {
	t.Helper()
	if code, out := runRegistrar(t, append(slices.Clone(args), "--help")...); code != 0 {
		t.Errorf("%s: registrar %v refused its arguments (exit %d):\n%s", what, args, code, out)
	}
}

func TestCronJobSyncRendersHardened(t *testing.T) {
	m := release{name: "registrar", namespace: "argocd", set: []string{"replicaCount=0", "cronJob.enabled=true", "cronJob.schedule=*/5 * * * *",
		"cronJob.extraArgs={--output=json}", "cronJob.successfulJobsHistoryLimit=1", "cronJob.failedJobsHistoryLimit=5"}}.template(t)
	cj := m.cronJob(t)
	s := cj.Spec
	if s.Schedule != "*/5 * * * *" || s.ConcurrencyPolicy != batchv1.ForbidConcurrent || ptr.Deref(s.SuccessfulJobsHistoryLimit, -1) != 1 ||
		ptr.Deref(s.FailedJobsHistoryLimit, -1) != 5 || ptr.Deref(s.JobTemplate.Spec.BackoffLimit, -1) != 0 {
		t.Errorf("CronJob spec = %+v", s)
	}
	pod := s.JobTemplate.Spec.Template
	assertOneShotPod(t, "CronJob", m, pod.Spec, pod.Labels)
	args := pod.Spec.Containers[0].Args
	for _, want := range []string{"sync", "--argocd-namespace=argocd", "--leader-election-namespace=argocd", "--leader-election-id=registrar-leader", "--token-ttl=24h"} {
		if !slices.Contains(args, want) {
			t.Errorf("CronJob args %v lack %s", args, want)
		}
	}
	if args[0] != "sync" || args[len(args)-1] != "--output=json" {
		t.Errorf("CronJob args = %v, want sync first and extraArgs last", args)
	}
	flagsParse(t, "CronJob sync", args)

	// plan beside the controller: read-only, so no Lease and no write flags.
	m = release{name: "registrar", namespace: "argocd", set: []string{"cronJob.enabled=true", "cronJob.command=plan"}}.template(t)
	args = m.cronJob(t).Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args
	if args[0] != "plan" || slices.ContainsFunc(args, func(a string) bool {
		return strings.HasPrefix(a, "--leader-election") || strings.HasPrefix(a, "--token-ttl")
	}) {
		t.Errorf("plan CronJob args = %v", args)
	}
	flagsParse(t, "CronJob plan", args)
	if *m.deployment(t).Spec.Replicas != 1 {
		t.Error("plan beside the controller: the Deployment is gone")
	}
}

func TestHelmTestPodRunsStatus(t *testing.T) {
	m := release{name: "registrar", namespace: "ops", set: []string{"argocdNamespace=gitops", "argocdNamespaces={argocd-staging,gitops}"}}.template(t)
	p := m.testPod(t)
	assertOneShotPod(t, "helm test Pod", m, p.Spec, p.Labels)
	args := p.Spec.Containers[0].Args
	if args[0] != "status" || !slices.Contains(args, "--argocd-namespace=gitops,argocd-staging") {
		t.Errorf("helm test args = %v, want status over every Argo CD namespace", args)
	}
	flagsParse(t, "helm test", args)
	m = release{name: "registrar", namespace: "ops", set: []string{"helmTest.enabled=false"}}.template(t)
	if m.kinds()["Pod"] != 0 {
		t.Error("helmTest.enabled=false still renders the test Pod")
	}
}

// The CronJob's sync and the helm test's status, run with their rendered
// arguments as the chart's ServiceAccount: the chart's RBAC suffices, the
// sync registers, and status then shows the registration.
func TestCronJobSyncAndHelmTestRunAsTheServiceAccount(t *testing.T) {
	id := fixture.RandomID()
	in := install(t, "replicaCount=0", "cronJob.enabled=true", "namespaceSelector=registrar-chart-test="+id)
	vcNS := "vc-" + in.id
	createNamespace(t, vcNS, map[string]string{"registrar-chart-test": id})
	in.newVCluster(vcNS, "sandbox")
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := fixture.WriteKubeconfig(cfg, kubeconfig, in.user()); err != nil {
		t.Fatal(err)
	}
	sync := in.m.cronJob(t).Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args
	if code, out := runRegistrar(t, append(slices.Clone(sync), "--kubeconfig", kubeconfig)...); code != 0 || !in.registered(vcNS, "sandbox") {
		t.Errorf("the CronJob's sync as %s: exit %d, registered %v; want 0 and the vcluster registered\n%s", in.user(), code, in.registered(vcNS, "sandbox"), out)
	}
	status := in.m.testPod(t).Spec.Containers[0].Args
	if code, out := runRegistrar(t, append(slices.Clone(status), "--kubeconfig", kubeconfig)...); code != 0 || !strings.Contains(out, vcNS+"/sandbox") {
		t.Errorf("the helm test's status as %s: exit %d, want 0 and the registration listed\n%s", in.user(), code, out)
	}
	// It can fail: a ServiceAccount that may not read the Argo CD
	// namespace gets one line saying so, and exit 2.
	other := filepath.Join(t.TempDir(), "kubeconfig")
	if err := fixture.WriteKubeconfig(cfg, other, "system:serviceaccount:"+in.ns+":nobody"); err != nil {
		t.Fatal(err)
	}
	if code, out := runRegistrar(t, append(slices.Clone(status), "--kubeconfig", other)...); code != 2 || !strings.Contains(out, "forbidden") {
		t.Errorf("the helm test's status without the chart's RBAC: exit %d, want 2 and forbidden named\n%s", code, out)
	}
}
