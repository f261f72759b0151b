// Package e2e holds what the two end-to-end suites share: the suite on kind
// (build tag e2e, `make e2e`) and its offline twin on this machine (build tag
// e2elocal, `make e2e-local`). Both run the same story through RunStory:
// vclusters appear in the host cluster, the registrar registers them, Argo CD
// connects to them over their service DNS names, an Application syncs a
// ConfigMap from git into each, and deleting a vcluster deregisters it.
//
// Every check reads Argo CD's own view where Argo CD has one: cluster Secrets
// are parsed with Argo CD's util/db code, the connection state is the cluster
// info Argo CD's controller keeps in its Redis (what its UI and API show), and
// the sync and health states are those on the Application.
package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	cacheutil "github.com/argoproj/argo-cd/v3/util/cache"
	appstatecache "github.com/argoproj/argo-cd/v3/util/cache/appstate"
	"github.com/argoproj/argo-cd/v3/util/db"
	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/registrar-dev/registrar/test/fixture"
)

// Labels Argo CD and the registrar put on a cluster Secret; repeated here
// rather than imported so that the suites check the registrar's output
// against the documented contract, not against its own constants.
const (
	argoCDSecretTypeLabel = "argocd.argoproj.io/secret-type" // common.LabelKeySecretType in argo-cd
	managedByLabel        = "app.kubernetes.io/managed-by"
	managedByRegistrar    = "registrar"
	// The vcluster a registration is for (docs/api.md).
	sourceNamespaceLabel = "registrar.dev/source-namespace"
	sourceNameLabel      = "registrar.dev/source-name"
	// The registrar's own connection probe records its result here
	// (docs/monitoring.md).
	connectionStateAnnotation   = "registrar.dev/connection-state"
	connectionMessageAnnotation = "registrar.dev/connection-message"
	// What a registration was built from, hashed (docs/api.md):
	// it changes exactly when the registration is rewritten.
	contentHashAnnotation = "registrar.dev/content-hash"
)

// World is a running system under test, as both suites see it.
type World struct {
	// Host is a client of the host cluster whose scheme knows Argo CD's
	// types (NewScheme).
	Host client.Client
	// ArgoCDNamespace is where Argo CD and its cluster Secrets live.
	ArgoCDNamespace string
	// ClusterInfo reads the cluster info Argo CD's controller keeps for a
	// server (RedisClusterInfo).
	ClusterInfo func(ctx context.Context, server string) (*v1alpha1.ClusterInfo, error)
	// Timeout bounds every wait.
	Timeout time.Duration
}

// VCluster is one vcluster of the story.
type VCluster struct {
	Name, Namespace string
	// Client is a client of the vcluster's own API server.
	Client client.Client
}

// Server is the URL the registrar registers: the vcluster's service DNS name.
func (v VCluster) Server() string { return "https://" + v.Name + "." + v.Namespace + ".svc" }

// TLSServerName is the name the registration verifies the vcluster's serving
// certificate against: a SAN vcluster puts in it ("<svc>.<ns>"), unlike the
// service DNS name.
func (v VCluster) TLSServerName() string { return v.Name + "." + v.Namespace }

// Story is what RunStory needs beyond the World.
type Story struct {
	// VClusters are running and written into the host before RunStory.
	VClusters []VCluster
	// RepoURL and Path name the git directory holding Manifest.
	RepoURL, Path string
	// Manifest is the ConfigMap each Application syncs (LoadManifest).
	Manifest *corev1.ConfigMap
	// DeleteVCluster deletes a vcluster from the host cluster.
	DeleteVCluster func(ctx context.Context, vc VCluster) error
	// SwapCA rewrites vc's kubeconfig Secret with a new CA and client
	// certificate while vc keeps serving its old certificate: a rotation
	// gone wrong, which both Argo CD and the registrar must report. nil
	// skips that step.
	SwapCA func(ctx context.Context, vc VCluster) error
}

