package main

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// leaseFlags name the controller's leader election Lease, which sync
// reads to tell whether a controller is running.
type leaseFlags struct {
	namespace string
	id        string
	force     bool
}

// heldBy returns the holder of lease when a controller holds it at now:
// it renewed the lease less than its duration ago. A controller that let
// the lease go (on shutdown, LeaderElectionReleaseOnCancel) or stopped
// renewing it holds nothing.
func heldBy(lease *coordinationv1.Lease, now time.Time) (holder string, held bool) {
	s := lease.Spec
	if s.HolderIdentity == nil || *s.HolderIdentity == "" || s.RenewTime == nil || s.LeaseDurationSeconds == nil {
		return "", false
	}
	expires := s.RenewTime.Add(time.Duration(*s.LeaseDurationSeconds) * time.Second)
	return *s.HolderIdentity, now.Before(expires)
}

// refuseWhileLeading returns an error when a controller holds the Lease:
// sync and the controller would both write the same Secrets, and the one
// that loses a race would undo the other's write.
func (f *leaseFlags) refuseWhileLeading(ctx context.Context, cfg *rest.Config) error {
	if f.force {
		return nil
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	lease, err := cs.CoordinationV1().Leases(f.namespace).Get(ctx, f.id, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("reading Lease %s/%s, to tell whether a controller is running: %w; grant get on leases there, point --leader-election-namespace and --leader-election-id at the chart's, or pass --force", f.namespace, f.id, err)
	}
	holder, held := heldBy(lease, time.Now())
	if !held {
		return nil
	}
	return fmt.Errorf("a controller is running: %s holds Lease %s/%s, renewed at %s; two writers would race. Let the controller do the work, stop it first (scale its Deployment to 0), or pass --force",
		holder, f.namespace, f.id, lease.Spec.RenewTime.UTC().Format(time.RFC3339))
}
