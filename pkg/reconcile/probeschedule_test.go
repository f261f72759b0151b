package reconcile

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestPausedByReadsVClustersOwnMarks(t *testing.T) {
	sts := func(annotations, labels map[string]string, replicas *int32) client.Object {
		return &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Annotations: annotations, Labels: labels},
			Spec: appsv1.StatefulSetSpec{Replicas: replicas}}
	}
	for _, tc := range []struct {
		name string
		w    client.Object
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
		if got := pausedBy(tc.w); got != tc.want {
			t.Errorf("%s: pausedBy = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestRetryAfterDoublesUpToTheInterval(t *testing.T) {
	interval := 5 * time.Minute
	for _, tc := range []struct {
		failures int
		want     time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {6, 32 * time.Second}, {9, 256 * time.Second}, {10, interval}, {50, interval}} {
		for range 20 {
			got := retryAfter(tc.failures, interval)
			if got < tc.want || got > tc.want+tc.want/5 {
				t.Fatalf("retryAfter(%d) = %s, want %s with up to 20%% jitter", tc.failures, got, tc.want)
			}
		}
	}
	// A vcluster down for a whole interval costs a handful of probes.
	n, spent := 0, time.Duration(0)
	for spent < interval {
		n++
		spent += retryAfter(n, interval)
	}
	if n > 10 {
		t.Errorf("%d probes in the first interval of an outage, want a handful", n)
	}
}

func TestGraced(t *testing.T) {
	now := time.Now()
	if graced(time.Time{}, now, time.Minute) {
		t.Error("no window open, yet graced")
	}
	if !graced(now.Add(-59*time.Second), now, time.Minute) {
		t.Error("59s into a minute's window, not graced")
	}
	if graced(now.Add(-time.Minute), now, time.Minute) {
		t.Error("a minute into a minute's window, still graced")
	}
}
