package integration

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/registration"
	"github.com/registrar-dev/registrar/test/fixture"
)

func TestUntrustedNamespaceIsNeverRegisteredAndSaysSo(t *testing.T) {
	e := newEnv(t)
	tenant := e.createNamespace("tenant", false)
	vc := e.newVCluster(tenant, "fake")
	note := e.eventuallyEvent(vc.StatefulSet(), api.ReasonUntrusted)
	if !contains(note, "does not match the namespace selector") {
		t.Errorf("event note %q", note)
	}
	e.neverRegistered(tenant, "fake")
}

func TestClusterNameCollisionIsRefused(t *testing.T) {
	e, ns := newEnvIn(t, "vc")
	first := e.newVCluster(ns, "first")
	sts := first.StatefulSet()
	e.update(sts, func() { sts.Annotations = map[string]string{api.ClusterNameAnnotation: "prod"} })
	e.eventually("first registers as prod", func() bool {
		s := e.registration(ns, "first")
		return s != nil && string(s.Data["name"]) == "prod"
	})
	held := e.registration(ns, "first")

	second := e.newVCluster(ns, "second", fixture.Annotations(map[string]string{api.ClusterNameAnnotation: "prod"})).StatefulSet()
	note := e.eventuallyEvent(second, api.ReasonConflict)
	if !contains(note, `cluster name "prod" is already registered`) {
		t.Errorf("event note %q", note)
	}
	e.neverRegistered(ns, "second")
	if e.registration(ns, "first").ResourceVersion != held.ResourceVersion {
		t.Error("the first holder's registration changed")
	}
}

func TestServerOfAForeignRegistrationIsNotTaken(t *testing.T) {
	e, ns := newEnvIn(t, "vc")
	e.create(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "hand-made", Namespace: e.argocd,
			Labels: map[string]string{registration.ArgoCDSecretTypeLabel: "cluster"}},
		StringData: map[string]string{"name": "by-hand", "server": "https://sandbox." + ns + ".svc/"},
	})
	vc := e.newVCluster(ns, "sandbox")
	note := e.eventuallyEvent(vc.StatefulSet(), api.ReasonConflict)
	if !contains(note, "server \"https://sandbox."+ns+".svc\" is already registered by Secret "+e.argocd+"/hand-made") {
		t.Errorf("event note %q", note)
	}
	e.neverRegistered(ns, "sandbox")
}

func TestHandEditsOfOurFieldsAreRestoredOthersKept(t *testing.T) {
	e, ns := newEnvIn(t, "vc")
	e.newVCluster(ns, "sandbox")
	s := e.eventuallyRegistered(ns, "sandbox")
	want := string(s.Data["server"])

	// An edit by someone else (another field manager): our server changed,
	// and an annotation of theirs added.
	s.Data["server"] = []byte("https://attacker.example")
	s.Annotations["argocd.argoproj.io/refresh"] = "2026-01-01T00:00:00Z"
	if err := k8sClient.Update(context.Background(), s, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	e.eventually("our server is restored", func() bool {
		return string(e.registration(ns, "sandbox").Data["server"]) == want
	})
	if got := e.registration(ns, "sandbox").Annotations["argocd.argoproj.io/refresh"]; got == "" {
		t.Error("an annotation owned by someone else was removed")
	}
}

// TestNoSecretMaterialInLogsEventsOrMetrics runs registration, rotation,
// refused kubeconfigs and deletion with every log level enabled, then
// scans all logs, events and metrics for certificate, key and token content.
func TestNoSecretMaterialInLogsEventsOrMetrics(t *testing.T) {
	e, ns := newEnvIn(t, "vc")
	vc := e.newVCluster(ns, "sandbox")
	e.eventuallyRegistered(ns, "sandbox")

	e.rotate(vc)
	cert, key := vc.ClientCertificate(), vc.ClientKey()
	e.eventuallyEvent(vc.StatefulSet(), api.ReasonUpdated)
	secret := e.kubeconfigSecret(vc)

	const token = "tok3n-that-must-never-leak"
	bad := []string{
		// exec plugin with a token beside it
		"apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n" +
			"clusters: [{name: c, cluster: {server: https://x, certificate-authority-data: " + base64.StdEncoding.EncodeToString(vc.PKI.CACert) + "}}]\n" +
			"users: [{name: u, user: {token: " + token + ", exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh}}}]\n",
		// unparsable, with key material in it
		"users: [ {{{ " + string(key),
	}
	for i, b := range bad {
		e.update(secret, func() { secret.Data["config"] = []byte(b) })
		reason := []string{api.ReasonUnsupportedKubeconfig, api.ReasonBadKubeconfig}[i]
		e.eventuallyEvent(vc.StatefulSet(), reason)
	}
	e.delete(vc.StatefulSet())
	e.eventuallyDeregistered(ns, "sandbox")
	time.Sleep(200 * time.Millisecond) // let the last log lines flush

	var events eventsv1.EventList
	if err := k8sClient.List(context.Background(), &events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var notes strings.Builder
	for _, ev := range events.Items {
		notes.WriteString(ev.Note + "\n")
	}
	families, err := prometheus.Gatherers{metrics.Registry, e.registry}.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var metricsText strings.Builder
	for _, mf := range families {
		if _, err := expfmt.MetricFamilyToText(&metricsText, mf); err != nil {
			t.Fatal(err)
		}
	}

	logs := capturedLogs.String()
	if !strings.Contains(logs, "registered vcluster") {
		t.Fatal("no registrar logs captured: the scan would prove nothing")
	}
	secrets := map[string][]byte{
		"CA": vc.PKI.CACert, "client certificate": vc.PKI.ClientCert, "client key": vc.PKI.ClientKey,
		"rotated certificate": cert, "rotated key": key, "token": []byte(token),
	}
	for where, text := range map[string]string{"logs": logs, "events": notes.String(), "metrics": metricsText.String()} {
		if strings.Contains(text, "-----BEGIN") || strings.Contains(text, "PRIVATE KEY") {
			i := strings.Index(text, "PRIVATE KEY")
			if i < 0 {
				i = strings.Index(text, "-----BEGIN")
			}
			t.Errorf("%s hold PEM material near: %.300q", where, text[max(0, i-300):])
		}
		for what, b := range secrets {
			for _, needle := range secretNeedles(b) {
				if strings.Contains(text, needle) {
					t.Errorf("%s hold the %s", where, what)
					break
				}
			}
		}
	}
}

// secretNeedles are fragments by which secret b would be recognised: its
// PEM body lines, its base64 encoding (as in the config JSON), and itself
// when it is not PEM.
func secretNeedles(b []byte) []string {
	s := string(b)
	if !strings.Contains(s, "-----BEGIN") {
		return []string{s}
	}
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if len(line) >= 40 && !strings.HasPrefix(line, "-----") {
			out = append(out, line)
		}
	}
	enc := base64.StdEncoding.EncodeToString(b)
	return append(out, enc[30:90])
}
