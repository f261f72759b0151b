//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	streamhttp "k8s.io/streaming/pkg/httpstream"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The suite on a real cluster, run twice over: on kind (`make e2e`,
// hack/e2e/kind.sh) and on the real single-node cluster this machine runs
// offline (`make e2e-node`, hack/e2e/node.sh). Each brings up Argo CD, the
// registrar (charts/registrar) and two vclusters from vcluster's chart, then
// runs this with KUBECONFIG pointing at the cluster and HELM at the helm that
// installed them. Argo CD runs in the cluster and resolves the vclusters'
// service DNS names through cluster DNS; the test reaches Argo CD's Redis
// and each vcluster's API server through port-forwards, as a user's kubectl
// would, and deletes a vcluster as a user does, with `helm uninstall`.

const (
	clusterArgoCDNamespace = "argocd"
	// gitServer serves the manifest from inside the cluster, so that the
	// story needs no repository on the internet.
	gitServer = "registrar-e2e-git"
	gitPort   = 9418
)

var clusterVClusters = []string{"sandbox", "staging"}

func TestClusterStory(t *testing.T) {
	ctx := context.Background()
	cfg, host, cs, helm := clusterClients(t)
	namespaces := []string{clusterArgoCDNamespace}
	for _, name := range clusterVClusters {
		namespaces = append(namespaces, "vcluster-"+name)
	}
	t.Cleanup(func() {
		if t.Failed() {
			dumpCluster(t, cs, namespaces)
		}
	})

	manifestPath := filepath.Join("..", "..", "hack", "e2e", "app", "configmap.yaml")
	manifest, err := LoadManifest(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	repoURL := startGitServer(ctx, t, host, manifestPath)

	redisPod := runningPod(ctx, t, cs, clusterArgoCDNamespace, "app.kubernetes.io/name=argocd-redis")
	redisAddr := forwardPort(t, cfg, clusterArgoCDNamespace, redisPod, 6379)
	// The argo-cd chart generates a Redis password into Secret argocd-redis
	// (redisSecretInit); older charts run Redis without one.
	var redisPassword string
	var redisSecret corev1.Secret
	err = host.Get(ctx, client.ObjectKey{Namespace: clusterArgoCDNamespace, Name: "argocd-redis"}, &redisSecret)
	switch {
	case err == nil:
		redisPassword = string(redisSecret.Data["auth"])
	case !apierrors.IsNotFound(err):
		t.Fatal(err)
	}

	var vcs []VCluster
	for _, name := range clusterVClusters {
		vcs = append(vcs, VCluster{Name: name, Namespace: "vcluster-" + name, Client: vclusterClient(ctx, t, host, cfg, name)})
	}

	RunStory(t, World{
		Host:            host,
		ArgoCDNamespace: clusterArgoCDNamespace,
		ClusterInfo:     RedisClusterInfo(redisAddr, redisPassword),
		Timeout:         3 * time.Minute,
	}, Story{
		VClusters: vcs,
		RepoURL:   repoURL,
		Path:      "app",
		Manifest:  manifest,
		DeleteVCluster: func(ctx context.Context, vc VCluster) error {
			out, err := exec.CommandContext(ctx, helm, "uninstall", vc.Name, "--namespace", vc.Namespace, "--wait").CombinedOutput()
			if err != nil {
				return fmt.Errorf("helm uninstall %s: %w: %s", vc.Name, err, out)
			}
			return nil
		},
	})
}

// clusterClients connects to the cluster of $KUBECONFIG, which `make e2e`
// (kind) or `make e2e-node` (the real node) brought up, and returns $HELM.
func clusterClients(t *testing.T) (*rest.Config, client.Client, kubernetes.Interface, string) {
	t.Helper()
	kubeconfig, helm := os.Getenv("KUBECONFIG"), os.Getenv("HELM")
	if kubeconfig == "" || helm == "" {
		t.Fatal("KUBECONFIG or HELM is not set: run `make e2e` (kind) or `make e2e-node` (the real node)")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	host, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, host, cs, helm
}

// vclusterClient connects to a vcluster's API server through a port-forward
// to its pod, with the credentials of the kubeconfig Secret vcluster wrote.
// That kubeconfig names https://localhost:8443, and localhost is one of the
// serving certificate's SANs, so TLS is verified.
func vclusterClient(ctx context.Context, t *testing.T, host client.Client, cfg *rest.Config, name string) client.Client {
	t.Helper()
	ns := "vcluster-" + name
	var secret corev1.Secret
	if err := host.Get(ctx, client.ObjectKey{Namespace: ns, Name: "vc-" + name}, &secret); err != nil {
		t.Fatalf("kubeconfig Secret of vcluster %s: %v", name, err)
	}
	rc, err := clientcmd.RESTConfigFromKubeConfig(secret.Data["config"])
	if err != nil {
		t.Fatalf("kubeconfig of vcluster %s: %v", name, err)
	}
	// The StatefulSet's single pod, <name>-0, serves on 8443.
	rc.Host = "https://" + forwardPort(t, cfg, ns, name+"-0", 8443)
	rc.TLSClientConfig.ServerName = "localhost"
	c, err := NewClient(rc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startGitServer serves the manifest from git inside the cluster, with the
// git of Argo CD's own image (the repo-server needs it, so it is there and
// already pulled), and returns the repository URL.
func startGitServer(ctx context.Context, t *testing.T, host client.Client, manifestPath string) string {
	t.Helper()
	data, err := os.ReadFile(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	var controller appsv1.StatefulSet
	if err := host.Get(ctx, client.ObjectKey{Namespace: clusterArgoCDNamespace, Name: "argocd-application-controller"}, &controller); err != nil {
		t.Fatalf("Argo CD's application controller: %v", err)
	}
	image := controller.Spec.Template.Spec.Containers[0].Image
	labels := map[string]string{"app.kubernetes.io/name": gitServer}
	script := `set -eu
mkdir -p /srv/repo/app
cp /manifest/* /srv/repo/app/
cd /srv/repo
git init -q -b main
git add .
git -c user.name=e2e -c user.email=e2e@localhost commit -q -m "the manifest the e2e Applications sync"
exec git daemon --export-all --reuseaddr --base-path=/srv --port=` + strconv.Itoa(gitPort) + ` /srv`
	objs := []client.Object{
		&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: gitServer, Namespace: clusterArgoCDNamespace},
			Data:       map[string]string{filepath.Base(manifestPath): string(data)},
		},
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: gitServer, Namespace: clusterArgoCDNamespace, Labels: labels},
			Spec: corev1.PodSpec{
				Containers: []corev1.Container{{
					Name: "git", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
					Command: []string{"sh", "-c", script},
					Env:     []corev1.EnvVar{{Name: "HOME", Value: "/srv"}},
					Ports:   []corev1.ContainerPort{{Name: "git", ContainerPort: gitPort}},
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
						TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(gitPort)},
					}},
					VolumeMounts: []corev1.VolumeMount{{Name: "manifest", MountPath: "/manifest"}, {Name: "srv", MountPath: "/srv"}},
				}},
				Volumes: []corev1.Volume{
					{Name: "manifest", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
						LocalObjectReference: corev1.LocalObjectReference{Name: gitServer},
					}}},
					{Name: "srv", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				},
			},
		},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: gitServer, Namespace: clusterArgoCDNamespace},
			Spec: corev1.ServiceSpec{
				Selector: labels,
				Ports:    []corev1.ServicePort{{Name: "git", Port: gitPort, TargetPort: intstr.FromInt32(gitPort)}},
			},
		},
	}
	for _, obj := range objs {
		if err := host.Create(ctx, obj); err != nil {
			t.Fatalf("creating the git server's %T: %v", obj, err)
		}
		// Kept after a failure, for the dump and for a look by hand.
		t.Cleanup(func() {
			if !t.Failed() {
				_ = host.Delete(context.Background(), obj)
			}
		})
	}
	eventually(t, 3*time.Minute, "git server ready", func(ctx context.Context) (bool, string, error) {
		var pod corev1.Pod
		if err := host.Get(ctx, client.ObjectKey{Namespace: clusterArgoCDNamespace, Name: gitServer}, &pod); err != nil {
			return false, "", err
		}
		return podReady(&pod), string(pod.Status.Phase), nil
	})
	return fmt.Sprintf("git://%s.%s.svc.cluster.local/repo", gitServer, clusterArgoCDNamespace)
}

