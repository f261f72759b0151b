package chart

import (
	"os"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/utils/ptr"
)

func TestLint(t *testing.T) {
	for _, set := range [][]string{
		nil,
		{"watchNamespaces={team-a,team-b}", "metrics.service.enabled=true", "serviceMonitor.enabled=true", "replicaCount=2",
			"argocdNamespaces={argocd,argocd-production}", "propagateNamespaceLabels={env}", "propagateAnnotations={example.com/slack}",
			"admissionGuard.enabled=true", "admissionGuard.allowedGroups={platform-admins}", "metrics.readerSubjects[0].kind=Group",
			"metrics.readerSubjects[0].name=monitoring"},
	} {
		args := []string{"lint", "--strict", chartDir}
		for _, s := range set {
			args = append(args, "--set", s)
		}
		if out, err := helmRun(args...); err != nil {
			t.Errorf("helm lint %v: %v\n%s", set, err, out)
		}
	}
}

// defaultArgs are the container's arguments (the controller subcommand and
// its flags) with the chart's defaults,
// installed as release "registrar" in namespace "argocd".
var defaultArgs = []string{
	"controller",
	"--argocd-namespace=argocd",
	"--leader-elect=true",
	"--leader-election-namespace=argocd",
	"--leader-election-id=registrar-leader",
	"--metrics-bind-address=:8443",
	"--metrics-secure=true",
	"--health-probe-bind-address=:8081",
	"--namespace-selector=",
	"--watch-namespaces=",
	"--cluster-name-template={{.Namespace}}-{{.Name}}",
	"--propagate-labels=",
	"--propagate-namespace-labels=",
	"--propagate-annotations=",
	"--kube-api-qps=-1",
	"--kube-api-burst=100",
	"--kube-api-compression=false",
	"--max-concurrent-reconciles=16",
	"--resync-period=10m",
	"--connection-check-interval=5m",
	"--connection-check-timeout=10s",
	"--connection-check-grace-period=1m",
	"--connection-check-concurrency=8",
	"--expiry-warning=168h",
	"--identity=admin",
	"--token-ttl=24h",
	"--zap-log-level=info",
	"--zap-encoder=json",
	"--zap-devel=false",
}

func TestDefaultsDeployHardenedRegistrar(t *testing.T) {
	m := release{name: "registrar", namespace: "argocd"}.template(t)
	if got, want := m.kinds(), map[string]int{
		"ServiceAccount": 1, "Deployment": 1, "Pod": 1, // the helm test
		// ClusterRoles: vclusters, events, namespaces, metrics-auth and
		// metrics-reader (bound to no one by default).
		"ClusterRole": 5, "ClusterRoleBinding": 4, "Role": 2, "RoleBinding": 2,
	}; !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("rendered kinds = %v, want %v", got, want)
	}
	d := m.deployment(t)
	if d.Name != "registrar" || d.Namespace != "argocd" || *d.Spec.Replicas != 1 {
		t.Errorf("Deployment %s/%s replicas %d", d.Namespace, d.Name, *d.Spec.Replicas)
	}
	c := m.container(t)
	if !slices.Equal(c.Args, defaultArgs) {
		t.Errorf("args =\n%s\nwant\n%s", strings.Join(c.Args, "\n"), strings.Join(defaultArgs, "\n"))
	}
	if want := "ghcr.io/registrar-dev/registrar:" + appVersion(t); c.Image != want {
		t.Errorf("image = %q, want %q (tag from appVersion)", c.Image, want)
	}
	if c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("pullPolicy = %q", c.ImagePullPolicy)
	}

	// Probes: on the probe port, the paths the binary serves.
	ports := containerPorts(c)
	if ports["probes"] != 8081 || ports["metrics"] != 8443 {
		t.Errorf("container ports = %v, want probes 8081 and metrics 8443", ports)
	}
	for probe, path := range map[*corev1.Probe]string{c.LivenessProbe: "/healthz", c.ReadinessProbe: "/readyz"} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != path || probe.HTTPGet.Port != intstr.FromString("probes") {
			t.Errorf("probe for %s = %+v", path, probe)
		}
	}

	// Hardened by default.
	sc := c.SecurityContext
	if sc == nil || !ptr.Deref(sc.RunAsNonRoot, false) || !ptr.Deref(sc.ReadOnlyRootFilesystem, false) ||
		ptr.Deref(sc.AllowPrivilegeEscalation, true) || sc.Capabilities == nil ||
		!slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 ||
		sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault ||
		ptr.Deref(sc.Privileged, false) {
		t.Errorf("container securityContext not hardened: %+v", sc)
	}
	pod := d.Spec.Template.Spec
	psc := pod.SecurityContext
	if psc == nil || !ptr.Deref(psc.RunAsNonRoot, false) || ptr.Deref(psc.RunAsUser, 0) == 0 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext not hardened: %+v", psc)
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC || len(pod.Volumes) != 0 {
		t.Errorf("pod uses host namespaces or volumes: %+v", pod)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources not set: %+v", c.Resources)
	}

	// The token is mounted into the registrar's pod only.
	if !ptr.Deref(pod.AutomountServiceAccountToken, false) || pod.ServiceAccountName != "registrar" {
		t.Errorf("pod: serviceAccountName %q, automount %v", pod.ServiceAccountName, pod.AutomountServiceAccountToken)
	}
	for _, o := range m.typed {
		if sa, ok := o.(*corev1.ServiceAccount); ok && ptr.Deref(sa.AutomountServiceAccountToken, true) {
			t.Errorf("ServiceAccount %s automounts its token into every pod", sa.Name)
		}
	}
}