// RunStory runs the end-to-end story: every vcluster is registered, Argo CD
// syncs the manifest into it and reports the connection Successful, and the
// registrar's own probe agrees; with SwapCA, the last vcluster's CA is
// swapped and both report it Failed; then the last vcluster is deleted and
// must be deregistered while the others stay.
func RunStory(t *testing.T, w World, s Story) {
	t.Helper()
	if len(s.VClusters) < 2 {
		t.Fatal("the story needs two vclusters: one deleted, one that must stay registered")
	}
	ctx := context.Background()
	for _, vc := range s.VClusters {
		EventuallyRegistered(t, w, vc)
		t.Logf("%s/%s registered as %s", vc.Namespace, vc.Name, vc.Server())
	}
	for _, vc := range s.VClusters {
		if err := w.Host.Create(ctx, Application(w.ArgoCDNamespace, vc, s.RepoURL, s.Path)); err != nil {
			t.Fatalf("creating the Application for %s: %v", vc.Name, err)
		}
	}
	for _, vc := range s.VClusters {
		EventuallySyncedAndHealthy(t, w, vc)
		EventuallyDeployed(t, w, vc, s.Manifest)
		EventuallyConnection(t, w, vc, v1alpha1.ConnectionStatusSuccessful)
		EventuallyProbed(t, w, vc, "Successful")
		t.Logf("%s: Application Synced and Healthy, ConfigMap inside the vcluster, connection Successful for Argo CD and the registrar", vc.Name)
	}

	gone, kept := s.VClusters[len(s.VClusters)-1], s.VClusters[:len(s.VClusters)-1]
	if s.SwapCA != nil {
		if err := s.SwapCA(ctx, gone); err != nil {
			t.Fatalf("swapping the CA of %s: %v", gone.Name, err)
		}
		EventuallyConnection(t, w, gone, v1alpha1.ConnectionStatusFailed)
		msg := EventuallyProbed(t, w, gone, "Failed")
		t.Logf("%s with a swapped CA: Failed for Argo CD and the registrar (%s)", gone.Name, msg)
	}
	if err := s.DeleteVCluster(ctx, gone); err != nil {
		t.Fatalf("deleting vcluster %s: %v", gone.Name, err)
	}
	EventuallyDeregistered(t, w, gone)
	t.Logf("%s deregistered after its deletion", gone.Name)
	for _, vc := range kept {
		if _, _, err := findCluster(ctx, w, vc); err != nil {
			t.Errorf("%s lost its registration when %s was deleted: %v", vc.Name, gone.Name, err)
		}
	}
}

// EventuallyRegistered waits for exactly one Argo CD cluster Secret whose
// server, as Argo CD's own parser reads it, is the vcluster's service URL,
// written by the registrar, verifying TLS against a name in vcluster's
// certificate. It returns the cluster as Argo CD loads it.
func EventuallyRegistered(t *testing.T, w World, vc VCluster) *v1alpha1.Cluster {
	t.Helper()
	var cluster *v1alpha1.Cluster
	eventually(t, w.Timeout, vc.Name+" registered in Argo CD", func(ctx context.Context) (bool, string, error) {
		c, _, err := findCluster(ctx, w, vc)
		if err != nil {
			return false, err.Error(), nil
		}
		cluster = c
		return true, "", nil
	})
	tls := cluster.Config.TLSClientConfig
	switch {
	case tls.Insecure:
		t.Errorf("%s: registration skips TLS verification", vc.Name)
	case tls.ServerName != vc.TLSServerName():
		t.Errorf("%s: tlsClientConfig.serverName %q, want %q", vc.Name, tls.ServerName, vc.TLSServerName())
	case len(tls.CAData) == 0:
		t.Errorf("%s: registration carries no CA", vc.Name)
	case len(tls.CertData) == 0 && cluster.Config.BearerToken == "":
		t.Errorf("%s: registration carries no credentials", vc.Name)
	}
	return cluster
}

