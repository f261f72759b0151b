package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/oneshot"
	"github.com/registrar-dev/registrar/pkg/reconcile"
	"github.com/registrar-dev/registrar/pkg/registration"
	"github.com/registrar-dev/registrar/pkg/vcluster"
	"github.com/registrar-dev/registrar/test/fixture"
)

// The tests of this file run `registrar sync` and `registrar plan`, as a
// CronJob or a platform engineer on a laptop would, and read its exit
// status.

// oneRun is what one `registrar sync` or `plan` printed, and its exit
// status.
type oneRun struct {
	stdout, stderr string
	code           int
}

// line returns the report line of vcluster ns/name, split in columns
// (VCLUSTER DECISION SECRET SERVER WHY...), or fails.
func (r oneRun) line(t *testing.T, ns, name string) []string {
	t.Helper()
	for _, l := range strings.Split(r.stdout, "\n") {
		if f := strings.Fields(l); len(f) >= 5 && f[0] == ns+"/"+name {
			return f
		}
	}
	t.Fatalf("no report line for %s/%s in\n%s\nstderr:\n%s", ns, name, r.stdout, r.stderr)
	return nil
}

// wantLine checks the decision, Secret and server of vcluster ns/name's
// line in the report of a run for Argo CD namespace argocd, and that its
// reason says why. server "-" says that no Secret is named either.
func (r oneRun) wantLine(t *testing.T, argocd, ns, name string, decision reconcile.Decision, server, why string) {
	t.Helper()
	f := r.line(t, ns, name)
	secret := "-"
	if server != "-" {
		secret = argocd + "/" + registration.SecretName(ns, name)
	}
	if f[1] != string(decision) || f[2] != secret || f[3] != server {
		t.Errorf("line %q: want %s %s %s", strings.Join(f, " "), decision, secret, server)
	}
	if reason := strings.Join(f[4:], " "); !strings.Contains(reason, why) {
		t.Errorf("%s/%s: reason %q does not say %q", ns, name, reason, why)
	}
}

