package integration

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/utils/ptr"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/reconcile"
	"github.com/registrar-dev/registrar/test/fixture"
)

// A vcluster's life as the probe sees it, at the chart's default probe
// interval, so that only the registrar's own retries and what it watches
// can bring a result within seconds: starting is Pending, not Failed; a
// vcluster back from an outage is seen back at once; a paused one raises
// nothing and is probed as soon as it resumes.

// gate stands for the path from Argo CD to a vcluster's API server: the
// Service's forwarding rules and the server listening in the pod. Closed,
// a connection is refused by a port nothing listens on, as on a real node
// before kube-proxy has programmed a new Service; open, it reaches the
// stand-in.
type gate struct {
	open   atomic.Bool
	dials  atomic.Int64
	to     string
	closed string
}

func newGate(t *testing.T, to string) *gate {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return &gate{to: to, closed: closed}
}

func (g *gate) dial(ctx context.Context, network, _ string) (net.Conn, error) {
	g.dials.Add(1)
	addr := g.closed
	if g.open.Load() {
		addr = g.to
	}
	return (&net.Dialer{}).DialContext(ctx, network, addr)
}

// probingThrough configures a registrar that probes at the chart's default
// interval, reaching every vcluster through g.
func probingThrough(g *gate) func(*reconcile.Options) {
	return func(o *reconcile.Options) {
		o.ProbeInterval = 5 * time.Minute
		o.ProbeTimeout = 2 * time.Second
		o.ProbeDialer = g.dial
	}
}

// lifeEnv starts a stand-in for vcluster name, a gate to it (open when
// open), a registrar probing through it, and the vcluster.
func lifeEnv(t *testing.T, name string, open bool) (*env, string, *gate, *appsv1.StatefulSet) {
	t.Helper()
	e := newWorld(t)
	ns := e.createNamespace("vcluster-life", true)
	vc, err := fixture.NewVCluster(name, ns)
	if err != nil {
		t.Fatal(err)
	}
	g := newGate(t, startStandIn(t, vc).Addr)
	g.open.Store(open)
	e.start(probingThrough(g))
	w := createVCluster(t, k8sClient, ns, name, fixture.WithPKI(vc.PKI)).Workload().(*appsv1.StatefulSet)
	e.get(w)
	return e, ns, g, w
}

// eventuallyStateGauge waits until registrar_connection_state{state} is
// want: the gauge is read from the registrar's cache, which may lag behind
// what the API server already says.
func (e *env) eventuallyStateGauge(state string, want float64) {
	e.t.Helper()
	e.eventually("registrar_connection_state{state="+state+"} is "+strconv.FormatFloat(want, 'f', -1, 64), func() bool {
		v, _ := e.gauge("registrar_connection_state", map[string]string{"state": state})
		return v == want
	})
}

// within fails the test when more than d passed since from.
func within(t *testing.T, what string, from time.Time, d time.Duration) {
	t.Helper()
	took := time.Since(from)
	t.Logf("%s after %s", what, took.Round(time.Millisecond))
	if took > d {
		t.Errorf("%s after %s, want within %s", what, took.Round(time.Millisecond), d)
	}
}

// TestAStartingVClusterIsPendingNotFailed: a vcluster registered before
// its API server can be reached is Pending, with no Warning, and
// Successful within seconds of the server answering.
func TestAStartingVClusterIsPendingNotFailed(t *testing.T) {
	e, ns, g, w := lifeEnv(t, "fresh", false)

	msg := e.eventuallyConnection(ns, "fresh", api.ConnectionPending, "connection refused")
	if !strings.Contains(msg, "not connected yet") {
		t.Errorf("Pending message %q does not say the vcluster is still being checked", msg)
	}
	e.eventuallyStateGauge("pending", 1)
	connected := map[string]string{"namespace": ns, "name": "fresh", "argocd_namespace": e.argocd}
	if v, ok := e.gauge("registrar_cluster_connected", connected); ok {
		t.Errorf("registrar_cluster_connected = %v while Pending, want no series (the unreachable alert reads it)", v)
	}

	// A few seconds pass before the Service forwards and the server listens.
	time.Sleep(3 * time.Second)
	opened := time.Now()
	g.open.Store(true)
	e.eventuallyConnection(ns, "fresh", api.ConnectionSuccessful, "succeeded")
	within(t, "Successful", opened, 10*time.Second)
	e.eventuallyEvent(w, api.ReasonConnected)
	if notes := e.events(w, api.ReasonConnectionFailed); len(notes) != 0 {
		t.Errorf("ConnectionFailed events for a vcluster that connected within its grace period: %q", notes)
	}
}

