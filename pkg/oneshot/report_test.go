package oneshot

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/registrar-dev/registrar/pkg/reconcile"
	"github.com/registrar-dev/registrar/pkg/registration"
)

var (
	vc     = types.NamespacedName{Namespace: "team-a", Name: "sandbox"}
	secret = types.NamespacedName{Namespace: "argocd", Name: "vcluster-team-a-sandbox-1a2b3c4d"}
	server = "https://sandbox.team-a.svc"
)

func outcome(d reconcile.Decision, why string) reconcile.Outcome {
	o := reconcile.Outcome{VCluster: vc, Decision: d, Reason: why}
	if d != reconcile.DecisionSkip {
		o.Secret, o.Server = secret, server
	}
	return o
}

func TestReportLineAndExitCodePerDecision(t *testing.T) {
	for _, tc := range []struct {
		decision reconcile.Decision
		why      string
		// dryRun and pass are the exit statuses of a dry run and of a
		// pass that writes.
		dryRun, pass int
		line         string
	}{
		{reconcile.DecisionRegister, "no registration yet", 1, 0,
			"team-a/sandbox  register  argocd/vcluster-team-a-sandbox-1a2b3c4d  https://sandbox.team-a.svc  no registration yet"},
		{reconcile.DecisionUpdate, "changed: data config", 1, 0,
			"team-a/sandbox  update  argocd/vcluster-team-a-sandbox-1a2b3c4d  https://sandbox.team-a.svc  changed: data config"},
		{reconcile.DecisionUnchanged, "the registration is up to date", 0, 0,
			"team-a/sandbox  unchanged  argocd/vcluster-team-a-sandbox-1a2b3c4d  https://sandbox.team-a.svc  the registration is up to date"},
		{reconcile.DecisionDeregister, "vcluster team-a/sandbox was deleted", 1, 0,
			"team-a/sandbox  deregister  argocd/vcluster-team-a-sandbox-1a2b3c4d  https://sandbox.team-a.svc  vcluster team-a/sandbox was deleted"},
		{reconcile.DecisionSkip, "StatefulSet team-a/sandbox is annotated registrar.dev/ignore=true", 0, 0,
			"team-a/sandbox  skip  -  -  StatefulSet team-a/sandbox is annotated registrar.dev/ignore=true"},
		// A reason over several lines stays on one.
		{reconcile.DecisionRefuse, "InvalidKubeconfig: not a\nparsable kubeconfig", 2, 1,
			"team-a/sandbox  refuse  argocd/vcluster-team-a-sandbox-1a2b3c4d  https://sandbox.team-a.svc  InvalidKubeconfig: not a parsable kubeconfig"},
		{reconcile.DecisionError, "reading namespace team-a: forbidden", 2, 1,
			"team-a/sandbox  error  argocd/vcluster-team-a-sandbox-1a2b3c4d  https://sandbox.team-a.svc  reading namespace team-a: forbidden"},
	} {
		t.Run(string(tc.decision), func(t *testing.T) {
			r := &Report{DryRun: true, Outcomes: []reconcile.Outcome{outcome(tc.decision, tc.why)}}
			var b bytes.Buffer
			if err := r.Write(&b, OutputTable); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(b.String()), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[0], "VCLUSTER") {
				t.Fatalf("report:\n%s\nwant a header and one line", b.String())
			}
			if got := strings.Join(strings.Fields(lines[1]), "  "); got != strings.Join(strings.Fields(tc.line), "  ") {
				t.Errorf("line\n %q\nwant\n %q", got, tc.line)
			}
			if got := r.ExitCode(); got != tc.dryRun {
				t.Errorf("dry run exits %d, want %d", got, tc.dryRun)
			}
			r.DryRun = false
			if got := r.ExitCode(); got != tc.pass {
				t.Errorf("pass exits %d, want %d", got, tc.pass)
			}
		})
	}
}

func TestExitCodeOfMixedReports(t *testing.T) {
	for _, tc := range []struct {
		name         string
		decisions    []reconcile.Decision
		dryRun, pass int
	}{
		{"nothing found", nil, 0, 0},
		{"all in place", []reconcile.Decision{reconcile.DecisionUnchanged, reconcile.DecisionSkip}, 0, 0},
		{"changes pending", []reconcile.Decision{reconcile.DecisionUnchanged, reconcile.DecisionRegister}, 1, 0},
		// An error wins over changes, as in kubectl diff.
		{"changes and a refusal", []reconcile.Decision{reconcile.DecisionRegister, reconcile.DecisionRefuse}, 2, 1},
	} {
		r := &Report{DryRun: true}
		for _, d := range tc.decisions {
			r.Outcomes = append(r.Outcomes, outcome(d, "why"))
		}
		if got := r.ExitCode(); got != tc.dryRun {
			t.Errorf("%s: dry run exits %d, want %d", tc.name, got, tc.dryRun)
		}
		r.DryRun = false
		if got := r.ExitCode(); got != tc.pass {
			t.Errorf("%s: pass exits %d, want %d", tc.name, got, tc.pass)
		}
	}
}

