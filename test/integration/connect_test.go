package integration

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/argoproj/argo-cd/v3/util/db"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// TestArgoCDConnectsToRegisteredVCluster is the end of the story at the
// smallest scale: the vcluster is a real API server whose certificate has
// only vcluster's SANs and which trusts only its own client certificates;
// the Argo CD Secret the registrar wrote is loaded with Argo CD's own code
// (util/db.SecretToCluster, Cluster.RawRestConfig) and a client built from
// it lists namespaces in the vcluster with TLS verified. The test's dialer
// stands in for cluster DNS: it resolves the service name to the stand-in.
// (Cluster.RESTConfig would wrap the same TLS settings in a transport whose
// dialer cannot be replaced.)
func TestArgoCDConnectsToRegisteredVCluster(t *testing.T) {
	e, ns := newEnvIn(t, "vcluster-sandbox")
	vc := e.newVCluster(ns, "sandbox")

	standIn := startStandIn(t, vc)

	secret := e.eventuallyRegistered(ns, "sandbox")
	cluster, err := db.SecretToCluster(secret)
	if err != nil {
		t.Fatalf("Argo CD cannot parse the registration: %v", err)
	}
	if cluster.Server != "https://sandbox."+ns+".svc" || cluster.Name != ns+"-sandbox" {
		t.Errorf("Argo CD sees server %q name %q", cluster.Server, cluster.Name)
	}
	if cluster.Config.Insecure {
		t.Fatal("registration skips TLS verification")
	}
	restConfig, err := cluster.RawRestConfig()
	if err != nil {
		t.Fatalf("Argo CD cannot build a client config: %v", err)
	}

	// Argo CD's client, as it would connect from inside the host cluster.
	serviceAddr := "sandbox." + ns + ".svc:443"
	restConfig.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr != serviceAddr {
			t.Errorf("dialled %s, want the service address %s", addr, serviceAddr)
		}
		return (&net.Dialer{}).DialContext(ctx, network, standIn.Addr)
	}
	if _, err := listNamespaces(restConfig); err != nil {
		t.Fatalf("Argo CD's client cannot reach the vcluster: %v", err)
	}

	// Without the server name the same client fails verification: the
	// service DNS name is not in vcluster's certificate, which is why the
	// registration names a SAN that is.
	noServerName := rest.CopyConfig(restConfig)
	noServerName.ServerName = ""
	_, err = listNamespaces(noServerName)
	if err == nil || !strings.Contains(err.Error(), "certificate is valid for") {
		t.Fatalf("without tlsClientConfig.serverName: got %v, want a certificate name mismatch", err)
	}
}

func listNamespaces(c *rest.Config) (int, error) {
	cs, err := kubernetes.NewForConfig(c)
	if err != nil {
		return 0, err
	}
	list, err := cs.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return 0, err
	}
	return len(list.Items), nil
}
