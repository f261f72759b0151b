package integration

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/status"
)

// TestStatusReadsWhatTheControllerRecorded: `registrar status` shows each
// registration as the controller recorded it on the Argo CD cluster
// Secret, writes nothing, needs read access only, and exits 1 while a
// registration's connection is Failed or its credentials have expired.
func TestStatusReadsWhatTheControllerRecorded(t *testing.T) {
	e := newWorld(t)
	ns := e.createNamespace("vc", true)
	for _, name := range []string{"alpha", "beta", "gamma"} {
		e.newVCluster(ns, name)
	}
	e.sync().wantCode(t, 0)

	run := e.runRegistrar("", "status")
	run.wantCode(t, 0)
	if !strings.Contains(run.stderr, "3 registrations: 3 not checked") {
		t.Errorf("status summary %q; want 3 registrations, none checked yet (sync checks no connection)", run.stderr)
	}

	// What the controller's connection check records: alpha connects,
	// beta has failed for an hour, gamma's credentials have expired.
	hourAgo := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	e.annotateRegistration(ns, "alpha", map[string]string{
		api.ConnectionStateAnnotation: api.ConnectionSuccessful, api.ConnectionSinceAnnotation: hourAgo,
		api.ConnectionMessageAnnotation: "GET /version, /api and /apis succeeded (Kubernetes v1.37.2)"})
	e.annotateRegistration(ns, "beta", map[string]string{
		api.ConnectionStateAnnotation: api.ConnectionFailed, api.ConnectionSinceAnnotation: hourAgo,
		api.ConnectionMessageAnnotation: "cannot connect to beta." + ns + ".svc:443: connection refused"})
	e.annotateRegistration(ns, "gamma", map[string]string{
		api.ConnectionStateAnnotation: api.ConnectionSuccessful, api.ConnectionSinceAnnotation: hourAgo,
		api.CredentialsNotAfterAnnotation: hourAgo})

	before := takeSnapshot(t)
	run = e.runRegistrar("", "status", "-o", "wide")
	before.wantSame(t, takeSnapshot(t))
	t.Logf("registrar status -o wide:\n%s%s", run.stdout, run.stderr)
	run.wantCode(t, 1)
	for name, want := range map[string][]string{
		"alpha": {"https://alpha." + ns + ".svc", "admin", "Successful", "60m", "succeeded"},
		"beta":  {"Failed", "60m", "connection refused"},
		"gamma": {"Successful", hourAgo},
	} {
		line := run.statusLine(t, ns+"/"+name)
		for _, w := range want {
			if !strings.Contains(line, w) {
				t.Errorf("status line %q does not say %q", line, w)
			}
		}
	}
	for _, want := range []string{"2 unhealthy", ns + "/beta", "connection Failed: cannot connect", ns + "/gamma", "credentials expired at " + hourAgo} {
		if !strings.Contains(run.stderr, want) {
			t.Errorf("status summary %q does not say %q", run.stderr, want)
		}
	}

	// A platform engineer who may only read sees the same.
	viewer := "viewer-" + e.id
	e.mayOnlyRead(viewer)
	asViewer := e.runRegistrar(viewer, "status", "-o", "json")
	asViewer.wantCode(t, 1)
	var list struct{ Items []status.Registration }
	if err := json.Unmarshal([]byte(asViewer.stdout), &list); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, asViewer.stdout)
	}
	if len(list.Items) != 3 || list.Items[1].VCluster != ns+"/beta" || list.Items[1].Healthy() {
		t.Errorf("status -o json: %+v; want alpha, beta (unhealthy), gamma", list.Items)
	}

	// Someone who may not read Secrets there is told so, exit 2.
	denied := e.runRegistrar("nobody-"+e.id, "status")
	denied.wantCode(t, 2)
	if !strings.Contains(denied.stderr, "cannot list resource \"secrets\"") || !strings.Contains(denied.stderr, "get and list on Secrets in the Argo CD namespaces") {
		t.Errorf("status without read access said %q", denied.stderr)
	}
}

// statusLine is the line of `registrar status` about vcluster, its
// whitespace collapsed.
func (r oneRun) statusLine(t *testing.T, vcluster string) string {
	t.Helper()
	for _, l := range strings.Split(r.stdout, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == vcluster {
			return strings.Join(f, " ")
		}
	}
	t.Fatalf("status shows no line about %s:\n%s", vcluster, r.stdout)
	return ""
}

// annotateRegistration sets annotations on the registration of ns/name,
// as the controller's connection check and credentials watch do.
func (e *env) annotateRegistration(ns, name string, annotations map[string]string) {
	e.t.Helper()
	s := e.registration(ns, name)
	if s == nil {
		e.t.Fatalf("vcluster %s/%s is not registered", ns, name)
	}
	e.update(s, func() {
		for k, v := range annotations {
			s.Annotations[k] = v
		}
	})
}
