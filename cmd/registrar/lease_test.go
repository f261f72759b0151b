package main

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestHeldByAControllerThatRenewedWithinTheLeaseDuration(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	lease := func(holder string, renewedAgo time.Duration, seconds int32) *coordinationv1.Lease {
		l := &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{LeaseDurationSeconds: ptr.To(seconds)}}
		if holder != "" {
			l.Spec.HolderIdentity = ptr.To(holder)
		}
		l.Spec.RenewTime = ptr.To(metav1.NewMicroTime(now.Add(-renewedAgo)))
		return l
	}
	for _, tc := range []struct {
		name  string
		lease *coordinationv1.Lease
		held  bool
	}{
		{"renewed 3s ago, 15s lease", lease("registrar-abc", 3*time.Second, 15), true},
		{"renewed 14s ago, 15s lease", lease("registrar-abc", 14*time.Second, 15), true},
		{"renewed 15s ago, 15s lease", lease("registrar-abc", 15*time.Second, 15), false},
		{"renewed an hour ago", lease("registrar-abc", time.Hour, 15), false},
		// A controller stopped cleanly releases the lease: no holder.
		{"released", lease("", time.Second, 15), false},
		{"never renewed", &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("x"), LeaseDurationSeconds: ptr.To(int32(15))}}, false},
	} {
		holder, held := heldBy(tc.lease, now)
		if held != tc.held {
			t.Errorf("%s: held %v, want %v", tc.name, held, tc.held)
		}
		if held && holder != "registrar-abc" {
			t.Errorf("%s: holder %q", tc.name, holder)
		}
	}
}
