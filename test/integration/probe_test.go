package integration

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"maps"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/reconcile"
	"github.com/registrar-dev/registrar/test/fixture"
)

// probing configures a registrar that probes every probeEvery, dialling
// the vclusters' service addresses at the stand-ins routes names.
func probing(routes map[string]string) func(*reconcile.Options) {
	return func(o *reconcile.Options) {
		o.ProbeInterval = probeEvery
		o.ProbeTimeout = 2 * time.Second
		o.ProbeDialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if to, ok := routes[addr]; ok {
				addr = to
			}
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}
	}
}

const probeEvery = 500 * time.Millisecond

// startStandIn starts a real API server serving as vc, stopped when the
// test ends.
func startStandIn(t *testing.T, vc *fixture.VCluster) *fixture.StandIn {
	t.Helper()
	standIn, err := fixture.StartStandIn(context.Background(), assets, vc, "127.0.0.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(standIn.Stop)
	return standIn
}

// serviceAddr is where Argo CD, inside the host cluster, reaches vcluster
// name in namespace ns.
func serviceAddr(ns, name string) string { return name + "." + ns + ".svc:443" }

// eventuallyConnection waits until the registration of ns/name records
// state with a message containing want, and returns the message.
func (e *env) eventuallyConnection(ns, name, state, want string) string {
	e.t.Helper()
	var msg string
	e.eventually("the registration of "+ns+"/"+name+" records connection state "+state, func() bool {
		s := e.registration(ns, name)
		if s == nil {
			return false
		}
		msg = s.Annotations[api.ConnectionMessageAnnotation]
		return s.Annotations[api.ConnectionStateAnnotation] == state && strings.Contains(msg, want)
	})
	return msg
}

// connectionSince is when the connection state of the registration of
// ns/name last changed, as it records.
func (e *env) connectionSince(ns, name string) time.Time {
	e.t.Helper()
	v := e.registration(ns, name).Annotations[api.ConnectionSinceAnnotation]
	since, err := time.Parse(time.RFC3339, v)
	if err != nil {
		e.t.Fatalf("the registration of %s/%s records connection-since %q: %v", ns, name, v, err)
	}
	return since
}

// events returns the notes of the events of reason about obj.
func (e *env) events(obj client.Object, reason string) []string {
	e.t.Helper()
	var list eventsv1.EventList
	if err := k8sClient.List(context.Background(), &list, client.InNamespace(obj.GetNamespace())); err != nil {
		e.t.Fatal(err)
	}
	var notes []string
	for _, ev := range list.Items {
		if ev.Regarding.Name == obj.GetName() && ev.Reason == reason {
			n := ev.Note
			if ev.Series != nil {
				for range ev.Series.Count - 1 {
					notes = append(notes, n)
				}
			}
			notes = append(notes, n)
		}
	}
	return notes
}

// gauge returns the value of the series of metric name with the given
// label values, and whether it exists.
func (e *env) gauge(name string, labels map[string]string) (float64, bool) {
	e.t.Helper()
	families, err := e.registry.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if hasLabels(m, labels) {
				switch {
				case m.Gauge != nil:
					return m.GetGauge().GetValue(), true
				case m.Counter != nil:
					return m.GetCounter().GetValue(), true
				case m.Histogram != nil:
					return float64(m.GetHistogram().GetSampleCount()), true
				}
			}
		}
	}
	return 0, false
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

