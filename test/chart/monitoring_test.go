package chart

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/registrar-dev/registrar/test/fixture"
)

// monitoring renders the chart with its alerts and dashboard, as release
// "registrar" in namespace "argocd" (the names testdata/alerts expects).
func monitoring(t *testing.T) *manifests {
	t.Helper()
	return release{name: "registrar", namespace: "argocd", set: []string{
		"metrics.service.enabled=true", "serviceMonitor.enabled=true",
		"prometheusRule.enabled=true", "grafanaDashboard.enabled=true",
	}}.template(t)
}

// ruleGroups returns the rendered PrometheusRule's spec, which is a
// Prometheus rule file.
func (m *manifests) ruleGroups(t *testing.T) []byte {
	t.Helper()
	for _, u := range m.raw {
		if u.GetKind() != "PrometheusRule" {
			continue
		}
		spec, _, err := unstructured.NestedMap(u.Object, "spec")
		if err != nil {
			t.Fatal(err)
		}
		out, err := yaml.Marshal(spec)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	t.Fatal("no PrometheusRule rendered")
	return nil
}

// dashboardJSON returns the dashboard the rendered ConfigMap holds.
func (m *manifests) dashboardJSON(t *testing.T) (*corev1.ConfigMap, []byte) {
	t.Helper()
	for _, o := range m.typed {
		if cm, ok := o.(*corev1.ConfigMap); ok && cm.Data["registrar.json"] != "" {
			return cm, []byte(cm.Data["registrar.json"])
		}
	}
	t.Fatal("no dashboard ConfigMap rendered")
	return nil, nil
}

// The alerts are checked by Prometheus's own promtool: the rule file
// parses and every expression is valid PromQL (check rules), and each
// alert fires on series shaped as the registrar exports them, with the
// texts testdata/alerts expects, and stays quiet otherwise (test rules).
func TestAlertsPassPromtool(t *testing.T) {
	promtool := os.Getenv("PROMTOOL")
	if promtool == "" {
		t.Fatal("PROMTOOL is not set: run `make chart-test` (it builds promtool from the module proxy) or point PROMTOOL at a promtool binary")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), monitoring(t).ruleGroups(t), 0o600); err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile("testdata/alerts/alerts_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alerts_test.yaml"), tests, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"check", "rules", "rules.yaml"}, {"test", "rules", "alerts_test.yaml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// The dashboard is read by Grafana's own schema (the Grafana Foundation
// SDK's generated types, strictly: an unknown or misplaced field fails),
// and every panel says what it shows and queries the chosen data source
// and job.
func TestDashboardParsesAsGrafanaDashboard(t *testing.T) {
	cm, raw := monitoring(t).dashboardJSON(t)
	if cm.Labels["grafana_dashboard"] != "1" || cm.Namespace != "argocd" {
		t.Errorf("dashboard ConfigMap %s/%s labels %v: the Grafana sidecar would not load it", cm.Namespace, cm.Name, cm.Labels)
	}
	plugins.RegisterDefaultPlugins()
	// The classic JSON model, which Grafana's file provisioning (and so
	// the sidecar) loads; dashboardv2 is the schema of Grafana 12's new
	// dashboards API, not of provisioned files.
	var d dashboard.Dashboard //nolint:staticcheck // see above
	// UnmarshalJSONStrict returns a typed nil on success.
	if err := d.UnmarshalJSONStrict(raw); err != nil && err.Error() != "" {
		t.Fatalf("Grafana's dashboard schema refuses the dashboard: %v", err)
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("Grafana's dashboard schema: %v", err)
	}
	if d.Uid == nil || *d.Uid != "registrar" || len(d.Panels) < 10 {
		t.Fatalf("dashboard uid %v with %d panels", d.Uid, len(d.Panels))
	}
	var generic struct {
		Panels []struct {
			Title, Description string
			Datasource         struct{ UID string }
			Targets            []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	for _, p := range generic.Panels {
		if p.Description == "" || p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: description %q, data source %q, %d queries", p.Title, p.Description, p.Datasource.UID, len(p.Targets))
		}
		for _, q := range p.Targets {
			if !strings.Contains(q.Expr, `job=~"$job"`) {
				t.Errorf("panel %q queries %s, which ignores the job chosen", p.Title, q.Expr)
			}
		}
	}
}

// metricName finds the registrar's, controller-runtime's and client-go's
// work queue metric names in PromQL.
var metricName = regexp.MustCompile(`\b(registrar|controller_runtime|workqueue)_[a-z_]+\b`)

// Every metric an alert or a panel uses is one the registrar binary
// serves, scraped from it after it registered a vcluster; and every metric
// of the registrar's own is on the dashboard.
func TestAlertsAndDashboardUseExportedMetrics(t *testing.T) {
	m := monitoring(t)
	_, raw := m.dashboardJSON(t)
	used := map[string][]string{}
	for _, n := range metricName.FindAllString(string(m.ruleGroups(t)), -1) {
		used[n] = append(used[n], "alerts")
	}
	for _, n := range metricName.FindAllString(string(raw), -1) {
		used[n] = append(used[n], "dashboard")
	}
	if len(used) < 8 {
		t.Fatalf("found only %v in the alerts and dashboard: is the name pattern right?", used)
	}

	// The stand-in's service name does not resolve here: the probe records
	// a failure, which is what makes the per-vcluster series appear, once
	// the grace period of a new registration is over (Pending has none).
	in, vcNS := installRunning(t, "connectionCheck.gracePeriod=1s")
	in.newVCluster(vcNS, "sandbox")
	in.eventually("vcluster "+vcNS+"/sandbox is registered", func() bool { return in.registered(vcNS, "sandbox") })
	var scraped fixture.Metrics
	in.eventually("the registrar exports the vcluster's connection state", func() bool {
		var err error
		scraped, err = in.registrar.Metrics()
		_, ok := scraped["registrar_cluster_connected{name=sandbox}"]
		return err == nil && ok
	})
	exported := func(name string) bool {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
		_, plain := scraped[name]
		_, histogram := scraped[base+"_count"]
		return plain || histogram
	}
	var missing []string
	for n, where := range used {
		if !exported(n) {
			missing = append(missing, n+" ("+strings.Join(slices.Compact(where), ", ")+")")
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("used but not exported by the registrar: %v", missing)
	}
	for n := range scraped {
		if strings.HasPrefix(n, "registrar_") && !strings.Contains(n, "{") && !strings.Contains(string(raw), strings.TrimSuffix(strings.TrimSuffix(n, "_sum"), "_count")) {
			t.Errorf("the registrar exports %s, which the dashboard does not show", n)
		}
	}
}