// The exact RBAC of a cluster-wide install: every verb is one the
// registrar uses (see charts/registrar/README.md), and Secrets are
// writable in the Argo CD namespace only.
func TestDefaultRBACIsExact(t *testing.T) {
	m := release{name: "registrar", namespace: "ops", set: []string{"argocdNamespace=gitops"}}.template(t)
	want := map[string]grant{
		"ClusterRole/registrar-read-vclusters": {Rules: readVClusters},
		"ClusterRole/registrar-events":         {Rules: vclusterEvents},
		"ClusterRole/registrar-read-namespaces": {Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list", "watch"}},
		}},
		"Role/gitops/registrar-argocd-secrets": {Namespace: "gitops", Rules: argocdSecrets},
		"Role/ops/registrar-leader-election":   {Namespace: "ops", Rules: leaderElection("registrar-leader")},
		"ClusterRole/registrar-metrics-auth":   {Rules: metricsAuth},
	}
	assertGrants(t, m.grants(t, "registrar", "ops"), want)
}

var (
	readVClusters = []rbacv1.PolicyRule{
		{APIGroups: []string{"apps"}, Resources: []string{"statefulsets", "deployments"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"services", "secrets"}, Verbs: []string{"get", "list", "watch"}},
	}
	vclusterEvents = []rbacv1.PolicyRule{
		{APIGroups: []string{"events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	}
	argocdSecrets = []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list", "watch", "create", "patch", "delete"}},
	}
	// metricsAuth lets the HTTPS metrics endpoint have the API server
	// review each scrape's token and its right to get /metrics.
	metricsAuth = []rbacv1.PolicyRule{
		{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
		{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
	}
)

func leaderElection(id string) []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"create"}},
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, ResourceNames: []string{id}, Verbs: []string{"get", "update"}},
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	}
}

func assertGrants(t *testing.T, got, want map[string]grant) {
	t.Helper()
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("missing %s", name)
			continue
		}
		if !equality.Semantic.DeepEqual(g, w) {
			t.Errorf("%s grants\n%+v\nwant\n%+v", name, g, w)
		}
	}
	for name, g := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected %s: %+v", name, g)
		}
	}
}

