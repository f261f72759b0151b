//go:build realvcluster

// Package realvcluster proves the registrar against vcluster itself:
// vcluster's own binary (`vcluster start`, built from the Go module proxy by
// hack/build-vcluster.sh) installed from its own chart into a real host API
// server (fixture.StartRealVCluster), the registrar built from this tree,
// and what it writes read with Argo CD's own code. Run by `make e2e-local`
// (v0.30.0, as CI does) and, per release, by `make e2e-vcluster`. Needs
// root. Without the vcluster binary the suite fails, it never skips.
package realvcluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/argoproj/argo-cd/v3/util/db"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/registrar-dev/registrar/test/fixture"
)

// host is the suite's host cluster.
var host *fixture.Host

func TestMain(m *testing.M) {
	// Checked before any host starts: a missing binary fails the run with
	// the way to build it.
	if _, _, err := fixture.VClusterFromEnv(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(fixture.RunTests(m, func(h *fixture.Host) { host = h }))
}

// world is one test's registrar and the Argo CD namespace it writes into.
type world struct {
	t         *testing.T
	argocd    string
	registrar *fixture.Controller
}

// newWorld creates an Argo CD namespace and runs the registrar built from
// this tree, writing there.
func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, argocd: "argocd-" + fixture.RandomID()}
	if err := host.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: w.argocd}}); err != nil {
		t.Fatal(err)
	}
	w.registrar = fixture.StartRegistrar(t, host.Kubeconfig, "controller", "--argocd-namespace", w.argocd)
	fixture.Await(t, "the registrar is ready", fixture.Succeeds(w.registrar.Ready),
		fixture.Within(30*time.Second), fixture.WhileRunning(w.registrar.Process))
	return w
}

// registration is the Argo CD cluster Secret the registrar wrote for vc,
// and the cluster Argo CD loads from it.
type registration struct {
	secret  *corev1.Secret
	cluster *v1alpha1.Cluster
}

// lookup returns every cluster Secret in the Argo CD namespace whose
// server, as Argo CD loads it, is vc's service URL.
func (w *world) lookup(ctx context.Context, vc *fixture.RealVCluster) ([]*registration, error) {
	var list corev1.SecretList
	if err := host.Client.List(ctx, &list, client.InNamespace(w.argocd),
		client.MatchingLabels{"argocd.argoproj.io/secret-type": "cluster"}); err != nil {
		return nil, err
	}
	var found []*registration
	for i := range list.Items {
		s := &list.Items[i]
		c, err := db.SecretToCluster(s)
		if err != nil {
			return nil, fmt.Errorf("Argo CD cannot load cluster Secret %s: %w", s.Name, err)
		}
		if c.Server == serviceURL(vc) {
			found = append(found, &registration{secret: s, cluster: c})
		}
	}
	return found, nil
}

// find returns vc's registration, or an error saying why there is not
// exactly one.
func (w *world) find(ctx context.Context, vc *fixture.RealVCluster) (*registration, error) {
	found, err := w.lookup(ctx, vc)
	if err != nil {
		return nil, err
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("%d cluster Secrets for %s", len(found), serviceURL(vc))
	}
	return found[0], nil
}

// eventuallyRegistered waits until vc is registered and fit returns nil
// for its registration.
func (w *world) eventuallyRegistered(vc *fixture.RealVCluster, fit func(*registration) error) *registration {
	w.t.Helper()
	var r *registration
	fixture.Await(w.t, vc.Name+" registered", func(ctx context.Context) (bool, string, error) {
		var err error
		if r, err = w.find(ctx, vc); err != nil {
			return false, err.Error(), nil
		}
		if fit != nil {
			if err := fit(r); err != nil {
				return false, err.Error(), nil
			}
		}
		return true, "", nil
	}, fixture.Within(60*time.Second), fixture.WhileRunning(w.registrar.Process))
	return r
}

// eventuallyDeregistered waits until no cluster Secret names vc's server.
func (w *world) eventuallyDeregistered(vc *fixture.RealVCluster) {
	w.t.Helper()
	fixture.Await(w.t, vc.Name+" deregistered", func(ctx context.Context) (bool, string, error) {
		found, err := w.lookup(ctx, vc)
		if err != nil {
			return false, err.Error(), nil
		}
		return len(found) == 0, fmt.Sprintf("%d cluster Secrets for %s", len(found), serviceURL(vc)), nil
	}, fixture.Within(60*time.Second), fixture.WhileRunning(w.registrar.Process))
}

// serviceURL is the server the registrar registers for vc.
func serviceURL(vc *fixture.RealVCluster) string {
	return "https://" + vc.Name + "." + vc.Namespace + ".svc"
}

// argoCDClient is the client Argo CD builds from r (Cluster.RawRestConfig),
// with a dialer standing in for cluster DNS and the Service: it sends the
// connection for the service address to vc's proxy. The URL, and so what
// TLS verifies, stays the registration's.
func argoCDClient(t *testing.T, r *registration, vc *fixture.RealVCluster) *rest.Config {
	t.Helper()
	cfg, err := r.cluster.RawRestConfig()
	if err != nil {
		t.Fatalf("Argo CD cannot build a client of the registration: %v", err)
	}
	serviceAddr := vc.Name + "." + vc.Namespace + ".svc:443"
	proxy := net.JoinHostPort(vc.IP, strconv.Itoa(vc.Port))
	cfg.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr != serviceAddr {
			return nil, fmt.Errorf("dialled %s, want the service address %s", addr, serviceAddr)
		}
		return (&net.Dialer{}).DialContext(ctx, network, proxy)
	}
	cfg.Timeout = 10 * time.Second
	return cfg
}

// whoAmI asks the vcluster who cfg authenticates as (SelfSubjectReview):
// a request that succeeds only with TLS verified and credentials accepted.
func whoAmI(cfg *rest.Config) (string, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", err
	}
	r, err := cs.AuthenticationV1().SelfSubjectReviews().Create(context.Background(), &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	return r.Status.UserInfo.Username, nil
}