// TestProbeFollowsAVClusterThroughAnOutage is the probe's story against a
// real API server with vcluster's SANs: Successful with one Connected event,
// no write while nothing changes, Failed with one ConnectionFailed event
// while the API server is down (the vcluster stays registered), Connected
// again on recovery; per-vcluster metrics that vanish with the vcluster.
func TestProbeFollowsAVClusterThroughAnOutage(t *testing.T) {
	e := newWorld(t)
	ns := e.createNamespace("vcluster-probe", true)
	vc, err := fixture.NewVCluster("sandbox", ns)
	if err != nil {
		t.Fatal(err)
	}
	standIn := startStandIn(t, vc)
	e.start(probing(map[string]string{serviceAddr(ns, "sandbox"): standIn.Addr}))
	workload := createVCluster(t, k8sClient, ns, "sandbox", fixture.WithPKI(vc.PKI)).Workload()

	began := time.Now().Add(-time.Second)
	msg := e.eventuallyConnection(ns, "sandbox", api.ConnectionSuccessful, "GET /version, /api and /apis succeeded")
	if !strings.Contains(msg, "Kubernetes v") {
		t.Errorf("message %q does not say which Kubernetes answered", msg)
	}
	connectedSince := e.connectionSince(ns, "sandbox")
	if connectedSince.Before(began.Truncate(time.Second)) || connectedSince.After(time.Now()) {
		t.Errorf("connection-since %s, want the moment it connected, after %s", connectedSince, began)
	}
	e.eventuallyEvent(workload, api.ReasonConnected)
	connected := map[string]string{"namespace": ns, "name": "sandbox", "argocd_namespace": e.argocd}
	if v, ok := e.gauge("registrar_cluster_connected", connected); !ok || v != 1 {
		t.Errorf("registrar_cluster_connected = %v (present %v), want 1", v, ok)
	}
	if v, _ := e.gauge("registrar_connection_state", map[string]string{"state": "successful"}); v != 1 {
		t.Errorf("registrar_connection_state{state=successful} = %v, want 1", v)
	}

	// A healthy vcluster probed several times over causes no write at all.
	e.quiet()
	time.Sleep(5 * probeEvery)
	if n := e.writes.Load(); n != 0 {
		t.Errorf("%d writes while a healthy vcluster was probed again and again, want 0", n)
	}
	if v, _ := e.gauge("registrar_probe_duration_seconds", nil); v < 3 {
		t.Errorf("%v probes observed, want several", v)
	}

	standIn.StopAPIServer()
	msg = e.eventuallyConnection(ns, "sandbox", api.ConnectionFailed, "cannot connect")
	if !strings.Contains(msg, "connection refused") {
		t.Errorf("outage message %q does not say the connection was refused", msg)
	}
	if e.registration(ns, "sandbox") == nil {
		t.Fatal("a vcluster that cannot be reached was deregistered")
	}
	if failedSince := e.connectionSince(ns, "sandbox"); !failedSince.After(connectedSince) {
		t.Errorf("connection-since %s after the outage began, want later than %s, when it connected", failedSince, connectedSince)
	}
	note := e.eventuallyEvent(workload, api.ReasonConnectionFailed)
	if !strings.Contains(note, "stays in place") || !strings.Contains(note, "cannot connect") {
		t.Errorf("ConnectionFailed event %q does not say the registration stays and why it fails", note)
	}
	if v, _ := e.gauge("registrar_cluster_connected", connected); v != 0 {
		t.Errorf("registrar_cluster_connected = %v during the outage, want 0", v)
	}
	if v, _ := e.gauge("registrar_probe_failures_total", map[string]string{"reason": "tcp"}); v < 1 {
		t.Errorf("registrar_probe_failures_total{reason=tcp} = %v, want at least 1", v)
	}
	time.Sleep(4 * probeEvery) // more failed probes: no more events

	if err := standIn.StartAPIServer(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.eventuallyConnection(ns, "sandbox", api.ConnectionSuccessful, "succeeded")
	e.eventually("a second Connected event, for the recovery", func() bool {
		return len(e.events(workload, api.ReasonConnected)) == 2
	})
	if notes := e.events(workload, api.ReasonConnectionFailed); len(notes) != 1 {
		t.Errorf("%d ConnectionFailed events for one outage, want 1: %q", len(notes), notes)
	}

	e.delete(workload)
	e.eventuallyDeregistered(ns, "sandbox")
	e.eventually("the vcluster's connection series is gone", func() bool {
		_, ok := e.gauge("registrar_cluster_connected", connected)
		return !ok
	})
}

// TestProbeNamesWhatIsWrong registers vclusters that Argo CD could not
// use, each for another reason, against real API servers, and checks that
// each registration stays, records Failed and says what is wrong.
func TestProbeNamesWhatIsWrong(t *testing.T) {
	e := newWorld(t)
	ns := e.createNamespace("vcluster-probe", true)
	vc, err := fixture.NewVCluster("real", ns)
	if err != nil {
		t.Fatal(err)
	}
	standIn := startStandIn(t, vc)
	front, err := standIn.StartFront()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(front.Stop)
	front.Fail["/apis"] = 500

	other, err := fixture.NewPKI("other", fixture.ServingSANs("real", ns))
	if err != nil {
		t.Fatal(err)
	}
	// The vcluster's CA and serving certificate, with a client certificate
	// its API server does not trust.
	foreignClient := *vc.PKI
	foreignClient.ClientCert, foreignClient.ClientKey = other.ClientCert, other.ClientKey

	cases := []struct {
		name string
		opts []fixture.Option
		// via is where the vcluster's service address leads.
		via  string
		want []string
	}{
		{"wrong-ca", []fixture.Option{fixture.WithPKI(other)}, standIn.Addr,
			[]string{"not signed by the CA in the registration"}},
		{"wrong-name", []fixture.Option{fixture.WithPKI(vc.PKI),
			fixture.Annotations(map[string]string{api.TLSServerNameAnnotation: "real.example.com"})}, standIn.Addr,
			[]string{`does not name "real.example.com"`, "real." + ns, "controlPlane.proxy.extraSANs"}},
		{"foreign-client", []fixture.Option{fixture.WithPKI(&foreignClient)}, standIn.Addr,
			[]string{"credentials rejected", "GET /api", "403 Forbidden"}},
		{"discovery", []fixture.Option{fixture.WithPKI(vc.PKI)}, front.Addr,
			[]string{"API discovery failed", "GET /apis", "500"}},
	}
	routes := map[string]string{}
	for i, tc := range cases {
		if tc.name != "wrong-name" {
			// The stand-in serves vcluster "real"'s certificate.
			cases[i].opts = append(tc.opts, fixture.Annotations(map[string]string{api.TLSServerNameAnnotation: "real." + ns}))
		}
		routes[serviceAddr(ns, tc.name)] = tc.via
	}
	// A discovery failure is one a starting vcluster shows too: it is
	// Pending for the grace period, then Failed. The others are Failed at
	// once.
	e.start(probing(routes), func(o *reconcile.Options) { o.ProbeGracePeriod = time.Second })
	for _, tc := range cases {
		createVCluster(t, k8sClient, ns, tc.name, tc.opts...)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := e.eventuallyConnection(ns, tc.name, api.ConnectionFailed, "")
			for _, want := range tc.want {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q lacks %q", msg, want)
				}
			}
			if e.registration(ns, tc.name) == nil {
				t.Error("deregistered")
			}
		})
	}
	if v, _ := e.gauge("registrar_connection_state", map[string]string{"state": "failed"}); v != float64(len(cases)) {
		t.Errorf("registrar_connection_state{state=failed} = %v, want %d", v, len(cases))
	}
}