// With argocdNamespaces, Secrets are readable and writable in each listed
// Argo CD namespace, through a Role there, and nowhere else.
func TestArgoCDNamespacesUseOneRoleEach(t *testing.T) {
	m := release{name: "registrar", namespace: "ops", set: []string{
		"argocdNamespace=argocd-production", "argocdNamespaces={argocd-staging,argocd-production}",
	}}.template(t)
	want := map[string]grant{
		"ClusterRole/registrar-read-vclusters": {Rules: readVClusters},
		"ClusterRole/registrar-events":         {Rules: vclusterEvents},
		"ClusterRole/registrar-read-namespaces": {Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list", "watch"}},
		}},
		"Role/argocd-staging/registrar-argocd-secrets":    {Namespace: "argocd-staging", Rules: argocdSecrets},
		"Role/argocd-production/registrar-argocd-secrets": {Namespace: "argocd-production", Rules: argocdSecrets},
		"Role/ops/registrar-leader-election":              {Namespace: "ops", Rules: leaderElection("registrar-leader")},
		"ClusterRole/registrar-metrics-auth":              {Rules: metricsAuth},
	}
	assertGrants(t, m.grants(t, "registrar", "ops"), want)
	args := m.container(t).Args
	// The default first, then the others in the order listed.
	if a := "--argocd-namespace=argocd-production,argocd-staging"; !slices.Contains(args, a) {
		t.Errorf("args %v lack %s", args, a)
	}
}

// With watchNamespaces, Secrets, workloads and Services are readable, and
// events writable, in those namespaces only; no ClusterRole but the one
// for Namespaces remains.
func TestWatchNamespacesUseRoles(t *testing.T) {
	m := release{name: "reg", namespace: "argocd", set: []string{"watchNamespaces={team-a,team-b}", "leaderElection.id=reg-lock"}}.template(t)
	want := map[string]grant{
		"ClusterRole/reg-registrar-read-namespaces": {Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list", "watch"}},
		}},
		"Role/argocd/reg-registrar-argocd-secrets":  {Namespace: "argocd", Rules: argocdSecrets},
		"Role/argocd/reg-registrar-leader-election": {Namespace: "argocd", Rules: leaderElection("reg-lock")},
		"ClusterRole/reg-registrar-metrics-auth":    {Rules: metricsAuth},
	}
	for _, ns := range []string{"team-a", "team-b"} {
		want["Role/"+ns+"/reg-registrar-read-vclusters"] = grant{Namespace: ns, Rules: readVClusters}
		want["Role/"+ns+"/reg-registrar-events"] = grant{Namespace: ns, Rules: vclusterEvents}
	}
	assertGrants(t, m.grants(t, "reg-registrar", "argocd"), want)
	if args := m.container(t).Args; !slices.Contains(args, "--watch-namespaces=team-a,team-b") {
		t.Errorf("args %v do not pass the namespaces", args)
	}
}