// kubeconfigWithContexts writes a kubeconfig whose current context points
// at no API server and whose context "host" is the suite's, as a laptop's
// kubeconfig names several clusters; as, if set, is the user it acts as.
func kubeconfigWithContexts(t *testing.T, as string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	kc := clientcmdapi.Config{
		Clusters: map[string]*clientcmdapi.Cluster{
			"host":    {Server: cfg.Host, CertificateAuthorityData: cfg.CAData},
			"nowhere": {Server: "https://127.0.0.1:1"},
		},
		AuthInfos: map[string]*clientcmdapi.AuthInfo{
			"admin":    {ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Impersonate: as},
			"stranger": {Token: "not-a-token"},
		},
		Contexts: map[string]*clientcmdapi.Context{
			"host":     {Cluster: "host", AuthInfo: "admin"},
			"nowhere":  {Cluster: "nowhere", AuthInfo: "admin"},
			"stranger": {Cluster: "host", AuthInfo: "stranger"},
		},
		CurrentContext: "nowhere",
	}
	if err := clientcmd.WriteToFile(kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// sync runs `registrar sync` for this test's Argo CD namespace and
// trusted namespaces, with args, as the suite's admin.
func (e *env) sync(args ...string) oneRun {
	e.t.Helper()
	return e.runRegistrar("", "sync", args...)
}

// plan is sync's preview: `registrar plan`.
func (e *env) plan(args ...string) oneRun {
	e.t.Helper()
	return e.runRegistrar("", "plan", args...)
}

// runRegistrar runs `registrar command` for this test's Argo CD namespace
// as user (impersonated; "" is the admin).
func (e *env) runRegistrar(user, command string, args ...string) oneRun {
	e.t.Helper()
	// Build the binary before the minute the run is allowed starts.
	fixture.RegistrarBinary(e.t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base := []string{command, "--kubeconfig", kubeconfigWithContexts(e.t, user), "--context", "host", "--argocd-namespace", e.argocd}
	if command != "status" {
		// status reads registrations, whichever namespace their vcluster
		// is in.
		base = append(base, "--namespace-selector", testLabel+"="+e.id)
	}
	args = append(base, args...)
	cmd := exec.CommandContext(ctx, fixture.RegistrarBinary(e.t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	run := oneRun{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		run.code = exit.ExitCode()
	case err != nil:
		e.t.Fatalf("running registrar %v: %v\n%s", args, err, run.stderr)
	}
	if ctx.Err() != nil {
		e.t.Fatalf("registrar %v did not exit within a minute\n%s", args, run.stderr)
	}
	return run
}

func (r oneRun) wantCode(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
}

// workloadOf is the StatefulSet of vcluster ns/name, for its events.
func (e *env) workloadOf(ns, name string) client.Object {
	return &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

func TestSyncRegistersPrunesAndExitsWithTheRightStatus(t *testing.T) {
	e := newWorld(t)
	ns := e.createNamespace("vc", true)
	e.newVCluster(ns, "alpha")
	beta := e.newVCluster(ns, "beta")

	run := e.sync()
	run.wantCode(t, 0)
	server := func(name string) string { return "https://" + name + "." + ns + ".svc" }
	run.wantLine(t, e.argocd, ns, "alpha", reconcile.DecisionRegister, server("alpha"), "no registration yet")
	run.wantLine(t, e.argocd, ns, "beta", reconcile.DecisionRegister, server("beta"), "no registration yet")
	for _, name := range []string{"alpha", "beta"} {
		if s := e.registration(ns, name); s == nil || string(s.Data[registration.ArgoCDServerKey]) != server(name) {
			t.Fatalf("%s is not registered at %s after one pass: %v", name, server(name), s)
		}
	}

	// The pass reports on the workload as the controller does.
	e.eventuallyEvent(e.workloadOf(ns, "alpha"), api.ReasonRegistered)

	// A second pass finds nothing to do.
	e.sync().wantLine(t, e.argocd, ns, "alpha", reconcile.DecisionUnchanged, server("alpha"), "up to date")

	// A vcluster deleted since is pruned; one whose kubeconfig Secret is
	// broken makes the pass fail, naming it, and is left unregistered.
	if err := beta.Delete(context.Background(), k8sClient); err != nil {
		t.Fatal(err)
	}
	e.newVCluster(ns, "gamma")
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vc-gamma", Namespace: ns}}
	e.update(secret, func() { secret.Data[vcluster.KubeconfigKey] = []byte("apiVersion: v1\nclusters: [ {{{ not yaml") })

	run = e.sync()
	run.wantCode(t, 1)
	run.wantLine(t, e.argocd, ns, "beta", reconcile.DecisionDeregister, server("beta"), "was deleted")
	run.wantLine(t, e.argocd, ns, "gamma", reconcile.DecisionRefuse, "-", api.ReasonBadKubeconfig)
	if e.registration(ns, "beta") != nil {
		t.Error("the deleted vcluster's registration was not pruned")
	}
	if e.registration(ns, "gamma") != nil {
		t.Error("the vcluster with a broken kubeconfig was registered")
	}
	if !strings.Contains(run.stderr, "1 not in the desired state") || !strings.Contains(run.stderr, ns+"/gamma: refuse: "+api.ReasonBadKubeconfig) {
		t.Errorf("the summary does not name the vcluster in error:\n%s", run.stderr)
	}
	if strings.Contains(run.stdout+run.stderr, "{{{") {
		t.Error("the report quotes the kubeconfig Secret's content")
	}
}

// snapshot is everything a dry run must leave alone: every Secret and
// Event of the API server (by resource version) and every workload's
// annotations.
type snapshot struct {
	secrets, events, workloads map[string]string
}

func takeSnapshot(t *testing.T) snapshot {
	t.Helper()
	ctx := context.Background()
	s := snapshot{secrets: map[string]string{}, events: map[string]string{}, workloads: map[string]string{}}
	versions := func(into map[string]string, list client.ObjectList, items func() []client.Object) {
		if err := k8sClient.List(ctx, list); err != nil {
			t.Fatal(err)
		}
		for _, o := range items() {
			into[fmt.Sprintf("%T %s/%s", o, o.GetNamespace(), o.GetName())] = o.GetResourceVersion()
		}
	}
	var secrets corev1.SecretList
	versions(s.secrets, &secrets, func() []client.Object { return objects(secrets.Items) })
	var events eventsv1.EventList
	versions(s.events, &events, func() []client.Object { return objects(events.Items) })
	var coreEvents corev1.EventList
	versions(s.events, &coreEvents, func() []client.Object { return objects(coreEvents.Items) })
	var sts appsv1.StatefulSetList
	var deps appsv1.DeploymentList
	for _, list := range []client.ObjectList{&sts, &deps} {
		if err := k8sClient.List(ctx, list); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range append(objects(sts.Items), objects(deps.Items)...) {
		a := o.GetAnnotations()
		keys := slices.Sorted(maps.Keys(a))
		var kv []string
		for _, k := range keys {
			kv = append(kv, k+"="+a[k])
		}
		s.workloads[fmt.Sprintf("%T %s/%s", o, o.GetNamespace(), o.GetName())] = o.GetResourceVersion() + " " + strings.Join(kv, ",")
	}
	return s
}

func objects[T any, P interface {
	*T
	client.Object
}](items []T) []client.Object {
	out := make([]client.Object, len(items))
	for i := range items {
		out[i] = P(&items[i])
	}
	return out
}

func (s snapshot) wantSame(t *testing.T, after snapshot) {
	t.Helper()
	for what, pair := range map[string][2]map[string]string{
		"Secrets": {s.secrets, after.secrets}, "Events": {s.events, after.events}, "workloads": {s.workloads, after.workloads},
	} {
		before, now := pair[0], pair[1]
		for k, v := range now {
			if before[k] != v {
				t.Errorf("%s changed during the dry run: %s (%q, was %q)", what, k, v, before[k])
			}
		}
		for k := range before {
			if _, ok := now[k]; !ok {
				t.Errorf("%s changed during the dry run: %s was deleted", what, k)
			}
		}
	}
}

// mayOnlyRead grants user what a dry run reads, and nothing else: get,
// list and watch on vcluster workloads, Services, Secrets and Namespaces.
func (e *env) mayOnlyRead(user string) {
	e.t.Helper()
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "read-vclusters-" + e.id}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{"apps"}, Resources: []string{"statefulsets", "deployments"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"services", "secrets", "namespaces"}, Verbs: []string{"get", "list", "watch"}},
	}}
	e.create(role)
	e.create(&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: user}}})
}

