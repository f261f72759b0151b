//go:build realvcluster

package realvcluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/test/fixture"
)

// TestDefaultVCluster follows one vcluster installed with the chart's
// defaults through its life: registered against its real certificate, not
// disturbed by the other Secret vcluster labels, followed through a CA
// rotation vcluster performs itself, and deregistered by `helm uninstall`.
func TestDefaultVCluster(t *testing.T) {
	w := newWorld(t)
	vc := fixture.StartRealVClusterForTest(t, host, "alpha", "vcluster-alpha-"+fixture.RandomID())
	ctx := context.Background()

	var r *registration
	ok := t.Run("registered with the SANs vcluster serves", func(t *testing.T) {
		r = w.eventuallyRegistered(vc, nil)
		tlsCfg := r.cluster.Config.TLSClientConfig
		if tlsCfg.Insecure || tlsCfg.ServerName != vc.Name+"."+vc.Namespace {
			t.Fatalf("tlsClientConfig insecure=%v serverName=%q, want verified against %s.%s", tlsCfg.Insecure, tlsCfg.ServerName, vc.Name, vc.Namespace)
		}
		sans := servedDNSNames(t, vc)
		if !slices.Contains(sans, vc.Name+"."+vc.Namespace) || slices.Contains(sans, vc.Name+"."+vc.Namespace+".svc") {
			t.Fatalf("vcluster serves SANs %v: the registration's premise (it names <name>.<ns>, not <name>.<ns>.svc) no longer holds", sans)
		}
		kubeconfig, err := vc.KubeconfigSecret(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(tlsCfg.CAData, kubeconfig.Data["certificate-authority"]) {
			t.Error("the registration's CA is not the one vcluster exported")
		}
		user, err := whoAmI(argoCDClient(t, r, vc))
		if err != nil {
			t.Fatalf("Argo CD's client of the registration cannot reach vcluster: %v", err)
		}
		t.Logf("Argo CD's client reaches %s as %q, TLS verified against %s", serviceURL(vc), user, tlsCfg.ServerName)

		// Teeth: without the server name, TLS verifies the service DNS
		// name, which vcluster's certificate does not carry.
		noServerName := argoCDClient(t, r, vc)
		noServerName.ServerName = ""
		if _, err := whoAmI(noServerName); err == nil || !strings.Contains(err.Error(), "certificate is valid for") {
			t.Fatalf("without tlsClientConfig.serverName: got %v, want a certificate name mismatch", err)
		}
	})
	if !ok {
		return
	}

	ok = t.Run("the <name>-certs Secret vcluster writes triggers no write", func(t *testing.T) {
		certs := &corev1.Secret{}
		if err := host.Client.Get(ctx, client.ObjectKey{Namespace: vc.Namespace, Name: vc.Name + "-certs"}, certs); err != nil {
			t.Fatalf("vcluster wrote no %s-certs Secret: %v", vc.Name, err)
		}
		// From v0.26 it carries the labels of vc-<name>; v0.20 writes both
		// unlabelled (fixture.VClusterRelease.LabelsItsSecrets).
		labelled := certs.Labels["app"] == "vcluster" && certs.Labels["vcluster-name"] == vc.Name
		if labelled != vc.Release.LabelsItsSecrets {
			t.Fatalf("vcluster %s labelled %s-certs %v; the test assumes app=vcluster, vcluster-name=%s: %v", vc.Version, vc.Name, certs.Labels, vc.Name, vc.Release.LabelsItsSecrets)
		}
		// The registrar's first connection probe records its result once;
		// wait for it, so that only what the touch causes is counted.
		fixture.Eventually(t, "the first connection probe is recorded", func() bool {
			got, err := w.find(ctx, vc)
			if err != nil || got.secret.Annotations[api.ConnectionStateAnnotation] == "" {
				return false
			}
			r = got
			return true
		})
		t.Logf("connection probe: %s: %s", r.secret.Annotations[api.ConnectionStateAnnotation],
			r.secret.Annotations[api.ConnectionMessageAnnotation])
		writes := w.registrar.Metric(t, "registrar_writes_total")
		reconciles := w.registrar.Metric(t, "controller_runtime_reconcile_total")
		version := r.secret.ResourceVersion
		for i := range 3 {
			touch(t, certs, "registrar-test/touched", strconv.Itoa(i))
		}
		fixture.Consistently(t, "no reconcile, no write, the registration unchanged", 3*time.Second, func() bool {
			got, err := w.find(ctx, vc)
			return err == nil && got.secret.ResourceVersion == version &&
				w.registrar.Metric(t, "registrar_writes_total") == writes &&
				w.registrar.Metric(t, "controller_runtime_reconcile_total") == reconciles
		}, fixture.Every(250*time.Millisecond))
		// The registrar was listening: the same change to vc-<name> is
		// reconciled (and, its content unchanged, still not written).
		kubeconfig, err := vc.KubeconfigSecret(ctx)
		if err != nil {
			t.Fatal(err)
		}
		touch(t, kubeconfig, "registrar-test/touched", "1")
		fixture.Eventually(t, "a change to vc-"+vc.Name+" is reconciled", func() bool {
			return w.registrar.Metric(t, "controller_runtime_reconcile_total") > reconciles
		})
		if got := w.registrar.Metric(t, "registrar_writes_total"); got != writes {
			t.Errorf("an annotation on vc-%s wrote %v times", vc.Name, got-writes)
		}
	})
	if !ok {
		return
	}

	// vcluster certs rotate-ca from v0.30; a start without PKI before
	// (fixture.RealVCluster.RotateCA).
	ok = t.Run("a new CA of vcluster's is followed within a second", func(t *testing.T) {
		before, err := vc.KubeconfigSecret(ctx)
		if err != nil {
			t.Fatal(err)
		}
		oldCA := before.Data["certificate-authority"]
		oldClient := argoCDClient(t, r, vc)

		// Polled every 20 ms from before the rotation: when vcluster
		// rewrote vc-<name>, and when the registration carried its CA.
		watch := followRotation(ctx, w, vc, oldCA)
		start := time.Now()
		if err := vc.RotateCA(ctx); err != nil {
			t.Fatal(err)
		}
		exported, registered := watch.wait(t, 30*time.Second)
		lag := registered.Sub(exported)
		t.Logf("new CA and restart took %s; vc-%s rewritten %s after the start, registration followed %s later",
			time.Since(start).Round(100*time.Millisecond), vc.Name, exported.Sub(start).Round(10*time.Millisecond), lag.Round(10*time.Millisecond))
		if lag > time.Second {
			t.Errorf("the registration followed the new CA after %s, want within a second", lag)
		}

		r = w.eventuallyRegistered(vc, nil)
		if _, err := whoAmI(argoCDClient(t, r, vc)); err != nil {
			t.Fatalf("the registration after rotation cannot reach vcluster: %v", err)
		}
		if _, err := whoAmI(oldClient); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
			t.Fatalf("the registration before rotation: got %v, want its old CA refused", err)
		}
	})
	if !ok {
		return
	}

	t.Run("helm uninstall deregisters", func(t *testing.T) {
		if err := vc.Uninstall(ctx); err != nil {
			t.Fatal(err)
		}
		w.eventuallyDeregistered(vc)
	})
}