// Every value of the command-line contract reaches its flag, including
// strings YAML would otherwise mangle.
func TestValuesMapToFlags(t *testing.T) {
	m := release{name: "registrar", namespace: "platform", set: []string{
		"argocdNamespace=gitops",
		"argocdNamespaces={argocd-staging,gitops}",
		"leaderElection.enabled=false",
		"leaderElection.id=lock",
		"metrics.port=9090",
		"healthProbePort=9091",
		`namespaceSelector=tier in (gold\, silver)`,
		"watchNamespaces={a,b}",
		`clusterNameTemplate=vc: {{.Name}} # {{.Namespace}}`,
		"propagateLabels={env,example.com/team}",
		"propagateNamespaceLabels={team,example.com/cost-center}",
		"propagateAnnotations={example.com/slack}",
		"kubeAPI.qps=7.5",
		"kubeAPI.burst=15",
		"kubeAPI.compression=true",
		"maxConcurrentReconciles=8",
		"resyncPeriod=1h30m",
		"connectionCheck.interval=0",
		"connectionCheck.timeout=3s",
		"connectionCheck.gracePeriod=20s",
		"connectionCheck.concurrency=2",
		"expiryWarning=720h",
		"identity=serviceaccount",
		"tokenTTL=2h",
		"logging.level=debug",
		"logging.encoder=console",
		"logging.development=true",
		"image.repository=registry.example/registrar",
		"image.tag=v9",
		"image.pullPolicy=Always",
	}}.template(t)
	c := m.container(t)
	want := []string{
		"controller",
		"--argocd-namespace=gitops,argocd-staging",
		"--leader-elect=false",
		"--leader-election-namespace=platform",
		"--leader-election-id=lock",
		"--metrics-bind-address=:9090",
		"--metrics-secure=true",
		"--health-probe-bind-address=:9091",
		"--namespace-selector=tier in (gold, silver)",
		"--watch-namespaces=a,b",
		"--cluster-name-template=vc: {{.Name}} # {{.Namespace}}",
		"--propagate-labels=env,example.com/team",
		"--propagate-namespace-labels=team,example.com/cost-center",
		"--propagate-annotations=example.com/slack",
		"--kube-api-qps=7.5",
		"--kube-api-burst=15",
		"--kube-api-compression=true",
		"--max-concurrent-reconciles=8",
		"--resync-period=1h30m",
		"--connection-check-interval=0",
		"--connection-check-timeout=3s",
		"--connection-check-grace-period=20s",
		"--connection-check-concurrency=2",
		"--expiry-warning=720h",
		"--identity=serviceaccount",
		"--token-ttl=2h",
		"--zap-log-level=debug",
		"--zap-encoder=console",
		"--zap-devel=true",
	}
	if !slices.Equal(c.Args, want) {
		t.Errorf("args =\n%s\nwant\n%s", strings.Join(c.Args, "\n"), strings.Join(want, "\n"))
	}
	if c.Image != "registry.example/registrar:v9" || c.ImagePullPolicy != corev1.PullAlways {
		t.Errorf("image %q pullPolicy %q", c.Image, c.ImagePullPolicy)
	}
	ports := containerPorts(c)
	if ports["metrics"] != 9090 || ports["probes"] != 9091 {
		t.Errorf("ports = %v", ports)
	}
	// Without leader election there is no Lease to grant.
	if kinds := m.kinds(); kinds["Role"] != 6 {
		t.Errorf("Roles = %d, want 6 (2 per watched namespace, 1 per Argo CD namespace, none for leader election)", kinds["Role"])
	}
}

// containerPorts maps the names of c's ports to their numbers.
func containerPorts(c corev1.Container) map[string]int32 {
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	return ports
}

func TestLabelsAnnotationsAndScheduling(t *testing.T) {
	m := release{name: "registrar", namespace: "argocd", set: []string{
		"commonLabels.team=platform",
		"podLabels.example\\.com/tier=gold",
		"podAnnotations.example\\.com/note=hello",
		"nodeSelector.kubernetes\\.io/os=linux",
		"tolerations[0].key=dedicated",
		"tolerations[0].operator=Exists",
		"affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=zone",
		"affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists",
		"replicaCount=2",
		"priorityClassName=system-cluster-critical",
	}}.template(t)
	for _, u := range m.raw {
		if u.GetLabels()["team"] != "platform" {
			t.Errorf("%s %s lacks commonLabels", u.GetKind(), u.GetName())
		}
	}
	d := m.deployment(t)
	tmpl := d.Spec.Template
	if tmpl.Labels["example.com/tier"] != "gold" || tmpl.Labels["team"] != "platform" || tmpl.Annotations["example.com/note"] != "hello" {
		t.Errorf("pod metadata = %+v", tmpl.ObjectMeta)
	}
	for k, v := range d.Spec.Selector.MatchLabels {
		if tmpl.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod", k, v)
		}
	}
	if _, ok := d.Spec.Selector.MatchLabels["team"]; ok {
		t.Error("commonLabels leak into the immutable selector")
	}
	spec := tmpl.Spec
	if spec.NodeSelector["kubernetes.io/os"] != "linux" || len(spec.Tolerations) != 1 || spec.Tolerations[0].Key != "dedicated" ||
		spec.Affinity == nil || spec.Affinity.NodeAffinity == nil || spec.PriorityClassName != "system-cluster-critical" {
		t.Errorf("scheduling = nodeSelector %v, tolerations %v, affinity %v, priorityClassName %q",
			spec.NodeSelector, spec.Tolerations, spec.Affinity, spec.PriorityClassName)
	}
	if *d.Spec.Replicas != 2 || !slices.Contains(m.container(t).Args, "--leader-elect=true") {
		t.Errorf("replicas %d without leader election", *d.Spec.Replicas)
	}
}