// TestAVClusterBackFromAnOutageIsSeenAtOnce: a vcluster whose pod goes
// down is Failed at once, probed a handful of times while down, and
// Successful within seconds of its pod being ready again.
func TestAVClusterBackFromAnOutageIsSeenAtOnce(t *testing.T) {
	e, ns, g, w := lifeEnv(t, "restart", true)
	e.eventuallyConnection(ns, "restart", api.ConnectionSuccessful, "succeeded")

	// The pod dies: the server is unreachable, the StatefulSet not ready.
	g.open.Store(false)
	e.get(w)
	e.setReady(w, 0)
	down := time.Now()
	e.eventuallyConnection(ns, "restart", api.ConnectionFailed, "connection refused")
	within(t, "Failed", down, 10*time.Second)
	e.eventuallyEvent(w, api.ReasonConnectionFailed)

	// Down for two minutes.
	before := g.dials.Load()
	time.Sleep(2*time.Minute - time.Since(down))
	dials := g.dials.Load() - before
	t.Logf("%d probes in two minutes down", dials)
	if dials < 4 || dials > 12 {
		t.Errorf("%d probes while down for two minutes, want a handful: retried, with backoff", dials)
	}

	g.open.Store(true)
	e.get(w)
	e.setReady(w, 1)
	back := time.Now()
	e.eventuallyConnection(ns, "restart", api.ConnectionSuccessful, "succeeded")
	within(t, "Successful", back, 10*time.Second)
	e.eventually("a second Connected event, for the recovery", func() bool {
		return len(e.events(w, api.ReasonConnected)) == 2
	})
	if notes := e.events(w, api.ReasonConnectionFailed); len(notes) != 1 {
		t.Errorf("%d ConnectionFailed events for one outage, want 1: %q", len(notes), notes)
	}
}

// TestAPausedVClusterRaisesNothing: `vcluster pause` (annotation
// loft.sh/paused, scaled to zero) keeps the registration, says Paused,
// stops the probes and warns of nothing; on resume the vcluster is probed
// at once and Successful within seconds.
func TestAPausedVClusterRaisesNothing(t *testing.T) {
	e, ns, g, w := lifeEnv(t, "sleepy", true)
	e.eventuallyConnection(ns, "sleepy", api.ConnectionSuccessful, "succeeded")

	e.update(w, func() {
		w.Annotations = map[string]string{"loft.sh/paused": "true"}
		w.Spec.Replicas = ptr.To[int32](0)
	})
	g.open.Store(false)
	e.setReady(w, 0)
	msg := e.eventuallyConnection(ns, "sleepy", api.ConnectionPaused, "loft.sh/paused=true")
	if !strings.Contains(msg, "registration is kept") {
		t.Errorf("Paused message %q does not say the registration is kept", msg)
	}
	e.eventuallyEvent(w, api.ReasonPaused)
	e.eventuallyStateGauge("paused", 1)
	connected := map[string]string{"namespace": ns, "name": "sleepy", "argocd_namespace": e.argocd}
	if v, ok := e.gauge("registrar_cluster_connected", connected); ok {
		t.Errorf("registrar_cluster_connected = %v while paused, want no series (the unreachable alert reads it)", v)
	}
	before := g.dials.Load()
	e.consistently("no probe traffic to a paused vcluster", 5*time.Second, func() bool {
		return g.dials.Load() == before
	})

	// vcluster resume removes the annotation and scales back; the pod is
	// ready a moment later.
	e.update(w, func() {
		delete(w.Annotations, "loft.sh/paused")
		w.Spec.Replicas = ptr.To[int32](1)
	})
	resumed := time.Now()
	time.Sleep(time.Second)
	g.open.Store(true)
	e.setReady(w, 1)
	e.eventuallyConnection(ns, "sleepy", api.ConnectionSuccessful, "succeeded")
	within(t, "Successful", resumed, 10*time.Second)
	if notes := e.events(w, api.ReasonConnectionFailed); len(notes) != 0 {
		t.Errorf("ConnectionFailed events around a pause: %q", notes)
	}
	if e.registration(ns, "sleepy") == nil {
		t.Error("a paused vcluster was deregistered")
	}
}
