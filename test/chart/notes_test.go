package chart

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/registrar-dev/registrar/test/fixture"
)

// notes renders NOTES.txt as `helm install` prints it (a client-side dry
// run, against the test API server for the cluster's version).
func notes(t *testing.T, set ...string) string {
	t.Helper()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := fixture.WriteKubeconfig(cfg, kubeconfig, ""); err != nil {
		t.Fatal(err)
	}
	out, err := helmRun(release{name: "reg", namespace: "ops", set: set}.args("install", "--dry-run=client", "--kubeconfig", kubeconfig)...)
	if err != nil {
		t.Fatalf("helm install --dry-run %v: %v", set, err)
	}
	_, n, ok := strings.Cut(out, "\nNOTES:\n")
	if !ok {
		t.Fatalf("helm install --dry-run %v printed no NOTES:\n%s", set, out)
	}
	return n
}

// NOTES.txt says what runs in each mode, names every Argo CD namespace,
// and points at registrar status.
func TestNotesForEveryMode(t *testing.T) {
	for _, tc := range []struct {
		name       string
		set        []string
		say, never []string
	}{
		{"controller", nil,
			[]string{"The registrar controller (1 replica) watches every namespace", "registrar status --argocd-namespace argocd", "helm test reg -n ops --logs"},
			[]string{"CronJob", "No controller"}},
		{"several Argo CDs, namespaced, plan CronJob beside the controller",
			[]string{"argocdNamespaces={argocd,argocd-prod}", "watchNamespaces={team-a,team-b}", "cronJob.enabled=true", "cronJob.command=plan", "replicaCount=2"},
			[]string{"(2 replicas, one leader) watches namespaces team-a, team-b", "or in argocd-prod for a vcluster", "registrar status --argocd-namespace argocd,argocd-prod",
				"kubectl get secrets -n argocd-prod", "CronJob reg-registrar-plan runs `registrar plan` (read-only)", "--watch-namespaces team-a,team-b"},
			[]string{"No controller"}},
		{"CronJob only", []string{"replicaCount=0", "cronJob.enabled=true"},
			[]string{"No controller runs (replicaCount 0): CronJob reg-registrar-sync runs `registrar sync`", "kubectl create job -n ops --from=cronjob/reg-registrar-sync", "registrar status"},
			[]string{"The registrar controller"}},
		{"nothing runs", []string{"replicaCount=0"},
			[]string{"nothing is registered until you"},
			[]string{"The registrar controller"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := notes(t, tc.set...)
			for _, s := range tc.say {
				if !strings.Contains(n, s) {
					t.Errorf("NOTES lack %q:\n%s", s, n)
				}
			}
			for _, s := range tc.never {
				if strings.Contains(n, s) {
					t.Errorf("NOTES say %q:\n%s", s, n)
				}
			}
		})
	}
}
