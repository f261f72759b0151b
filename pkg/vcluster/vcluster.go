// Package vcluster is what a vcluster is and writes in its host cluster, as
// vcluster's own chart and binary make it: how its workload is recognised,
// the names of its Service and kubeconfig Secret, the credentials in that
// Secret, and the marks of a paused vcluster. It knows nothing of Argo CD
// and holds no client: reading the objects is the caller's.
package vcluster

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/registrar-dev/registrar/pkg/api"
)

// Labels of the vcluster objects, as the vcluster chart writes them
// (chart/templates/statefulset.yaml and service.yaml in
// github.com/loft-sh/vcluster).
const (
	// AppLabel is "app"; its value on a vcluster's workload, Service and
	// (from v0.24, KubeConfigSecretLabelAppKey in
	// pkg/util/kubeconfig/kubeconfig.go) kubeconfig Secret is AppValue.
	// A separate etcd StatefulSet carries app=vcluster-etcd
	// (chart/templates/etcd-statefulset.yaml).
	AppLabel = "app"
	AppValue = "vcluster"
	// ReleaseLabel carries the release name, which is also the name of the
	// workload and of its Service. A separate etcd StatefulSet
	// ("<release>-etcd") carries another name, so it is never taken for a
	// vcluster.
	ReleaseLabel = "release"
	// KubeconfigSecretPrefix is DefaultSecretPrefix in vcluster's
	// pkg/util/kubeconfig/kubeconfig.go: the kubeconfig Secret is "vc-<name>".
	KubeconfigSecretPrefix = "vc-"
)

// IsVCluster says whether a StatefulSet's or Deployment's metadata marks it
// as a vcluster's control plane: app=vcluster and a release label equal to
// its own name, as vcluster's chart renders it. Other workloads of a
// vcluster release (a separate etcd, "<release>-etcd", labelled
// app=vcluster-etcd) do not match.
func IsVCluster(obj metav1.Object) bool {
	l := obj.GetLabels()
	return l[AppLabel] == AppValue && l[ReleaseLabel] == obj.GetName()
}

// KubeconfigSecretName is the name of a vcluster's kubeconfig Secret in its
// namespace: the value of api.KubeconfigSecretAnnotation on its workload if
// set, else vcluster's default.
func KubeconfigSecretName(w metav1.Object) string {
	if v := w.GetAnnotations()[api.KubeconfigSecretAnnotation]; v != "" {
		return v
	}
	return KubeconfigSecretPrefix + w.GetName()
}

// vcluster's own marks of a paused vcluster, read from its source:
//   - `vcluster pause` annotates the workload loft.sh/paused=true, and a
//     restore loft.sh/restoring=true, while it is scaled to zero
//     (pkg/constants/annotation.go PausedAnnotation; pkg/lifecycle/lifecycle.go
//     IsPaused);
//   - the platform's sleep mode labels it loft.sh/sleep-mode=true
//     (pkg/platform/sleepmode/sleepmode.go Label), which `vcluster list`
//     also shows as Paused (pkg/cli/find/find.go).
const (
	pausedAnnotation    = "loft.sh/paused"
	restoringAnnotation = "loft.sh/restoring"
	sleepModeLabel      = "loft.sh/sleep-mode"
)

// PausedBy says why a vcluster's workload is paused, or "" when it is not:
// marked by vcluster's pause or sleep mode, or scaled to zero by hand.
func PausedBy(w metav1.Object) string {
	if w == nil {
		return ""
	}
	for _, a := range []string{pausedAnnotation, restoringAnnotation} {
		if w.GetAnnotations()[a] == "true" {
			return fmt.Sprintf("annotated %s=true", a)
		}
	}
	if w.GetLabels()[sleepModeLabel] == "true" {
		return fmt.Sprintf("labelled %s=true", sleepModeLabel)
	}
	var replicas *int32
	switch o := w.(type) {
	case *appsv1.StatefulSet:
		replicas = o.Spec.Replicas
	case *appsv1.Deployment:
		replicas = o.Spec.Replicas
	}
	if replicas != nil && *replicas == 0 {
		return "scaled to zero replicas"
	}
	return ""
}
