package status

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/registration"
)

var now = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

// registered is a Secret as the registrar writes it, credentials
// included, with annotations set on top.
func registered(name string, annotations map[string]string) *corev1.Secret {
	s := &corev1.Secret{Data: map[string][]byte{
		registration.ArgoCDNameKey:   []byte("team-a-" + name),
		registration.ArgoCDServerKey: []byte("https://" + name + ".team-a.svc"),
		registration.ArgoCDConfigKey: []byte(`{"bearerToken":"TOKEN-VALUE","tlsClientConfig":{"keyData":"S0VZLVZBTFVF"}}`),
	}}
	s.Namespace, s.Name = "argocd", "vcluster-team-a-"+name+"-1a2b3c4d"
	s.Labels = map[string]string{
		api.ManagedByLabel:       api.ManagedByValue,
		api.SourceNamespaceLabel: "team-a",
		api.SourceNameLabel:      name,
	}
	s.Annotations = annotations
	return s
}

func TestHealthByConnectionStateAndCredentials(t *testing.T) {
	for _, tc := range []struct {
		name        string
		annotations map[string]string
		unhealthy   string
	}{
		{"connected", map[string]string{api.ConnectionStateAnnotation: api.ConnectionSuccessful}, ""},
		// Starting within the grace period, paused on purpose, not checked
		// yet: nothing to fix.
		{"pending", map[string]string{api.ConnectionStateAnnotation: api.ConnectionPending}, ""},
		{"paused", map[string]string{api.ConnectionStateAnnotation: api.ConnectionPaused}, ""},
		{"not checked", nil, ""},
		{"expiring", map[string]string{api.CredentialsNotAfterAnnotation: "2026-12-06T12:00:00Z"}, ""},
		{"failed", map[string]string{api.ConnectionStateAnnotation: api.ConnectionFailed,
			api.ConnectionMessageAnnotation: "cannot connect:\n connection refused"}, "connection Failed: cannot connect: connection refused"},
		{"expired", map[string]string{api.ConnectionStateAnnotation: api.ConnectionSuccessful,
			api.CredentialsNotAfterAnnotation: "2026-12-05T12:00:00Z"}, "credentials expired at 2026-12-05T12:00:00Z"},
	} {
		r := FromSecret(registered(tc.name, tc.annotations), now)
		if r.Unhealthy != tc.unhealthy {
			t.Errorf("%s: unhealthy %q, want %q", tc.name, r.Unhealthy, tc.unhealthy)
		}
		want := 0
		if tc.unhealthy != "" {
			want = 1
		}
		if got := ExitCode([]Registration{FromSecret(registered("ok", nil), now), r}); got != want {
			t.Errorf("%s: exit code %d, want %d", tc.name, got, want)
		}
	}
	if got := ExitCode(nil); got != 0 {
		t.Errorf("no registration: exit code %d, want 0", got)
	}
}

func TestTableLineSaysWhatTheControllerRecorded(t *testing.T) {
	regs := []Registration{
		FromSecret(registered("sandbox", map[string]string{
			api.ConnectionStateAnnotation:     api.ConnectionFailed,
			api.ConnectionSinceAnnotation:     "2026-12-05T09:00:00Z",
			api.ConnectionMessageAnnotation:   "cannot connect: connection refused",
			api.CredentialsNotAfterAnnotation: "2027-12-05T09:00:00Z",
			api.IdentityAnnotation:            api.IdentityServiceAccount,
		}), now),
		FromSecret(registered("ci", nil), now),
	}
	for _, tc := range []struct {
		format string
		lines  []string
	}{
		{OutputTable, []string{
			"VCLUSTER SECRET SERVER PROJECT IDENTITY CONNECTION SINCE CREDENTIALS NOT AFTER",
			"team-a/sandbox argocd/vcluster-team-a-sandbox-1a2b3c4d https://sandbox.team-a.svc - serviceaccount Failed 3h 2027-12-05T09:00:00Z",
			"team-a/ci argocd/vcluster-team-a-ci-1a2b3c4d https://ci.team-a.svc - admin - - -",
		}},
		{OutputWide, []string{
			"VCLUSTER SECRET SERVER PROJECT IDENTITY CONNECTION SINCE CREDENTIALS NOT AFTER CLUSTER MESSAGE",
			"team-a/sandbox argocd/vcluster-team-a-sandbox-1a2b3c4d https://sandbox.team-a.svc - serviceaccount Failed 3h 2027-12-05T09:00:00Z team-a-sandbox cannot connect: connection refused",
			"team-a/ci argocd/vcluster-team-a-ci-1a2b3c4d https://ci.team-a.svc - admin - - - team-a-ci -",
		}},
	} {
		var b bytes.Buffer
		if err := Write(&b, regs, tc.format, now); err != nil {
			t.Fatal(err)
		}
		got := strings.Split(strings.TrimSpace(b.String()), "\n")
		if len(got) != len(tc.lines) {
			t.Fatalf("%q: %d lines, want %d:\n%s", tc.format, len(got), len(tc.lines), b.String())
		}
		for i := range got {
			if g := strings.Join(strings.Fields(got[i]), " "); g != tc.lines[i] {
				t.Errorf("%q line %d:\n %q\nwant\n %q", tc.format, i, g, tc.lines[i])
			}
		}
	}
	summary := Summary(regs)
	for _, want := range []string{"2 registrations: 1 Failed, 1 not checked", "1 unhealthy:", "team-a/sandbox (argocd/vcluster-team-a-sandbox-1a2b3c4d): connection Failed: cannot connect"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary %q does not say %q", summary, want)
		}
	}
}

func TestYAMLAndJSONCarryNoCredential(t *testing.T) {
	regs := []Registration{FromSecret(registered("sandbox", map[string]string{
		api.ConnectionStateAnnotation: api.ConnectionSuccessful,
		api.ConnectionSinceAnnotation: "2026-12-05T09:00:00Z",
	}), now)}
	for _, format := range []string{OutputYAML, OutputJSON} {
		var b bytes.Buffer
		if err := Write(&b, regs, format, now); err != nil {
			t.Fatal(err)
		}
		if out := b.String(); strings.Contains(out, "TOKEN-VALUE") || strings.Contains(out, "S0VZLVZBTFVF") {
			t.Errorf("%s output shows a credential:\n%s", format, out)
		}
		var list struct{ Items []Registration }
		if err := yaml.Unmarshal(b.Bytes(), &list); err != nil {
			t.Fatalf("%s: %v\n%s", format, err, b.String())
		}
		if len(list.Items) != 1 || list.Items[0].Server != "https://sandbox.team-a.svc" || list.Items[0].ConnectionSince == nil ||
			!list.Items[0].ConnectionSince.Equal(time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)) {
			t.Errorf("%s: %+v", format, list.Items)
		}
	}
	var b bytes.Buffer
	if err := Write(&b, nil, OutputJSON, now); err != nil {
		t.Fatal(err)
	}
	var empty map[string]any
	if err := json.Unmarshal(b.Bytes(), &empty); err != nil || empty["items"] == nil {
		t.Errorf("no registration in JSON: %s, want an empty list of items", b.String())
	}
}
