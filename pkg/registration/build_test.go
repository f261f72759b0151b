package registration

import (
	"strings"
	"testing"
	"text/template"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/vcluster"
	"github.com/registrar-dev/registrar/test/fixture"
)

// sources returns the objects of a healthy vcluster "sandbox" in namespace
// "vcluster-sandbox", as vcluster writes them.
func sources(t testing.TB) (Sources, *fixture.VCluster) {
	t.Helper()
	vc, secret := fixture.Sandbox(t)
	sts := vc.StatefulSet()
	sts.UID = "uid-1"
	return Sources{Workload: sts, Kind: "StatefulSet", Service: vc.Service(), KubeconfigSecret: secret}, vc
}

var opts = BuildOptions{ArgoCDNamespace: "argocd"}

func decodeConfig(t *testing.T, s *corev1.Secret) ClusterConfig {
	t.Helper()
	c, err := ConfigOf(s)
	if err != nil {
		t.Fatalf("config is not JSON: %v", err)
	}
	return c
}

func TestBuildRegistersAtServiceURLWithVerifiedTLS(t *testing.T) {
	src, vc := sources(t)
	s, err := Build(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(s.Data[ArgoCDServerKey]), "https://sandbox.vcluster-sandbox.svc"; got != want {
		t.Errorf("server = %q, want %q (never the kubeconfig's https://localhost:8443)", got, want)
	}
	if got := string(s.Data[ArgoCDNameKey]); got != "vcluster-sandbox-sandbox" {
		t.Errorf("name = %q", got)
	}
	c := decodeConfig(t, s)
	if c.TLSClientConfig.Insecure {
		t.Error("insecure must never be set")
	}
	if got := c.TLSClientConfig.ServerName; got != "sandbox.vcluster-sandbox" {
		t.Errorf("serverName = %q, want a SAN vcluster puts in its certificate", got)
	}
	if string(c.TLSClientConfig.CAData) != string(vc.PKI.CACert) ||
		string(c.TLSClientConfig.CertData) != string(vc.PKI.ClientCert) ||
		string(c.TLSClientConfig.KeyData) != string(vc.PKI.ClientKey) {
		t.Error("credentials are not the kubeconfig's")
	}
	if c.BearerToken != "" {
		t.Error("bearerToken set although a client certificate is present")
	}
	if s.Namespace != "argocd" || s.Name != SecretName("vcluster-sandbox", "sandbox") {
		t.Errorf("secret at %s/%s", s.Namespace, s.Name)
	}
	wantLabels := map[string]string{
		ArgoCDSecretTypeLabel: ArgoCDSecretTypeValue, api.ManagedByLabel: api.ManagedByValue,
		api.SourceNamespaceLabel: "vcluster-sandbox", api.SourceNameLabel: "sandbox",
	}
	for k, v := range wantLabels {
		if s.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, s.Labels[k], v)
		}
	}
	if s.Annotations[api.SourceUIDAnnotation] != "uid-1" || s.Annotations[api.SourceKindAnnotation] != "StatefulSet" ||
		s.Annotations[api.KubeconfigSecretAnnotation] != "vc-sandbox" || s.Annotations[api.ContentHashAnnotation] == "" {
		t.Errorf("annotations = %v", s.Annotations)
	}
}

