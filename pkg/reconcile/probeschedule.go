package reconcile

import (
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
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
