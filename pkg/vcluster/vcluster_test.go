package vcluster

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/test/fixture"
)

func TestIsVCluster(t *testing.T) {
	vc, err := fixture.NewVCluster("sandbox", "ns")
	if err != nil {
		t.Fatal(err)
	}
	etcd := vc.StatefulSet()
	etcd.Name = "sandbox-etcd"
	etcd.Labels = map[string]string{"app": "vcluster-etcd", "release": "sandbox"}
	other := vc.StatefulSet()
	other.Labels = map[string]string{"app": "postgres", "release": "sandbox"}
	for _, tc := range []struct {
		obj  metav1.Object
		want bool
	}{{vc.StatefulSet(), true}, {vc.Deployment(), true}, {etcd, false}, {other, false}} {
		if got := IsVCluster(tc.obj); got != tc.want {
			t.Errorf("IsVCluster(%s labels %v) = %t", tc.obj.GetName(), tc.obj.GetLabels(), got)
		}
	}
}

func TestKubeconfigSecretName(t *testing.T) {
	w := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "sandbox"}}
	if got := KubeconfigSecretName(w); got != "vc-sandbox" {
		t.Errorf("default name %q, want vcluster's vc-sandbox", got)
	}
	w.Annotations = map[string]string{api.KubeconfigSecretAnnotation: "exported"}
	if got := KubeconfigSecretName(w); got != "exported" {
		t.Errorf("annotated name %q, want exported", got)
	}
}

func TestPausedByReadsVClustersOwnMarks(t *testing.T) {
	sts := func(annotations, labels map[string]string, replicas *int32) metav1.Object {
		return &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Annotations: annotations, Labels: labels},
			Spec: appsv1.StatefulSetSpec{Replicas: replicas}}
	}
	for _, tc := range []struct {
		name string
		w    metav1.Object
		want string
	}{
		{"running", sts(nil, nil, ptr.To[int32](1)), ""},
		{"replicas unset", sts(nil, nil, nil), ""},
		{"vcluster pause", sts(map[string]string{"loft.sh/paused": "true"}, nil, ptr.To[int32](0)), "annotated loft.sh/paused=true"},
		{"vcluster restore", sts(map[string]string{"loft.sh/restoring": "true"}, nil, ptr.To[int32](0)), "annotated loft.sh/restoring=true"},
		{"paused false", sts(map[string]string{"loft.sh/paused": "false"}, nil, ptr.To[int32](1)), ""},
		{"sleep mode", sts(nil, map[string]string{"loft.sh/sleep-mode": "true"}, ptr.To[int32](1)), "labelled loft.sh/sleep-mode=true"},
		{"scaled to zero by hand", sts(nil, nil, ptr.To[int32](0)), "scaled to zero replicas"},
		{"deployment scaled to zero", &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](0)}}, "scaled to zero replicas"},
		{"no workload", nil, ""},
	} {
		if got := PausedBy(tc.w); got != tc.want {
			t.Errorf("%s: PausedBy = %q, want %q", tc.name, got, tc.want)
		}
	}
}