func TestBuildShapes(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Sources)
		opts   BuildOptions
		check  func(t *testing.T, s *corev1.Secret)
	}{{
		name: "deployment workload",
		modify: func(src *Sources) {
			src.Workload = &appsv1.Deployment{ObjectMeta: *src.Workload.(*appsv1.StatefulSet).ObjectMeta.DeepCopy()}
			src.Kind = "Deployment"
		},
		check: func(t *testing.T, s *corev1.Secret) {
			if s.Annotations[api.SourceKindAnnotation] != "Deployment" {
				t.Errorf("kind annotation %q", s.Annotations[api.SourceKindAnnotation])
			}
		},
	}, {
		// A kubeconfig without current-context but a single context means
		// that context, as kubectl reads it.
		name: "no current-context, one context",
		modify: func(src *Sources) {
			kc := string(src.KubeconfigSecret.Data[vcluster.KubeconfigKey])
			src.KubeconfigSecret.Data[vcluster.KubeconfigKey] = []byte(strings.Replace(kc, "current-context: vcluster_sandbox_vcluster-sandbox", "", 1))
		},
		check: wantServer("https://sandbox.vcluster-sandbox.svc"),
	}, {
		name:   "port other than 443 is written out",
		modify: func(src *Sources) { src.Service.Spec.Ports[0].Port = 8443 },
		check:  wantServer("https://sandbox.vcluster-sandbox.svc:8443"),
	}, {
		name: "port named https wins over others",
		modify: func(src *Sources) {
			src.Service.Spec.Ports = []corev1.ServicePort{{Name: "kubelet", Port: 10250}, {Name: "https", Port: 9443}}
		},
		check: wantServer("https://sandbox.vcluster-sandbox.svc:9443"),
	}, {
		name: "token instead of a client certificate",
		modify: func(src *Sources) {
			delete(src.KubeconfigSecret.Data, vcluster.KubeconfigKey)
			delete(src.KubeconfigSecret.Data, vcluster.ClientCertificateKey)
			delete(src.KubeconfigSecret.Data, vcluster.ClientKeyKey)
			src.KubeconfigSecret.Data[vcluster.TokenKey] = []byte("sa-token")
		},
		check: func(t *testing.T, s *corev1.Secret) {
			c := decodeConfig(t, s)
			if c.BearerToken != "sa-token" || len(c.TLSClientConfig.CertData) != 0 || len(c.TLSClientConfig.CAData) == 0 {
				t.Errorf("want bearer token with CA, got token=%t cert=%t", c.BearerToken != "", len(c.TLSClientConfig.CertData) > 0)
			}
		},
	}, {
		name:   "separate keys without a kubeconfig",
		modify: func(src *Sources) { delete(src.KubeconfigSecret.Data, vcluster.KubeconfigKey) },
		check: func(t *testing.T, s *corev1.Secret) {
			if c := decodeConfig(t, s); len(c.TLSClientConfig.CertData) == 0 || len(c.TLSClientConfig.KeyData) == 0 {
				t.Error("client certificate not taken from the separate keys")
			}
		},
	}, {
		name: "annotations set name, project, namespaces, cluster resources, server name",
		modify: func(src *Sources) {
			src.Workload.SetAnnotations(map[string]string{
				api.ClusterNameAnnotation: "sandbox", api.ProjectAnnotation: "team-a",
				api.NamespacesAnnotation: " apps, web ,", api.ClusterResourcesAnnotation: "True",
				api.TLSServerNameAnnotation: "sandbox.example.com",
			})
		},
		check: func(t *testing.T, s *corev1.Secret) {
			want := map[string]string{ArgoCDNameKey: "sandbox", ArgoCDProjectKey: "team-a",
				ArgoCDNamespacesKey: "apps,web", ArgoCDClusterResources: "true"}
			for k, v := range want {
				if string(s.Data[k]) != v {
					t.Errorf("%s = %q, want %q", k, s.Data[k], v)
				}
			}
			if got := decodeConfig(t, s).TLSClientConfig.ServerName; got != "sandbox.example.com" {
				t.Errorf("serverName = %q", got)
			}
		},
	}, {
		name: "propagated labels are copied but cannot override ours",
		modify: func(src *Sources) {
			l := src.Workload.GetLabels()
			l["env"] = "staging"
			l["team"] = "a"
			l[api.ManagedByLabel] = "someone-else"
		},
		opts: BuildOptions{ArgoCDNamespace: "argocd", PropagateLabels: []string{"env", "missing", api.ManagedByLabel}},
		check: func(t *testing.T, s *corev1.Secret) {
			if s.Labels["env"] != "staging" || s.Labels[api.ManagedByLabel] != api.ManagedByValue {
				t.Errorf("labels = %v", s.Labels)
			}
			if _, ok := s.Labels["team"]; ok {
				t.Error("a label not listed was propagated")
			}
			if _, ok := s.Labels["missing"]; ok {
				t.Error("an absent label was invented")
			}
		},
	}, {
		name: "name template",
		opts: BuildOptions{ArgoCDNamespace: "argocd",
			ClusterName: template.Must(template.New("n").Parse("vc/{{.Name}}@{{.Namespace}}"))},
		check: func(t *testing.T, s *corev1.Secret) {
			if got := string(s.Data[ArgoCDNameKey]); got != "vc/sandbox@vcluster-sandbox" {
				t.Errorf("name = %q", got)
			}
		},
	}, {
		name: "last-applied-configuration is never copied",
		modify: func(src *Sources) {
			src.Workload.SetAnnotations(map[string]string{corev1.LastAppliedConfigAnnotation: "{}"})
			src.KubeconfigSecret.Annotations = map[string]string{corev1.LastAppliedConfigAnnotation: "{}"}
		},
		check: func(t *testing.T, s *corev1.Secret) {
			if _, ok := s.Annotations[corev1.LastAppliedConfigAnnotation]; ok {
				t.Error("last-applied-configuration copied")
			}
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, _ := sources(t)
			if tc.modify != nil {
				tc.modify(&src)
			}
			o := tc.opts
			if o.ArgoCDNamespace == "" {
				o = opts
			}
			s, err := Build(src, o)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}

func wantServer(want string) func(*testing.T, *corev1.Secret) {
	return func(t *testing.T, s *corev1.Secret) {
		t.Helper()
		if got := string(s.Data[ArgoCDServerKey]); got != want {
			t.Errorf("server = %q, want %q", got, want)
		}
	}
}

func TestBuildRejectsBadInput(t *testing.T) {
	kubeconfigWith := func(edit func(vc *fixture.VCluster) []byte) func(*Sources, *fixture.VCluster) {
		return func(src *Sources, vc *fixture.VCluster) { src.KubeconfigSecret.Data[vcluster.KubeconfigKey] = edit(vc) }
	}
	tests := []struct {
		name       string
		modify     func(*Sources, *fixture.VCluster)
		reason     string
		mentioning string
	}{
		{"missing Service", func(s *Sources, _ *fixture.VCluster) { s.Service = nil }, api.ReasonServiceMissing, "Service vcluster-sandbox/sandbox"},
		{"missing kubeconfig Secret", func(s *Sources, _ *fixture.VCluster) { s.KubeconfigSecret = nil }, api.ReasonKubeconfigSecretMissing, api.KubeconfigSecretAnnotation},
		{"missing kubeconfig Secret, which one", func(s *Sources, _ *fixture.VCluster) { s.KubeconfigSecret = nil }, api.ReasonKubeconfigSecretMissing, "Secret vcluster-sandbox/vc-sandbox does not exist"},
		{"missing custom kubeconfig Secret", func(s *Sources, _ *fixture.VCluster) {
			s.KubeconfigSecret = nil
			s.Workload.SetAnnotations(map[string]string{api.KubeconfigSecretAnnotation: "exported"})
		}, api.ReasonKubeconfigSecretMissing, "Secret vcluster-sandbox/exported does not exist"},
		{"ambiguous ports", func(s *Sources, _ *fixture.VCluster) {
			s.Service.Spec.Ports = []corev1.ServicePort{{Name: "a", Port: 1}, {Name: "b", Port: 2}}
		}, api.ReasonNoServicePort, "no port named https"},
		{"unparsable kubeconfig", kubeconfigWith(func(*fixture.VCluster) []byte { return []byte("clusters: [\n  - {{{") }), api.ReasonBadKubeconfig, "not a parsable kubeconfig"},
		// The credentials' refusals are pkg/vcluster's (ReadCredentials);
		// Build reports them as they are.
		{"no credentials", func(s *Sources, _ *fixture.VCluster) {
			s.KubeconfigSecret.Data = map[string][]byte{vcluster.CertificateAuthorityKey: s.KubeconfigSecret.Data[vcluster.CertificateAuthorityKey]}
		}, api.ReasonMissingCredentials, "neither a client certificate"},
		{"bad clusterResources annotation", annotate(api.ClusterResourcesAnnotation, "yes please"), api.ReasonBadAnnotation, api.ClusterResourcesAnnotation},
		{"bad namespaces annotation", annotate(api.NamespacesAnnotation, "Not_A_Namespace"), api.ReasonBadAnnotation, api.NamespacesAnnotation},
		{"bad project annotation", annotate(api.ProjectAnnotation, "Team A"), api.ReasonBadAnnotation, api.ProjectAnnotation},
		{"empty cluster name annotation", annotate(api.ClusterNameAnnotation, " "), api.ReasonBadAnnotation, api.ClusterNameAnnotation},
		{"Argo CD's in-cluster name", annotate(api.ClusterNameAnnotation, "in-cluster"), api.ReasonConflict, "Argo CD's own cluster"},
		{"Argo CD's in-cluster server", func(s *Sources, _ *fixture.VCluster) {
			s.Workload.SetName("kubernetes")
			s.Workload.SetNamespace("default")
			s.Workload.SetLabels(map[string]string{"app": "vcluster", "release": "kubernetes"})
			s.Service.Name, s.Service.Namespace = "kubernetes", "default"
		}, api.ReasonConflict, "https://kubernetes.default.svc"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, vc := sources(t)
			tc.modify(&src, vc)
			_, err := Build(src, opts)
			fixture.WantInputError(t, err, tc.reason, tc.mentioning, vc)
		})
	}
}

func annotate(key, value string) func(*Sources, *fixture.VCluster) {
	return func(s *Sources, _ *fixture.VCluster) { s.Workload.SetAnnotations(map[string]string{key: value}) }
}

func TestSecretNameIsDeterministicUniqueAndValid(t *testing.T) {
	a, b := SecretName("a-b", "c"), SecretName("a", "b-c")
	if a == b {
		t.Errorf("%q collides for a-b/c and a/b-c", a)
	}
	if SecretName("a-b", "c") != a {
		t.Error("not deterministic")
	}
	long := SecretName(strings.Repeat("n", 63), strings.Repeat("x.y", 80))
	if errs := validation.IsDNS1123Subdomain(long); len(errs) > 0 {
		t.Errorf("%q is not a valid Secret name: %v", long, errs)
	}
}

func TestSameNameInTwoNamespacesDoesNotCollide(t *testing.T) {
	src1, _ := sources(t)
	src2, _ := sources(t)
	src2.Workload.SetNamespace("other")
	src2.Service.Namespace = "other"
	s1, err1 := Build(src1, opts)
	s2, err2 := Build(src2, opts)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	for _, k := range []string{ArgoCDNameKey, ArgoCDServerKey} {
		if string(s1.Data[k]) == string(s2.Data[k]) {
			t.Errorf("%s collides: %q", k, s1.Data[k])
		}
	}
	if s1.Name == s2.Name {
		t.Errorf("Secret name collides: %q", s1.Name)
	}
}

func TestContentHashFollowsCredentials(t *testing.T) {
	src, vc := sources(t)
	before, err := Build(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Build(src, opts)
	if before.Annotations[api.ContentHashAnnotation] != again.Annotations[api.ContentHashAnnotation] {
		t.Fatal("hash differs for identical input")
	}
	cert, key, err := vc.PKI.IssueClient("admin", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	kc, err := vc.Kubeconfig(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	src.KubeconfigSecret.Data[vcluster.KubeconfigKey] = kc
	after, err := Build(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	if before.Annotations[api.ContentHashAnnotation] == after.Annotations[api.ContentHashAnnotation] {
		t.Error("hash unchanged after the client certificate rotated")
	}
}

// The hash digests our annotations too, so a registration whose source
// changed kind (StatefulSet to Deployment) is rewritten.
func TestContentHashFollowsAnnotations(t *testing.T) {
	src, _ := sources(t)
	sts, err := Build(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	src.Kind = "Deployment"
	dep, err := Build(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	if sts.Annotations[api.ContentHashAnnotation] == dep.Annotations[api.ContentHashAnnotation] {
		t.Error("hash unchanged when the source-kind annotation changed")
	}
}
