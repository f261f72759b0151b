package chart

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/registrar-dev/registrar/test/fixture"
)

// token creates ServiceAccount name in ns and returns a token of it, as
// the kubelet mounts one into a scraper's pod.
func token(t *testing.T, ns, name string) string {
	t.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	if err := k8sClient.Create(ctx, sa); err != nil {
		t.Fatal(err)
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)}}
	if err := k8sClient.SubResource("token").Create(ctx, sa, req); err != nil {
		t.Fatalf("requesting a token of ServiceAccount %s/%s: %v", ns, name, err)
	}
	return req.Status.Token
}

// scrape GETs url with bearer token (none if empty) and returns the status
// and body.
func scrape(t *testing.T, url, token string) (int, string) {
	t.Helper()
	// The endpoint's certificate is self-signed by default (metrics.certSecret
	// unset), as the ServiceMonitor's default tlsConfig expects.
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// The chart's HTTPS metrics, on a real API server: the registrar, with the
// rendered flags and as the chart's ServiceAccount (whose metrics-auth
// ClusterRole lets it review tokens), serves metrics only to a token bound
// to the metrics-reader ClusterRole, here through metrics.readerSubjects.
func TestMetricsServeOnlyAuthorizedScrapers(t *testing.T) {
	id := fixture.RandomID()
	in := install(t, "namespaceSelector=registrar-chart-test="+id,
		"metrics.readerSubjects[0].kind=ServiceAccount", "metrics.readerSubjects[0].name=scraper")
	args := in.m.container(t).Args
	if !slices.Contains(args, "--metrics-secure=true") {
		t.Fatalf("the chart's args %v do not turn on secure metrics", args)
	}
	scraper := token(t, in.ns, "scraper")
	tenant := token(t, in.ns, "tenant")

	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := fixture.WriteKubeconfig(cfg, kubeconfig, in.user()); err != nil {
		t.Fatal(err)
	}
	metricsAddr, probeAddr := fixture.FreeAddr(t), fixture.FreeAddr(t)
	proc := fixture.StartForTest(t, fixture.Command{Name: "registrar", Path: fixture.RegistrarBinary(t),
		Args: append(slices.Clone(args), "--kubeconfig", kubeconfig,
			"--metrics-bind-address", metricsAddr, "--health-probe-bind-address", probeAddr)})
	fixture.Await(t, "the registrar is ready", fixture.Succeeds(func() error {
		return fixture.HTTPGetOK("http://" + probeAddr + "/readyz")
	}), fixture.Within(timeout), fixture.WhileRunning(proc))

	// The metrics server starts beside the caches; readyz does not wait for it.
	fixture.Await(t, "the metrics endpoint listens", fixture.Succeeds(func() error {
		conn, err := net.DialTimeout("tcp", metricsAddr, time.Second)
		if err == nil {
			conn.Close()
		}
		return err
	}), fixture.Within(timeout), fixture.WhileRunning(proc))
	url := "https://" + metricsAddr + "/metrics"
	if code, _ := scrape(t, url, ""); code != http.StatusUnauthorized {
		t.Errorf("a scrape without a token: %d, want 401", code)
	}
	if code, body := scrape(t, url, tenant); code != http.StatusForbidden {
		t.Errorf("a scrape with a token not bound to the metrics-reader ClusterRole: %d, want 403\n%.200s", code, body)
	}
	code, body := scrape(t, url, scraper)
	if code != http.StatusOK || !strings.Contains(body, "registrar_registered_clusters") {
		t.Errorf("a scrape with the metrics reader's token: %d, want 200 and the registrar's metrics\n%.300s", code, body)
	}
}

// metrics.secure=false keeps metrics in the pod: plain HTTP on loopback,
// no container port, no review permissions; metrics.certSecret mounts a
// certificate for the HTTPS endpoint.
func TestMetricsPlainOnLoopbackOrWithACertificate(t *testing.T) {
	m := release{name: "registrar", namespace: "ops", set: []string{"metrics.secure=false", "metrics.port=9090"}}.template(t)
	c := m.container(t)
	for _, want := range []string{"--metrics-bind-address=127.0.0.1:9090", "--metrics-secure=false"} {
		if !slices.Contains(c.Args, want) {
			t.Errorf("args %v lack %s", c.Args, want)
		}
	}
	if _, ok := containerPorts(c)["metrics"]; ok {
		t.Error("plain metrics on loopback still declare a container port")
	}
	for _, o := range m.typed {
		if r, ok := o.(*rbacv1.ClusterRole); ok && strings.Contains(r.Name, "metrics") {
			t.Errorf("ClusterRole %s rendered for plain metrics", r.Name)
		}
	}

	m = release{name: "registrar", namespace: "ops", set: []string{"metrics.certSecret=registrar-metrics-tls"}}.template(t)
	c = m.container(t)
	if !slices.Contains(c.Args, "--metrics-cert-dir=/etc/registrar/metrics-certs") {
		t.Errorf("args %v do not name the certificate directory", c.Args)
	}
	pod := m.deployment(t).Spec.Template.Spec
	if len(pod.Volumes) != 1 || pod.Volumes[0].Secret == nil || pod.Volumes[0].Secret.SecretName != "registrar-metrics-tls" ||
		len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != "/etc/registrar/metrics-certs" || !c.VolumeMounts[0].ReadOnly {
		t.Errorf("volumes %+v, mounts %+v: want the Secret mounted read-only at the certificate directory", pod.Volumes, c.VolumeMounts)
	}
}
