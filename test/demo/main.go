// Command demo shows the registrar at work on this machine: a local control
// plane (kube-apiserver and etcd), a vcluster stand-in (a second API server
// with vcluster's certificates, and the objects vcluster writes into the
// host), the registrar binary, and the Argo CD cluster Secret it writes,
// with secret values redacted. Everything is cleaned up on exit.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/argoproj/argo-cd/v3/util/db"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/registrar-dev/registrar/pkg/registration"
	"github.com/registrar-dev/registrar/test/fixture"
)

func main() {
	registrar := flag.String("registrar", "bin/registrar", "Path of the registrar binary.")
	assets := flag.String("assets", os.Getenv("KUBEBUILDER_ASSETS"), "Directory holding kube-apiserver and etcd.")
	flag.Parse()
	if err := run(*registrar, *assets); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) { fmt.Printf("\n==> "+format+"\n", args...) }

func run(registrar, assets string) error {
	ctx := context.Background()
	step("starting a local control plane (kube-apiserver + etcd from %s)", assets)
	host, err := fixture.StartHost(fixture.Binaries(assets))
	if err != nil {
		return err
	}
	defer func() { _ = host.Stop() }()
	c := host.Client

	const ns, name = "vcluster-sandbox", "sandbox"
	step("creating vcluster %q in namespace %q as vcluster writes it: StatefulSet, Service, kubeconfig Secret vc-%s", name, ns, name)
	vc, err := fixture.NewVCluster(name, ns)
	if err != nil {
		return err
	}
	for _, name := range []string{"argocd", ns} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
			return err
		}
	}
	workload, err := vc.Create(ctx, c)
	if err != nil {
		return err
	}
	fmt.Printf("    its kubeconfig says server %s: unreachable from Argo CD, and the same for every vcluster\n", vc.Server)

	step("starting the vcluster stand-in: an API server whose certificate has vcluster's SANs %v", fixture.ServingSANs(name, ns)[:2])
	standIn, err := fixture.StartStandIn(ctx, assets, vc, "127.0.0.1", 0)
	if err != nil {
		return err
	}
	defer standIn.Stop()

	step("running %s controller --kubeconfig ... --argocd-namespace argocd", registrar)
	reg, err := fixture.StartController(fixture.Command{
		Name: "registrar", Path: registrar, Args: []string{"controller", "--argocd-namespace", "argocd"},
		Log: filepath.Join(host.Dir, "registrar.log"),
	}, host.Kubeconfig)
	if err != nil {
		return err
	}
	defer func() { _ = reg.Stop() }()

	key := client.ObjectKey{Namespace: "argocd", Name: registration.SecretName(ns, name)}
	var registered corev1.Secret
	start := time.Now()
	err = fixture.Poll(ctx, "the vcluster is registered", func(ctx context.Context) (bool, string, error) {
		err := c.Get(ctx, key, &registered)
		if apierrors.IsNotFound(err) {
			return false, "", nil
		}
		return err == nil, "", err
	}, fixture.Within(30*time.Second), fixture.WhileRunning(reg.Process))
	if err != nil {
		return fmt.Errorf("no registration: %w\nregistrar log:\n%s", err, reg.Tail(200))
	}
	step("Argo CD cluster Secret %s/%s, written %s after start (secret values redacted):", key.Namespace, key.Name, time.Since(start).Round(time.Millisecond))
	out, err := redacted(&registered)
	if err != nil {
		return err
	}
	fmt.Println(indent(out))

	step("Argo CD's own code (util/db.SecretToCluster) loads it and connects, TLS verified:")
	cluster, err := db.SecretToCluster(&registered)
	if err != nil {
		return err
	}
	rc, err := cluster.RawRestConfig()
	if err != nil {
		return err
	}
	// Cluster DNS stands in here: the service name resolves to the stand-in.
	rc.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, standIn.Addr)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	nsList, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("connecting as Argo CD would: %w", err)
	}
	fmt.Printf("    cluster %q at %s (tls serverName %q): %d namespaces inside the vcluster\n",
		cluster.Name, cluster.Server, cluster.Config.ServerName, len(nsList.Items))

	step("deleting the vcluster's StatefulSet")
	if err := c.Delete(ctx, workload); err != nil {
		return err
	}
	err = fixture.Poll(ctx, "the registration is removed", func(ctx context.Context) (bool, string, error) {
		err := c.Get(ctx, key, &corev1.Secret{})
		return apierrors.IsNotFound(err), "", client.IgnoreNotFound(err)
	}, fixture.Within(30*time.Second), fixture.WhileRunning(reg.Process))
	if err != nil {
		return fmt.Errorf("registration not removed: %w", err)
	}
	fmt.Println("    the registration is gone")

	step("events the registrar recorded on the vcluster:")
	var events eventsv1.EventList
	if err := c.List(ctx, &events, client.InNamespace(ns)); err != nil {
		return err
	}
	sort.Slice(events.Items, func(i, j int) bool {
		return events.Items[i].CreationTimestamp.Before(&events.Items[j].CreationTimestamp)
	})
	for _, ev := range events.Items {
		fmt.Printf("    %-8s %-13s %s\n", ev.Type, ev.Reason, ev.Note)
	}
	step("done; stopping the registrar, the stand-in and the control plane")
	return nil
}

// redacted renders the Secret as YAML with every credential replaced by its size.
func redacted(s *corev1.Secret) (string, error) {
	var cfg map[string]any
	if err := json.Unmarshal(s.Data[registration.ArgoCDConfigKey], &cfg); err != nil {
		return "", err
	}
	if tls, ok := cfg["tlsClientConfig"].(map[string]any); ok {
		for _, k := range []string{"caData", "certData", "keyData"} {
			if v, ok := tls[k].(string); ok {
				tls[k] = fmt.Sprintf("<redacted, %d bytes>", len(v))
			}
		}
	}
	if _, ok := cfg["bearerToken"]; ok {
		cfg["bearerToken"] = "<redacted>"
	}
	stringData := map[string]any{}
	for k, v := range s.Data {
		stringData[k] = string(v)
	}
	stringData[registration.ArgoCDConfigKey] = cfg
	view := map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{
			"name": s.Name, "namespace": s.Namespace, "labels": s.Labels, "annotations": s.Annotations,
		},
		"type":               s.Type,
		"stringData (shown)": stringData,
	}
	out, err := yaml.Marshal(view)
	return string(out), err
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}