// credentialShown says whether out holds PEM data pem, as it is or
// base64-encoded as Argo CD's config JSON holds it.
func credentialShown(out string, pem []byte) bool {
	lines := strings.Split(string(pem), "\n")
	if len(lines) < 2 {
		return false
	}
	return strings.Contains(out, lines[1]) || strings.Contains(out, base64.StdEncoding.EncodeToString(pem)[:40])
}

func TestPlanWritesNothingAndSaysWhatAPassWouldDo(t *testing.T) {
	e := newWorld(t)
	ns := e.createNamespace("vc", true)
	e.newVCluster(ns, "tidy")
	changed := e.newVCluster(ns, "changed")
	gone := e.newVCluster(ns, "gone")
	e.sync().wantCode(t, 0)
	registered := e.registration(ns, "changed")

	e.annotateWorkload(changed, map[string]string{api.ProjectAnnotation: "team-a"})
	if err := gone.Delete(context.Background(), k8sClient); err != nil {
		t.Fatal(err)
	}
	fresh := e.newVCluster(ns, "fresh")
	e.newVCluster(ns, "optout", fixture.Annotations(map[string]string{api.IgnoreAnnotation: "true"}))
	e.newVCluster(ns, "starting", fixture.NotReady())

	before := takeSnapshot(t)
	run := e.plan()
	after := takeSnapshot(t)
	before.wantSame(t, after)

	run.wantCode(t, oneshot.ExitChanges)
	t.Logf("registrar plan:\n%s%s", run.stdout, run.stderr)
	server := func(name string) string { return "https://" + name + "." + ns + ".svc" }
	run.wantLine(t, e.argocd, ns, "fresh", reconcile.DecisionRegister, server("fresh"), "no registration yet")
	run.wantLine(t, e.argocd, ns, "changed", reconcile.DecisionUpdate, server("changed"), "data project")
	run.wantLine(t, e.argocd, ns, "tidy", reconcile.DecisionUnchanged, server("tidy"), "up to date")
	run.wantLine(t, e.argocd, ns, "gone", reconcile.DecisionDeregister, server("gone"), "was deleted")
	run.wantLine(t, e.argocd, ns, "optout", reconcile.DecisionSkip, "-", api.IgnoreAnnotation+"=true")
	run.wantLine(t, e.argocd, ns, "starting", reconcile.DecisionSkip, "-", "no ready replica")
	if !strings.Contains(run.stderr, "dry run (nothing written)") {
		t.Errorf("the summary does not say nothing was written:\n%s", run.stderr)
	}
	if s := e.registration(ns, "changed"); s.ResourceVersion != registered.ResourceVersion {
		t.Error("the dry run rewrote a registration")
	}

	// A platform engineer who may only read runs the same dry run: it
	// needs no write permission, because it attempts no write.
	viewer := "viewer-" + e.id
	e.mayOnlyRead(viewer)
	asViewer := e.runRegistrar(viewer, "plan")
	before.wantSame(t, takeSnapshot(t))
	asViewer.wantCode(t, oneshot.ExitChanges)
	if asViewer.stdout != run.stdout {
		t.Errorf("the read-only dry run reports\n%s\nthe admin's\n%s", asViewer.stdout, run.stdout)
	}
	if strings.Contains(asViewer.stderr, "forbidden") {
		t.Errorf("the read-only dry run was refused something:\n%s", asViewer.stderr)
	}

	// -o yaml prints the Secrets the pass would write, credentials
	// redacted; the run still writes nothing.
	run = e.plan("-o", "yaml")
	before.wantSame(t, takeSnapshot(t))
	run.wantCode(t, oneshot.ExitChanges)
	var list corev1.List
	if err := yaml.Unmarshal([]byte(run.stdout), &list); err != nil {
		t.Fatalf("-o yaml printed no List: %v\n%s", err, run.stdout)
	}
	var names []string
	for _, item := range list.Items {
		var s corev1.Secret
		if err := yaml.Unmarshal(item.Raw, &s); err != nil {
			t.Fatal(err)
		}
		names = append(names, s.Name)
		if s.StringData[registration.ArgoCDServerKey] == "" || !strings.Contains(s.StringData[registration.ArgoCDConfigKey], oneshot.Redacted) {
			t.Errorf("Secret %s: server %q, config %q: want the server shown and the credentials redacted",
				s.Name, s.StringData[registration.ArgoCDServerKey], s.StringData[registration.ArgoCDConfigKey])
		}
	}
	slices.Sort(names)
	if want := []string{registration.SecretName(ns, "changed"), registration.SecretName(ns, "fresh")}; !slices.Equal(names, want) {
		t.Errorf("-o yaml printed Secrets %v, want %v (the register and the update)", names, want)
	}
	kubeconfig := e.kubeconfigSecret(fresh)
	for _, key := range []string{vcluster.CertificateAuthorityKey, vcluster.ClientCertificateKey, vcluster.ClientKeyKey} {
		if credentialShown(run.stdout, kubeconfig.Data[key]) {
			t.Errorf("-o yaml shows the %s of a kubeconfig Secret", key)
		}
	}

	// A vcluster in error makes the dry run exit 2, as kubectl diff does.
	broken := e.newVCluster(ns, "broken")
	secret := e.kubeconfigSecret(broken)
	e.update(secret, func() { secret.Data[vcluster.KubeconfigKey] = []byte("not a kubeconfig") })
	run = e.plan()
	run.wantCode(t, oneshot.ExitFailed)
	run.wantLine(t, e.argocd, ns, "broken", reconcile.DecisionRefuse, "-", api.ReasonBadKubeconfig)

	// Once applied, a dry run has nothing left to do but the refusal.
	e.sync().wantCode(t, 1)
	run = e.plan()
	run.wantLine(t, e.argocd, ns, "changed", reconcile.DecisionUnchanged, server("changed"), "up to date")
	run.wantLine(t, e.argocd, ns, "fresh", reconcile.DecisionUnchanged, server("fresh"), "up to date")
	if strings.Contains(run.stdout, ns+"/gone") {
		t.Errorf("the pruned vcluster is still reported:\n%s", run.stdout)
	}
}