// TestExpiringAndExpiredCredentialsAreWarned registers one vcluster whose
// client certificate expires within the warning window and one whose
// certificate has expired: each gets its Warning event once, its expiry
// annotation, and its expiry bucket.
func TestExpiringAndExpiredCredentialsAreWarned(t *testing.T) {
	e := newWorld(t)
	ns := e.createNamespace("vcluster-expiry", true)
	e.start(func(o *reconcile.Options) { o.ExpiryWarning = 48 * time.Hour })

	// A client certificate that expires within a day, and one that expired
	// an hour ago.
	withClient := func(name string, notAfter time.Time) fixture.Option {
		vc, err := fixture.NewVCluster(name, ns)
		if err != nil {
			t.Fatal(err)
		}
		p := *vc.PKI
		p.ClientCert, p.ClientKey = issueClient(t, vc.PKI, notAfter)
		return fixture.WithPKI(&p)
	}
	soon := createVCluster(t, k8sClient, ns, "soon", withClient("soon", time.Now().Add(20*time.Hour))).Workload()
	past := createVCluster(t, k8sClient, ns, "past", withClient("past", time.Now().Add(-time.Hour))).Workload()

	note := e.eventuallyEvent(soon, api.ReasonCredentialsExpiring)
	if !strings.Contains(note, "vcluster certs rotate") {
		t.Errorf("expiring event %q does not say what to do", note)
	}
	e.eventuallyEvent(past, api.ReasonCredentialsExpired)
	reg := e.eventuallyRegistered(ns, "past")
	notAfter, err := time.Parse(time.RFC3339, reg.Annotations[api.CredentialsNotAfterAnnotation])
	if err != nil || !notAfter.Before(time.Now()) {
		t.Errorf("expired registration: %s = %q", api.CredentialsNotAfterAnnotation, reg.Annotations[api.CredentialsNotAfterAnnotation])
	}
	for bucket, want := range map[string]float64{"expired": 1, "24h": 1, "later": 0, "unknown": 0} {
		if v, _ := e.gauge("registrar_credentials_expiry", map[string]string{"bucket": bucket}); v != want {
			t.Errorf("registrar_credentials_expiry{bucket=%q} = %v, want %v", bucket, v, want)
		}
	}

	// Reconciles that change nothing do not repeat the warning.
	e.update(soon, func() {
		l := maps.Clone(soon.GetLabels())
		l["touched"] = "1"
		soon.SetLabels(l)
	})
	e.quiet()
	for _, w := range []struct {
		obj    client.Object
		reason string
	}{{soon, api.ReasonCredentialsExpiring}, {past, api.ReasonCredentialsExpired}} {
		if n := len(e.events(w.obj, w.reason)); n != 1 {
			t.Errorf("%d %s events on %s, want 1", n, w.reason, w.obj.GetName())
		}
	}
}

// issueClient signs, with p's CA, an admin client certificate valid until
// notAfter.
func issueClient(t *testing.T, p *fixture.PKI, notAfter time.Time) (certPEM, keyPEM []byte) {
	t.Helper()
	caBlock, _ := pem.Decode(p.CACert)
	ca, err := x509.ParseCertificate(caBlock.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	keyBlock, _ := pem.Decode(p.CAKey)
	var caKey crypto.Signer
	if k, err := x509.ParseECPrivateKey(keyBlock.Bytes); err == nil {
		caKey = k
	} else if k, err := x509.ParsePKCS1PrivateKey(keyBlock.Bytes); err == nil {
		caKey = k
	} else if k, err := x509.ParsePKCS8PrivateKey(keyBlock.Bytes); err == nil {
		caKey = k.(crypto.Signer)
	} else {
		t.Fatalf("cannot read the CA key: %v", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}},
		NotBefore:    notAfter.Add(-48 * time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}