// findCluster returns the cluster Argo CD loads for vc's server and the
// Secret it comes from, or an error saying why there is not exactly one
// registered by the registrar.
func findCluster(ctx context.Context, w World, vc VCluster) (*v1alpha1.Cluster, *corev1.Secret, error) {
	var found []*v1alpha1.Cluster
	var secret *corev1.Secret
	var list corev1.SecretList
	if err := w.Host.List(ctx, &list, client.InNamespace(w.ArgoCDNamespace),
		client.MatchingLabels{argoCDSecretTypeLabel: "cluster"}); err != nil {
		return nil, nil, err
	}
	for i := range list.Items {
		s := &list.Items[i]
		c, err := db.SecretToCluster(s)
		if err != nil {
			return nil, nil, fmt.Errorf("cluster Secret %s is not one Argo CD can parse: %w", s.Name, err)
		}
		if c.Server != vc.Server() {
			continue
		}
		if s.Labels[managedByLabel] != managedByRegistrar {
			return nil, nil, fmt.Errorf("cluster Secret %s for %s is not labelled %s=%s", s.Name, c.Server, managedByLabel, managedByRegistrar)
		}
		found, secret = append(found, c), s
	}
	if len(found) != 1 {
		return nil, nil, fmt.Errorf("%d cluster Secrets with server %s among %d", len(found), vc.Server(), len(list.Items))
	}
	return found[0], secret, nil
}

// EventuallyDeregistered waits until no Argo CD cluster Secret names the
// vcluster's server.
func EventuallyDeregistered(t *testing.T, w World, vc VCluster) {
	t.Helper()
	eventually(t, w.Timeout, vc.Name+" deregistered", func(ctx context.Context) (bool, string, error) {
		var list corev1.SecretList
		if err := w.Host.List(ctx, &list, client.InNamespace(w.ArgoCDNamespace),
			client.MatchingLabels{argoCDSecretTypeLabel: "cluster"}); err != nil {
			return false, "", err
		}
		for i := range list.Items {
			if c, err := db.SecretToCluster(&list.Items[i]); err == nil && c.Server == vc.Server() {
				return false, "cluster Secret " + list.Items[i].Name + " still exists", nil
			}
		}
		return true, "", nil
	})
}

// EventuallyConnection waits until Argo CD's controller reports its
// connection to the vcluster in status (v1alpha1.ConnectionStatusSuccessful,
// which it reports only after it has listed and watched the vcluster's
// resources, or ConnectionStatusFailed).
func EventuallyConnection(t *testing.T, w World, vc VCluster, status string) {
	t.Helper()
	eventually(t, w.Timeout, "Argo CD reports "+vc.Server()+" "+status, func(ctx context.Context) (bool, string, error) {
		info, err := w.ClusterInfo(ctx, vc.Server())
		if err != nil {
			return false, err.Error(), nil
		}
		st := info.ConnectionState
		return st.Status == status, st.Status + " " + st.Message, nil
	})
}

// EventuallyProbed waits until the registrar's connection probe records
// state (Successful or Failed) on vc's registration, and returns its
// message.
func EventuallyProbed(t *testing.T, w World, vc VCluster, state string) string {
	t.Helper()
	var msg string
	eventually(t, w.Timeout, "the registrar records "+vc.Server()+" "+state, func(ctx context.Context) (bool, string, error) {
		_, s, err := findCluster(ctx, w, vc)
		if err != nil {
			return false, err.Error(), nil
		}
		msg = s.Annotations[connectionMessageAnnotation]
		got := s.Annotations[connectionStateAnnotation]
		return got == state, got + " " + msg, nil
	})
	return msg
}

// EventuallySyncedAndHealthy waits until vc's Application is Synced and
// Healthy against vc's server.
func EventuallySyncedAndHealthy(t *testing.T, w World, vc VCluster) {
	t.Helper()
	eventually(t, w.Timeout, "Application "+vc.Name+" Synced and Healthy", func(ctx context.Context) (bool, string, error) {
		var app v1alpha1.Application
		if err := w.Host.Get(ctx, client.ObjectKey{Namespace: w.ArgoCDNamespace, Name: vc.Name}, &app); err != nil {
			return false, "", err
		}
		st := app.Status
		state := fmt.Sprintf("sync %q health %q compared to %q", st.Sync.Status, st.Health.Status, st.Sync.ComparedTo.Destination.Server)
		for _, c := range st.Conditions {
			state += fmt.Sprintf("; condition %s: %s", c.Type, c.Message)
		}
		if st.OperationState != nil {
			state += fmt.Sprintf("; operation %s: %s", st.OperationState.Phase, st.OperationState.Message)
		}
		return st.Sync.Status == v1alpha1.SyncStatusCodeSynced && st.Health.Status == "Healthy" &&
			st.Sync.ComparedTo.Destination.Server == vc.Server(), state, nil
	})
}