// servedDNSNames are the DNS SANs of the leaf certificate vcluster's proxy
// serves.
func servedDNSNames(t *testing.T, vc *fixture.RealVCluster) []string {
	t.Helper()
	conn, err := tls.Dial("tcp", net.JoinHostPort(vc.IP, strconv.Itoa(vc.Port)), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // reads the certificate only
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].DNSNames
}

// touch sets an annotation on s, a change of metadata alone.
func touch(t *testing.T, s *corev1.Secret, key, value string) {
	t.Helper()
	if err := host.Client.Get(context.Background(), client.ObjectKeyFromObject(s), s); err != nil {
		t.Fatal(err)
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[key] = value
	if err := host.Client.Update(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

// rotationWatch records when vc-<name> first carried a CA other than the
// old one, and when the registration first carried that new CA.
type rotationWatch struct {
	mu                   sync.Mutex
	exported, registered time.Time
	done                 chan struct{}
}

func followRotation(ctx context.Context, w *world, vc *fixture.RealVCluster, oldCA []byte) *rotationWatch {
	rw := &rotationWatch{done: make(chan struct{})}
	go func() {
		defer close(rw.done)
		var newCA []byte
		deadline := time.Now().Add(5 * time.Minute)
		for time.Now().Before(deadline) {
			if newCA == nil {
				if s, err := vc.KubeconfigSecret(ctx); err == nil && len(s.Data["certificate-authority"]) > 0 &&
					!bytes.Equal(s.Data["certificate-authority"], oldCA) {
					newCA = s.Data["certificate-authority"]
					rw.mu.Lock()
					rw.exported = time.Now()
					rw.mu.Unlock()
				}
			}
			if newCA != nil {
				if r, err := w.find(ctx, vc); err == nil && bytes.Equal(r.cluster.Config.CAData, newCA) {
					rw.mu.Lock()
					rw.registered = time.Now()
					rw.mu.Unlock()
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return rw
}

// wait returns both times once the registration followed, failing t after
// timeout.
func (rw *rotationWatch) wait(t *testing.T, timeout time.Duration) (exported, registered time.Time) {
	t.Helper()
	select {
	case <-rw.done:
	case <-time.After(timeout):
		t.Fatalf("no new CA in vc-<name> and the registration within %s", timeout)
	}
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.exported.IsZero() || rw.registered.IsZero() {
		t.Fatal("vcluster exported no new CA, or the registration never carried it")
	}
	return rw.exported, rw.registered
}
