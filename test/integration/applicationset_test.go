package integration

import (
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/argoproj/argo-cd/v3/applicationset/controllers/template"
	"github.com/argoproj/argo-cd/v3/applicationset/generators"
	"github.com/argoproj/argo-cd/v3/applicationset/utils"
	"github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	log "github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/registrar-dev/registrar/pkg/reconcile"
	"github.com/registrar-dev/registrar/test/fixture"
)

// applicationSetExample is the ApplicationSet of docs/multi-team.md, kept in one file.
const applicationSetExample = "../../docs/examples/applicationset-staging.yaml"

// Argo CD's own ApplicationSet code (the cluster generator and the
// template rendering its controller runs) turns the documented example and
// the Secrets the registrar wrote into Applications: exactly one per
// staging vcluster, aimed at its service URL, with the team label and the
// Slack channel propagated from the Namespace and the workload.
func TestApplicationSetDeploysToEveryStagingVCluster(t *testing.T) {
	raw, err := os.ReadFile(applicationSetExample)
	if err != nil {
		t.Fatal(err)
	}
	var appSet v1alpha1.ApplicationSet
	if err := yaml.UnmarshalStrict(raw, &appSet); err != nil {
		t.Fatalf("%s is not an ApplicationSet: %v", applicationSetExample, err)
	}

	// The flags the example's comment names.
	e := newEnv(t, func(o *reconcile.Options) {
		o.PropagateNamespaceLabels = []string{"env", "team"}
		o.PropagateAnnotations = []string{"example.com/slack-channel"}
	})
	team := func(prefix, env, name string) string {
		ns := e.createNamespace(prefix, true)
		obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
		e.update(obj, func() { obj.Labels["env"], obj.Labels["team"] = env, name })
		return ns
	}
	a, b, c := team("team-a", "staging", "a"), team("team-b", "staging", "b"), team("team-c", "production", "c")
	slack := func(channel string) fixture.Option {
		return fixture.Annotations(map[string]string{"example.com/slack-channel": channel})
	}
	type vcluster struct{ ns, name, team, channel string }
	staging := []vcluster{{a, "web", "a", "#team-a"}, {a, "api", "a", "#team-a-api"}, {b, "shop", "b", "#team-b"}}
	for _, v := range staging {
		e.newVCluster(v.ns, v.name, slack(v.channel))
	}
	e.newVCluster(c, "shop", slack("#team-c"))
	for _, v := range append(staging, vcluster{ns: c, name: "shop"}) {
		e.eventuallyRegistered(v.ns, v.name)
	}

	appSet.Namespace = e.argocd
	gens := map[string]generators.Generator{"Clusters": generators.NewClusterGenerator(k8sClient, e.argocd)}
	apps, reason, err := template.GenerateApplications(log.NewEntry(log.StandardLogger()), appSet, gens, &utils.Render{}, k8sClient)
	if err != nil {
		t.Fatalf("Argo CD's ApplicationSet rendering: %s: %v", reason, err)
	}

	byServer := map[string]v1alpha1.Application{}
	for _, app := range apps {
		byServer[app.Spec.Destination.Server] = app
	}
	if len(apps) != len(staging) || len(byServer) != len(staging) {
		var got []string
		for _, app := range apps {
			got = append(got, app.Name+" → "+app.Spec.Destination.Server)
		}
		t.Fatalf("%d Applications %v, want one per staging vcluster (%d)", len(apps), got, len(staging))
	}
	for _, v := range staging {
		server := "https://" + v.name + "." + v.ns + ".svc"
		app, ok := byServer[server]
		if !ok {
			t.Errorf("no Application for staging vcluster %s/%s at %s", v.ns, v.name, server)
			continue
		}
		if want := "guestbook-" + utils.SanitizeName(v.ns+"-"+v.name); app.Name != want {
			t.Errorf("Application %q, want %q", app.Name, want)
		}
		if app.Labels["team"] != v.team {
			t.Errorf("Application %s: team label %q, want %q from the Namespace", app.Name, app.Labels["team"], v.team)
		}
		if got := app.Annotations["notifications.argoproj.io/subscribe.on-sync-failed.slack"]; got != v.channel {
			t.Errorf("Application %s: Slack channel %q, want %q from the workload", app.Name, got, v.channel)
		}
		if app.Namespace != e.argocd || app.Spec.Destination.Namespace != "guestbook" {
			t.Errorf("Application %s/%s deploys to namespace %q", app.Namespace, app.Name, app.Spec.Destination.Namespace)
		}
	}
	if _, ok := byServer["https://shop."+c+".svc"]; ok {
		t.Error("the production vcluster was selected")
	}
}

// docs/multi-team.md shows the example file as it is.
func TestDocsShowTheApplicationSetExample(t *testing.T) {
	example, err := os.ReadFile(applicationSetExample)
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile("../../docs/multi-team.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- docs/examples/applicationset-staging.yaml -->\n```yaml\n(.*?)```").FindSubmatch(page)
	if m == nil {
		t.Fatal("docs/multi-team.md does not show docs/examples/applicationset-staging.yaml (a yaml block after its marker comment)")
	}
	if !slices.Equal(m[1], example) {
		t.Errorf("docs/multi-team.md's ApplicationSet differs from %s: copy the file into the page", applicationSetExample)
	}
}
