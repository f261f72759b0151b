package reconcile

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// DefaultProbeGracePeriod is how long a vcluster that has just become
// ready, resumed, or whose registration was just written, may fail its
// probe before it is reported Failed: long enough for kube-proxy to
// program a new Service and for the vcluster's API server to listen
// (seconds on a real node), short enough that a vcluster that never comes
// up is reported within a minute.
const DefaultProbeGracePeriod = time.Minute

// After a failed probe the next comes probeRetry later, doubling with each
// failure up to the interval: a vcluster that comes up is seen within
// seconds, and one that stays down costs a handful of probes per interval.
const probeRetry = time.Second

// retryAfter is when to probe again after failures failed probes in a row.
func retryAfter(failures int, interval time.Duration) time.Duration {
	d := probeRetry
	for i := 1; i < failures && d < interval; i++ {
		d *= 2
	}
	return wait.Jitter(min(d, interval), probeJitter)
}

// graced says whether a failure seen at now, in a grace window opened at
// since (zero: none), is still within grace.
func graced(since, now time.Time, grace time.Duration) bool {
	return !since.IsZero() && now.Sub(since) < grace
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
	vclusterPausedAnnotation    = "loft.sh/paused"
	vclusterRestoringAnnotation = "loft.sh/restoring"
	vclusterSleepModeLabel      = "loft.sh/sleep-mode"
)

// pausedBy says why a vcluster's workload is paused, or "" when it is not:
// marked by vcluster's pause or sleep mode, or scaled to zero by hand.
func pausedBy(w client.Object) string {
	if w == nil {
		return ""
	}
	for _, a := range []string{vclusterPausedAnnotation, vclusterRestoringAnnotation} {
		if w.GetAnnotations()[a] == "true" {
			return fmt.Sprintf("annotated %s=true", a)
		}
	}
	if w.GetLabels()[vclusterSleepModeLabel] == "true" {
		return fmt.Sprintf("labelled %s=true", vclusterSleepModeLabel)
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
