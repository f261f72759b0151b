package chart

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/registrar-dev/registrar/test/fixture"
)

// TestReaderRoleSufficesForPlanAndStatus: a user holding only the chart's
// reader ClusterRole runs `registrar plan` and `registrar status` with
// nothing refused, and cannot make sync write.
func TestReaderRoleSufficesForPlanAndStatus(t *testing.T) {
	in := install(t, "rbac.readerRole=true")
	role := "r" + in.id + "-registrar-reader"
	var found bool
	for _, o := range in.m.objects() {
		found = found || (o.GetObjectKind().GroupVersionKind().Kind == "ClusterRole" && o.GetName() == role)
	}
	if !found {
		t.Fatalf("rbac.readerRole=true rendered no ClusterRole %s", role)
	}
	reader := "reader-" + in.id
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: reader},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: reader}}}
	if err := k8sClient.Create(context.Background(), binding); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), binding) })
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := fixture.WriteKubeconfig(cfg, kubeconfig, reader); err != nil {
		t.Fatal(err)
	}
	vcNS := "vc-" + in.id
	createNamespace(t, vcNS, map[string]string{"registrar-chart-test": in.id})
	in.newVCluster(vcNS, "sandbox")

	registrar := func(args ...string) (int, string) {
		return runRegistrar(t, append(args, "--kubeconfig", kubeconfig, "--argocd-namespace", in.argocd)...)
	}
	selector := "--namespace-selector=registrar-chart-test=" + in.id
	// One vcluster to register: changes pending.
	if code, out := registrar("plan", selector); code != 1 || strings.Contains(out, "forbidden") || !strings.Contains(out, vcNS+"/sandbox") {
		t.Errorf("plan as the reader: exit %d, want 1 (changes pending), nothing forbidden\n%s", code, out)
	}
	if code, out := registrar("status"); code != 0 || strings.Contains(out, "forbidden") {
		t.Errorf("status as the reader: exit %d, want 0, nothing forbidden\n%s", code, out)
	}
	if code, out := registrar("sync", "--force", selector); code == 0 || in.registered(vcNS, "sandbox") {
		t.Errorf("sync as the reader: exit %d and registered %v; want it refused, nothing written\n%s", code, in.registered(vcNS, "sandbox"), out)
	}
}

// TestSyncRefusesWhileTheChartsControllerLeads: the Lease that sync reads
// is the one the chart's controller holds, in the format controller-runtime
// writes; once the controller stops, it hands the Lease back and sync runs.
func TestSyncRefusesWhileTheChartsControllerLeads(t *testing.T) {
	in, vcNS := installRunning(t)
	in.newVCluster(vcNS, "sandbox")
	in.eventually("vcluster "+vcNS+"/sandbox is registered", func() bool { return in.registered(vcNS, "sandbox") })
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := fixture.WriteKubeconfig(cfg, kubeconfig, ""); err != nil {
		t.Fatal(err)
	}
	sync := func() (int, string) {
		return runRegistrar(t, "sync", "--kubeconfig", kubeconfig, "--argocd-namespace", in.argocd,
			"--leader-election-namespace", in.ns, "--namespace-selector=registrar-chart-test="+in.id)
	}
	if code, out := sync(); code != 2 || !strings.Contains(out, "a controller is running: ") || !strings.Contains(out, "holds Lease "+in.ns+"/registrar-leader") {
		t.Errorf("sync beside the chart's controller: exit %d, want 2 and the Lease's holder named\n%s", code, out)
	}
	in.stopRegistrar()
	if code, out := sync(); code != 0 || !strings.Contains(out, vcNS+"/sandbox") {
		t.Errorf("sync once the controller stopped: exit %d, want 0\n%s", code, out)
	}
}

// runRegistrar runs the registrar binary with args, for at most a minute,
// and returns its exit status and what it printed.
func runRegistrar(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, fixture.RegistrarBinary(t), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &exit) && ctx.Err() == nil:
		return exit.ExitCode(), out.String()
	}
	t.Fatalf("registrar %v: %v\n%s", args, err, out.String())
	return 0, ""
}