func TestSummaryNamesTheVClustersInError(t *testing.T) {
	broken := outcome(reconcile.DecisionRefuse, "InvalidKubeconfig: kubeconfig Secret team-a/vc-sandbox is not a parsable kubeconfig")
	r := &Report{Outcomes: []reconcile.Outcome{
		outcome(reconcile.DecisionRegister, "no registration yet"),
		outcome(reconcile.DecisionRegister, "no registration yet"),
		broken,
	}}
	got := r.Summary()
	for _, want := range []string{"pass: 2 register, 1 refuse", "1 not in the desired state", "team-a/sandbox: refuse: InvalidKubeconfig"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary %q does not say %q", got, want)
		}
	}
	r.DryRun = true
	if !strings.Contains(r.Summary(), "dry run (nothing written)") {
		t.Errorf("summary of a dry run %q does not say so", r.Summary())
	}
}

// desired is a registration as Build writes it, with credentials whose
// values the test looks for in the output.
func desired() *corev1.Secret {
	cfg, _ := json.Marshal(map[string]any{
		"bearerToken": "TOKEN-VALUE",
		"tlsClientConfig": map[string]any{
			"insecure": false, "serverName": "sandbox.team-a",
			"caData": []byte("CA-VALUE"), "certData": []byte("CERT-VALUE"), "keyData": []byte("KEY-VALUE"),
		},
		"execProviderConfig": map[string]any{"args": []string{"EXEC-ARG"}},
	})
	s := &corev1.Secret{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{
		"name": []byte("team-a-sandbox"), "server": []byte(server), "config": cfg,
		"project": []byte("team-a"), "someFutureKey": []byte("FUTURE-VALUE"),
	}}
	s.Namespace, s.Name = secret.Namespace, secret.Name
	s.Labels = map[string]string{registration.ArgoCDSecretTypeLabel: registration.ArgoCDSecretTypeValue}
	return s
}

func TestYAMLAndJSONRedactEverySecretValue(t *testing.T) {
	o := outcome(reconcile.DecisionRegister, "no registration yet")
	o.Desired = desired()
	r := &Report{DryRun: true, Outcomes: []reconcile.Outcome{o, outcome(reconcile.DecisionDeregister, "gone")}}
	for _, format := range []string{OutputYAML, OutputJSON} {
		t.Run(format, func(t *testing.T) {
			var b bytes.Buffer
			if err := r.Write(&b, format); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			for _, secretValue := range []string{"TOKEN-VALUE", "CA-VALUE", "CERT-VALUE", "KEY-VALUE", "EXEC-ARG", "FUTURE-VALUE"} {
				// The config JSON holds bytes as base64.
				if strings.Contains(out, secretValue) || strings.Contains(out, base64.StdEncoding.EncodeToString([]byte(secretValue))) {
					t.Errorf("%s output shows %s:\n%s", format, secretValue, out)
				}
			}
			var list corev1.List
			if err := yaml.Unmarshal(b.Bytes(), &list); err != nil {
				t.Fatalf("%s output is not a List: %v\n%s", format, err, out)
			}
			if len(list.Items) != 1 {
				t.Fatalf("%d items, want the one Secret to be written (a deregistration writes none)", len(list.Items))
			}
			var s corev1.Secret
			if err := yaml.Unmarshal(list.Items[0].Raw, &s); err != nil {
				t.Fatal(err)
			}
			if s.Kind != "Secret" || s.Name != secret.Name || s.Namespace != secret.Namespace || len(s.Data) != 0 {
				t.Errorf("item %+v", s.ObjectMeta)
			}
			for k, want := range map[string]string{"name": "team-a-sandbox", "server": server, "project": "team-a", "someFutureKey": Redacted} {
				if s.StringData[k] != want {
					t.Errorf("%s = %q, want %q", k, s.StringData[k], want)
				}
			}
			var cfg struct {
				BearerToken     string `json:"bearerToken"`
				TLSClientConfig struct {
					Insecure   bool   `json:"insecure"`
					ServerName string `json:"serverName"`
					KeyData    string `json:"keyData"`
				} `json:"tlsClientConfig"`
			}
			if err := json.Unmarshal([]byte(s.StringData["config"]), &cfg); err != nil {
				t.Fatalf("config %q: %v", s.StringData["config"], err)
			}
			if cfg.BearerToken != Redacted || cfg.TLSClientConfig.KeyData != Redacted || cfg.TLSClientConfig.ServerName != "sandbox.team-a" {
				t.Errorf("config %q: want credentials redacted and the server name shown", s.StringData["config"])
			}
		})
	}
}

func TestUnknownOutputFormatSaysWhatToUse(t *testing.T) {
	err := (&Report{}).Write(&bytes.Buffer{}, "wide")
	if err == nil || !strings.Contains(err.Error(), "use yaml or json") {
		t.Errorf("error %v", err)
	}
}

func TestUnparsableConfigIsRedactedWhole(t *testing.T) {
	s := desired()
	s.Data["config"] = []byte(`{"bearerToken": "TOKEN-VALUE"`)
	if got := Redact(s).StringData["config"]; got != Redacted {
		t.Errorf("config = %q", got)
	}
}
