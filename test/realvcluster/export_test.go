//go:build realvcluster

package realvcluster

import (
	"context"
	"slices"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/registrar-dev/registrar/test/fixture"
)

// TestServiceAccountToken: with exportKubeConfig.serviceAccount, vcluster
// exports a long-lived token of that ServiceAccount instead of client
// certificates; the registrar registers it as the bearer token, and Argo
// CD's client of the registration is that ServiceAccount inside vcluster.
//
// v0.20 has no exportKubeConfig.serviceAccount: there the test proves that
// its chart refuses the setting, as docs/supported-versions.md says.
func TestServiceAccountToken(t *testing.T) {
	const values = `
exportKubeConfig:
  serviceAccount:
    name: argocd-manager
    namespace: kube-system
    clusterRole: cluster-admin
`
	if _, version, _ := fixture.VClusterFromEnv(); !mustRelease(t, version).ExportsServiceAccount {
		_, err := fixture.StartRealVCluster(context.Background(), host, "beta", "vcluster-beta-"+fixture.RandomID(), fixture.Values(values))
		if err == nil || !strings.Contains(err.Error(), "additional properties 'serviceAccount' not allowed") {
			t.Fatalf("vcluster %s with exportKubeConfig.serviceAccount: got %v, want its chart's schema to refuse the key", version, err)
		}
		t.Logf("vcluster %s refuses exportKubeConfig.serviceAccount: %v", version, err)
		return
	}
	w := newWorld(t)
	vc := fixture.StartRealVClusterForTest(t, host, "beta", "vcluster-beta-"+fixture.RandomID(), fixture.Values(values))
	kubeconfig, err := vc.KubeconfigSecret(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(kubeconfig.Data["token"]) == 0 || len(kubeconfig.Data["client-key"]) != 0 {
		t.Fatalf("vc-%s has keys %v: the test assumes vcluster exports a token and no client key", vc.Name, keys(kubeconfig.Data))
	}
	r := w.eventuallyRegistered(vc, nil)
	cfg := r.cluster.Config
	if cfg.BearerToken == "" || len(cfg.TLSClientConfig.CertData) != 0 || len(cfg.TLSClientConfig.KeyData) != 0 {
		t.Fatalf("registration has a bearer token: %v, client certificate: %v; want the token alone", cfg.BearerToken != "", len(cfg.TLSClientConfig.CertData) != 0)
	}
	user, err := whoAmI(argoCDClient(t, r, vc))
	if err != nil {
		t.Fatalf("Argo CD's client of the registration cannot reach vcluster: %v", err)
	}
	if want := "system:serviceaccount:kube-system:argocd-manager"; user != want {
		t.Fatalf("Argo CD's client is %q inside vcluster, want %q", user, want)
	}
}

// TestServerAndExtraSANsChangeNothing: a user's exportKubeConfig.server
// and controlPlane.proxy.extraSANs change vcluster's kubeconfig and
// certificate, but not what the registrar writes: the service URL and the
// <name>.<ns> server name, which vcluster still serves.
func TestServerAndExtraSANsChangeNothing(t *testing.T) {
	w := newWorld(t)
	vc := fixture.StartRealVClusterForTest(t, host, "gamma", "vcluster-gamma-"+fixture.RandomID(), fixture.Values(`
exportKubeConfig:
  server: https://gamma.example.com:9443
controlPlane:
  proxy:
    extraSANs: [gamma.example.com]
`))
	// The settings took effect in vcluster.
	kubeconfig, err := vc.KubeconfigSecret(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	exported, err := clientcmd.Load(kubeconfig.Data["config"])
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range exported.Clusters {
		if c.Server != "https://gamma.example.com:9443" {
			t.Fatalf("vcluster exported cluster %s with server %q, want exportKubeConfig.server", name, c.Server)
		}
	}
	if sans := servedDNSNames(t, vc); !slices.Contains(sans, "gamma.example.com") {
		t.Fatalf("vcluster serves SANs %v, without the extra SAN", sans)
	}

	r := w.eventuallyRegistered(vc, nil)
	tlsCfg := r.cluster.Config.TLSClientConfig
	if r.cluster.Server != serviceURL(vc) || tlsCfg.ServerName != vc.Name+"."+vc.Namespace || tlsCfg.Insecure {
		t.Fatalf("registration server %q serverName %q insecure %v, want %s verified against %s.%s as without the settings",
			r.cluster.Server, tlsCfg.ServerName, tlsCfg.Insecure, serviceURL(vc), vc.Name, vc.Namespace)
	}
	if _, err := whoAmI(argoCDClient(t, r, vc)); err != nil {
		t.Fatalf("Argo CD's client of the registration cannot reach vcluster: %v", err)
	}
}

// mustRelease is what the fixture knows of vcluster version.
func mustRelease(t *testing.T, version string) fixture.VClusterRelease {
	t.Helper()
	r, err := fixture.ReleaseOf(version)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
