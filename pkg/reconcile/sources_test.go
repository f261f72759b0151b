package reconcile

import (
	"testing"

	"github.com/registrar-dev/registrar/pkg/registration"
	"github.com/registrar-dev/registrar/test/fixture"
)

// sources are the host-cluster objects of a healthy vcluster, as vcluster
// writes them.
func sources(t testing.TB) (registration.Sources, *fixture.VCluster) {
	t.Helper()
	vc, secret := fixture.Sandbox(t)
	sts := vc.StatefulSet()
	sts.UID = "uid-1"
	return registration.Sources{Workload: sts, Kind: "StatefulSet", Service: vc.Service(), KubeconfigSecret: secret}, vc
}

var opts = registration.BuildOptions{ArgoCDNamespace: "argocd"}