// TestSyncRefusesWhileAControllerLeads: sync and a running controller
// would race over the same Secrets, so sync refuses, saying who holds the
// leader election Lease, unless --force; a lease left to expire holds
// nothing.
func TestSyncRefusesWhileAControllerLeads(t *testing.T) {
	e := newWorld(t)
	ns := e.createNamespace("vc", true)
	e.newVCluster(ns, "alpha")
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: e.argocd, Name: "registrar-leader"},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To("registrar-7d9f-abcde"),
			LeaseDurationSeconds: ptr.To(int32(60)),
			RenewTime:            ptr.To(metav1.NewMicroTime(time.Now())),
		},
	}
	if err := k8sClient.Create(context.Background(), lease); err != nil {
		t.Fatal(err)
	}

	run := e.sync()
	run.wantCode(t, 2)
	if want := "a controller is running: registrar-7d9f-abcde holds Lease " + e.argocd + "/registrar-leader"; !strings.Contains(run.stderr, want) || !strings.Contains(run.stderr, "--force") {
		t.Errorf("sync said %q; want it to say %q and how to go on (--force)", run.stderr, want)
	}
	e.neverRegistered(ns, "alpha")

	e.sync("--force").wantCode(t, 0)
	if e.registration(ns, "alpha") == nil {
		t.Error("sync --force did not register alpha")
	}

	// The holder stopped renewing a minute ago: the lease has expired.
	e.update(lease, func() { lease.Spec.RenewTime = ptr.To(metav1.NewMicroTime(time.Now().Add(-61 * time.Second))) })
	e.sync().wantCode(t, 0)
}

