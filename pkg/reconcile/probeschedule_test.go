package reconcile

import (
	"testing"
	"time"
)

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