// EventuallyDeployed waits until the manifest's ConfigMap exists inside the
// vcluster with the manifest's data.
func EventuallyDeployed(t *testing.T, w World, vc VCluster, want *corev1.ConfigMap) {
	t.Helper()
	eventually(t, w.Timeout, "ConfigMap "+want.Name+" inside "+vc.Name, func(ctx context.Context) (bool, string, error) {
		var got corev1.ConfigMap
		err := vc.Client.Get(ctx, client.ObjectKeyFromObject(want), &got)
		if apierrors.IsNotFound(err) {
			return false, "not found", nil
		}
		if err != nil {
			return false, err.Error(), nil
		}
		for k, v := range want.Data {
			if got.Data[k] != v {
				return false, fmt.Sprintf("data[%s] = %q, want %q", k, got.Data[k], v), nil
			}
		}
		return true, "", nil
	})
}

// Application deploys path of repoURL into vc, synced automatically, named
// after the vcluster.
func Application(namespace string, vc VCluster, repoURL, path string) *v1alpha1.Application {
	return &v1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: vc.Name, Namespace: namespace},
		Spec: v1alpha1.ApplicationSpec{
			Project: "default",
			Source:  &v1alpha1.ApplicationSource{RepoURL: repoURL, Path: path, TargetRevision: "HEAD"},
			Destination: v1alpha1.ApplicationDestination{
				Server:    vc.Server(),
				Namespace: "default",
			},
			SyncPolicy: &v1alpha1.SyncPolicy{Automated: &v1alpha1.SyncPolicyAutomated{}},
		},
	}
}

// NewScheme knows Kubernetes' built-in types and Argo CD's.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// NewClient is a client of cfg's cluster that knows Argo CD's types.
func NewClient(cfg *rest.Config) (client.Client, error) {
	s, err := NewScheme()
	if err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{Scheme: s})
}

// RedisClusterInfo reads cluster info from Argo CD's Redis at addr with
// Argo CD's own cache code (util/cache/appstate), gzip-compressed as the
// controller writes it by default (--redis-compress).
func RedisClusterInfo(addr, password string) func(context.Context, string) (*v1alpha1.ClusterInfo, error) {
	rc := redis.NewClient(&redis.Options{Addr: addr, Password: password})
	cache := appstatecache.NewCache(cacheutil.NewCache(cacheutil.NewRedisCache(rc, time.Hour, cacheutil.RedisCompressionGZip)), time.Hour)
	return func(_ context.Context, server string) (*v1alpha1.ClusterInfo, error) {
		var info v1alpha1.ClusterInfo
		if err := cache.GetClusterInfo(server, &info); err != nil {
			return nil, fmt.Errorf("cluster info of %s: %w", server, err)
		}
		return &info, nil
	}
}

// LoadManifest reads the ConfigMap the Applications sync
// (hack/e2e/app/configmap.yaml).
func LoadManifest(path string) (*corev1.ConfigMap, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var cm corev1.ConfigMap
	if err := yaml.NewYAMLOrJSONDecoder(f, 4096).Decode(&cm); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if cm.Kind != "ConfigMap" || cm.Name == "" || cm.Namespace == "" || len(cm.Data) == 0 {
		return nil, fmt.Errorf("%s: want a ConfigMap with a name, a namespace and data", path)
	}
	return &cm, nil
}

// eventually waits, polling every 250 ms for at most timeout, until cond
// holds (fixture.Await): the test fails with the last state cond reported.
func eventually(t *testing.T, timeout time.Duration, what string, cond fixture.Condition) {
	t.Helper()
	fixture.Await(t, what, cond, fixture.Within(timeout), fixture.Every(250*time.Millisecond))
}