// TestPlanSaysWhatIsWrongWithTheCluster: an API server that cannot be
// reached, refuses the credentials or forbids a read is a configuration
// error: exit 2 and one line saying what to do, at once, not a hang while
// informers retry nor a stack of library errors.
func TestPlanSaysWhatIsWrongWithTheCluster(t *testing.T) {
	e := newWorld(t)
	ns := e.createNamespace("vc", true)
	e.newVCluster(ns, "alpha")
	for _, tc := range []struct {
		name, user string
		args       []string
		says       []string
	}{
		{"no read access", "nobody-" + e.id, nil,
			[]string{`User "nobody-` + e.id + `" cannot list resource`, "this command needs get, list and watch on statefulsets"}},
		{"bad credentials", "", []string{"--context", "stranger"},
			[]string{"refused the kubeconfig's credentials (401 Unauthorized); log in again, or pick another --context"}},
		{"no API server", "", []string{"--context", "nowhere"},
			[]string{"cannot list namespaces at the API server https://127.0.0.1:1", "check --context and that the cluster is up"}},
	} {
		for _, command := range []string{"plan", "sync"} {
			run := e.runRegistrar(tc.user, command, tc.args...)
			run.wantCode(t, 2)
			for _, want := range tc.says {
				if !strings.Contains(run.stderr, want) {
					t.Errorf("%s, %s said %q; want it to say %q", tc.name, command, run.stderr, want)
				}
			}
			if lines := strings.Count(run.stderr, "\n"); lines != 1 {
				t.Errorf("%s, %s printed %d lines on stderr, want one:\n%s", tc.name, command, lines, run.stderr)
			}
		}
	}
	e.neverRegistered(ns, "alpha")
}