// runningPod returns the name of a ready pod matching selector.
func runningPod(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, selector string) string {
	t.Helper()
	var name string
	eventually(t, 3*time.Minute, "a ready pod "+selector+" in "+ns, func(ctx context.Context) (bool, string, error) {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, "", err
		}
		for i := range pods.Items {
			if podReady(&pods.Items[i]) {
				name = pods.Items[i].Name
				return true, "", nil
			}
		}
		return false, fmt.Sprintf("%d pods, none ready", len(pods.Items)), nil
	})
	return name
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// forwardPort forwards a free loopback port to port of a pod for the rest of
// the test, as `kubectl port-forward` does (websockets, falling back to
// SPDY), and returns the local address.
func forwardPort(t *testing.T, cfg *rest.Config, ns, pod string, port int) string {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	url := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dialer := spdy.NewDialerForStreaming(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)
	tunneling, err := portforward.NewSPDYOverWebsocketDialerForStreaming(url, cfg)
	if err != nil {
		t.Fatal(err)
	}
	dialer = portforward.NewFallbackDialerForStreaming(tunneling, dialer, func(err error) bool {
		return streamhttp.IsUpgradeFailure(err) || streamhttp.IsHTTPSProxyError(err)
	})
	stop, ready := make(chan struct{}), make(chan struct{})
	fw, err := portforward.NewOnAddressesForStreaming(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, stop, ready, io.Discard, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	failed := make(chan error, 1)
	go func() { failed <- fw.ForwardPorts() }()
	t.Cleanup(func() { close(stop) })
	select {
	case <-ready:
	case err := <-failed:
		t.Fatalf("port-forward to %s/%s:%d: %v", ns, pod, port, err)
	case <-time.After(30 * time.Second):
		t.Fatalf("port-forward to %s/%s:%d not ready after 30s", ns, pod, port)
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) != 1 {
		t.Fatalf("port-forward to %s/%s:%d: ports %v, %v", ns, pod, port, ports, err)
	}
	return "127.0.0.1:" + strconv.Itoa(int(ports[0].Local))
}

// dumpCluster logs the pods, their recent logs and the events of the
// story's namespaces.
func dumpCluster(t *testing.T, cs kubernetes.Interface, namespaces []string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tailLines := int64(100)
	for _, ns := range namespaces {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Logf("listing pods in %s: %v", ns, err)
			continue
		}
		for _, p := range pods.Items {
			t.Logf("===== pod %s/%s: %s", ns, p.Name, p.Status.Phase)
			for _, c := range p.Spec.Containers {
				logs, err := cs.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{Container: c.Name, TailLines: &tailLines}).DoRaw(ctx)
				if err != nil {
					t.Logf("----- %s logs: %v", c.Name, err)
					continue
				}
				t.Logf("----- %s, last %d lines:\n%s", c.Name, tailLines, logs)
			}
		}
		events, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Logf("listing events in %s: %v", ns, err)
			continue
		}
		var b strings.Builder
		for _, e := range events.Items {
			fmt.Fprintf(&b, "%s %s %s/%s %s: %s\n", e.LastTimestamp.Format(time.RFC3339), e.Type,
				e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message)
		}
		t.Logf("===== events in %s:\n%s", ns, b.String())
	}
}