func TestServiceMonitorSelectsMetricsService(t *testing.T) {
	m := release{name: "registrar", namespace: "argocd", set: []string{
		"metrics.service.enabled=true", "serviceMonitor.enabled=true",
		"serviceMonitor.labels.release=prometheus", "serviceMonitor.interval=15s",
	}}.template(t)
	var svc *corev1.Service
	for _, o := range m.typed {
		if s, ok := o.(*corev1.Service); ok {
			svc = s
		}
	}
	if svc == nil {
		t.Fatal("no metrics Service")
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "metrics" || svc.Spec.Ports[0].TargetPort != intstr.FromString("metrics") {
		t.Errorf("Service ports = %+v", svc.Spec.Ports)
	}
	pod := m.deployment(t).Spec.Template.Labels
	for k, v := range svc.Spec.Selector {
		if pod[k] != v {
			t.Errorf("Service selector %s=%s does not match the pod", k, v)
		}
	}
	var found bool
	for _, u := range m.raw {
		if u.GetKind() != "ServiceMonitor" {
			continue
		}
		found = true
		if u.GetAPIVersion() != "monitoring.coreos.com/v1" || u.GetLabels()["release"] != "prometheus" {
			t.Errorf("ServiceMonitor %s: %s, labels %v", u.GetName(), u.GetAPIVersion(), u.GetLabels())
		}
		sel, _, _ := unstructured.NestedStringMap(u.Object, "spec", "selector", "matchLabels")
		for k, v := range sel {
			if svc.Labels[k] != v {
				t.Errorf("ServiceMonitor selector %s=%v does not match the Service's labels %v", k, v, svc.Labels)
			}
		}
		eps, _, _ := unstructured.NestedSlice(u.Object, "spec", "endpoints")
		if len(eps) != 1 || eps[0].(map[string]any)["port"] != "metrics" || eps[0].(map[string]any)["interval"] != "15s" {
			t.Errorf("ServiceMonitor endpoints = %v", eps)
		}
		// HTTPS, with the scraper's own token for the registrar to review.
		ep := eps[0].(map[string]any)
		if ep["scheme"] != "https" || ep["bearerTokenFile"] != "/var/run/secrets/kubernetes.io/serviceaccount/token" || ep["tlsConfig"] == nil {
			t.Errorf("ServiceMonitor endpoint %v: want scheme https, the ServiceAccount token and a tlsConfig", ep)
		}
	}
	if !found {
		t.Error("no ServiceMonitor")
	}
}

// The schema and the chart's own checks refuse what would otherwise be
// silently ignored or break at run time.
func TestBadValuesAreRejected(t *testing.T) {
	for _, tc := range []struct {
		set  []string
		says string
	}{
		{[]string{"replicaCont=2"}, "replicaCont"},
		{[]string{"leaderElection.enbled=true"}, "enbled"},
		{[]string{"image.pullpolicy=Always"}, "pullpolicy"},
		{[]string{"replicaCount=two"}, "replicaCount"},
		{[]string{"leaderElection.enabled=yes"}, "enabled"},
		{[]string{"kubeAPI.burst=1.5"}, "burst"},
		{[]string{"kubeAPI.qps=fast"}, "qps"},
		{[]string{"kubeAPI.qps=0"}, "qps"},
		{[]string{"kubeAPI.qps=-2"}, "qps"},
		{[]string{"kubeAPI.compression=yes"}, "compression"},
		{[]string{"podLabels.inject=false"}, "podLabels"},
		{[]string{"image.pullPolicy=Sometimes"}, "pullPolicy"},
		{[]string{"logging.encoder=xml"}, "encoder"},
		{[]string{"watchNamespaces={Team_A}"}, "watchNamespaces"},
		{[]string{"propagateLabels=env"}, "propagateLabels"},
		{[]string{"propagateAnnotations={example.com/a,}"}, "propagateAnnotations"},
		{[]string{"argocdNamespaces={argocd,}"}, "argocdNamespaces"},
		{[]string{"argocdNamespaces={argocd,Argo_CD}"}, "argocdNamespaces"},
		{[]string{"argocdNamespaces={argocd,argocd}"}, "argocdNamespaces"},
		{[]string{"argocdNamespaces={argocd-staging,argocd-production}"}, "argocdNamespace (argocd) must be one of argocdNamespaces"},
		{[]string{"resyncPeriod=ten minutes"}, "resyncPeriod"},
		{[]string{"connectionCheck.interval=often"}, "interval"},
		{[]string{"connectionCheck.timeout=0s"}, "timeout"},
		{[]string{"connectionCheck.gracePeriod=0s"}, "gracePeriod"},
		{[]string{"connectionCheck.concurrency=0"}, "concurrency"},
		{[]string{"expiryWarning=7d"}, "expiryWarning"},
		{[]string{"prometheusRule.unreachableFor=15 minutes"}, "unreachableFor"},
		{[]string{"prometheusRule.enabld=true"}, "enabld"},
		{[]string{"grafanaDashboard.namespace=Monitoring"}, "namespace"},
		{[]string{"identity=token"}, "identity"},
		{[]string{"tokenTTL=a day"}, "tokenTTL"},
		{[]string{"metrics.port=0"}, "port"},
		{[]string{"replicaCount=2", "leaderElection.enabled=false"}, "leaderElection.enabled"},
		{[]string{"serviceMonitor.enabled=true"}, "metrics.service.enabled"},
		{[]string{"metrics.service.enabled=true", "metrics.secure=false"}, "metrics.service.enabled needs metrics.secure"},
		{[]string{"metrics.certSecret=tls", "metrics.secure=false"}, "metrics.certSecret needs metrics.secure"},
		{[]string{"metrics.readerSubjects[0].kind=Robot", "metrics.readerSubjects[0].name=x"}, "kind"},
		{[]string{"serviceAccount.create=false"}, "serviceAccount.name"},
		{[]string{"podDisruptionBudget.enabled=true"}, "podDisruptionBudget.enabled needs replicaCount 2 or more"},
		{[]string{"replicaCount=2", "podDisruptionBudget.enabled=true", "podDisruptionBudget.minAvailable=1", "podDisruptionBudget.maxUnavailable=1"}, "not both"},
		{[]string{"podDisruptionBudget.minAvailable=half"}, "minAvailable"},
		{[]string{"extraArgs={--identity=serviceaccount}"}, "extraArgs sets --identity, which the chart already sets from a value"},
		{[]string{"extraArgs={-v=2}"}, "extraArgs"},
		{[]string{"extraEnv[0].value=x"}, "name"},
		{[]string{"image.digest=latest"}, "digest"},
		{[]string{"revisionHistoryLimit=-1"}, "revisionHistoryLimit"},
		{[]string{"strategy.type=BlueGreen"}, "type"},
		{[]string{"serviceMonitor.scrapeTimeout=ten seconds"}, "scrapeTimeout"},
		{[]string{"topologySpreadConstraints[0].maxSkew=1"}, "topologyKey"},
		{[]string{"goMemLimit.value=400M"}, "value"},
		{[]string{"goMemLimit.ratio=1.5"}, "ratio"},
		{[]string{"extraEnv[0].name=GOMEMLIMIT", "extraEnv[0].value=1GiB"}, "extraEnv sets GOMEMLIMIT: set goMemLimit.value"},
		{[]string{"cronJob.enabled=true"}, "cronJob.command=sync needs replicaCount: 0"},
		{[]string{"cronJob.enabled=true", "replicaCount=0", "leaderElection.enabled=false"}, "cronJob.command=sync needs leaderElection.enabled"},
		{[]string{"cronJob.enabled=true", "cronJob.command=apply"}, "command"},
		{[]string{"cronJob.enabled=true", "cronJob.command=plan", "cronJob.concurrencyPolicy=Allow"}, "concurrencyPolicy"},
		{[]string{"cronJob.enabled=true", "cronJob.command=plan", "cronJob.extraArgs={--identity=serviceaccount}"}, "extraArgs sets --identity"},
		// Unknown root keys are still refused; global is the free-form place.
		{[]string{"extraArg={--zap-devel}"}, "extraArg"},
	} {
		_, err := helmRun(release{name: "registrar", namespace: "argocd", set: tc.set}.args("template")...)
		if err == nil {
			t.Errorf("helm template --set %v succeeded, want a refusal", tc.set)
			continue
		}
		if !strings.Contains(err.Error(), tc.says) {
			t.Errorf("helm template --set %v failed without naming %q: %v", tc.set, tc.says, err)
		}
	}
}

func appVersion(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(chartDir + "/Chart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var chart struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(raw, &chart); err != nil || chart.AppVersion == "" {
		t.Fatalf("Chart.yaml appVersion: %q, %v", chart.AppVersion, err)
	}
	return chart.AppVersion
}

// Chart.yaml carries what Artifact Hub and a platform team look for: the
// license of the LICENSE file, the image the chart deploys by default, the
// project's home and its own identity as maintainer.
func TestChartMetadata(t *testing.T) {
	raw, err := os.ReadFile(chartDir + "/Chart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var chart struct {
		Home        string            `json:"home"`
		KubeVersion string            `json:"kubeVersion"`
		Sources     []string          `json:"sources"`
		Maintainers []map[string]any  `json:"maintainers"`
		Annotations map[string]string `json:"annotations"`
	}
	if err := yaml.Unmarshal(raw, &chart); err != nil {
		t.Fatal(err)
	}
	const repo = "https://github.com/registrar-dev/registrar"
	if chart.Home != repo || !slices.Contains(chart.Sources, repo) || len(chart.Maintainers) == 0 || chart.KubeVersion != ">=1.25.0-0" {
		t.Errorf("Chart.yaml home %q, sources %v, maintainers %v, kubeVersion %q", chart.Home, chart.Sources, chart.Maintainers, chart.KubeVersion)
	}
	license, err := os.ReadFile("../../LICENSE")
	if err != nil || !strings.Contains(string(license), "Apache License") || !strings.Contains(string(license), "Version 2.0") ||
		chart.Annotations["artifacthub.io/license"] != "Apache-2.0" {
		t.Errorf("artifacthub.io/license %q does not match LICENSE (%v)", chart.Annotations["artifacthub.io/license"], err)
	}
	var images []struct{ Name, Image string }
	if err := yaml.Unmarshal([]byte(chart.Annotations["artifacthub.io/images"]), &images); err != nil || len(images) != 1 {
		t.Fatalf("artifacthub.io/images: %v, %v", images, err)
	}
	if want := "ghcr.io/registrar-dev/registrar:" + appVersion(t); images[0].Image != want {
		t.Errorf("artifacthub.io/images names %s, want %s (the default image)", images[0].Image, want)
	}
	for _, key := range []string{"artifacthub.io/links", "artifacthub.io/changes"} {
		var list []map[string]string
		if err := yaml.Unmarshal([]byte(chart.Annotations[key]), &list); err != nil || len(list) == 0 {
			t.Errorf("%s is no list: %v", key, err)
		}
	}
}
