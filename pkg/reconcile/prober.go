package reconcile

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/connection"
	"github.com/registrar-dev/registrar/pkg/vcluster"
)

// Defaults of the connection probe.
const (
	DefaultProbeTimeout     = 10 * time.Second
	DefaultProbeConcurrency = 8
)

// probeJitter spreads the probes of a fleet written in the same second over
// a fifth of the interval.
const probeJitter = 0.2

// A registration just written is probed once the cache holds it; until
// then the cache still holds the old credentials. After freshAttempts
// looks, freshRetry apart, whatever the cache holds is probed.
const (
	freshRetry    = 250 * time.Millisecond
	freshAttempts = 20
)

// prober checks, apart from the reconciles, that every registration
// connects: right after it is written and then every interval. It runs
// only on the leader, on a few workers of its own, so a vcluster that does
// not answer holds up neither the reconciles nor the other probes for
// longer than the timeout. It keeps no state a restart would need: the
// last result is on the Argo CD Secret.
type prober struct {
	r        *Reconciler
	interval time.Duration
	timeout  time.Duration
	grace    time.Duration
	workers  int
	dial     connection.DialFunc
	queue    workqueue.TypedDelayingInterface[types.NamespacedName]

	mu sync.Mutex
	// tracked holds the registrations the prober schedules, with the
	// content hash of one just written that the cache does not hold yet
	// and how many times the prober looked for it.
	tracked map[types.NamespacedName]*awaited
}

type awaited struct {
	hash  string
	tries int
	// reported is the last state an event reported, so that a probe
	// reading a cache not yet holding its predecessor's patch does not
	// report the same change twice.
	reported string
	// failures counts the failed probes in a row; since opens the grace
	// window of a vcluster just registered, ready or resumed (zero: none).
	failures int
	since    time.Time
	// ready and paused are the workload's, as the last reconcile saw it.
	ready, paused bool
}

func newProber(r *Reconciler) *prober {
	o := r.Options
	p := &prober{
		r:        r,
		interval: o.ProbeInterval,
		timeout:  o.ProbeTimeout,
		grace:    o.ProbeGracePeriod,
		workers:  o.ProbeConcurrency,
		dial:     o.ProbeDialer,
		queue: workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[types.NamespacedName]{
			Name: "probe",
		}),
		tracked: map[types.NamespacedName]*awaited{},
	}
	if p.timeout <= 0 {
		p.timeout = DefaultProbeTimeout
	}
	if p.workers <= 0 {
		p.workers = DefaultProbeConcurrency
	}
	if p.grace <= 0 {
		p.grace = DefaultProbeGracePeriod
	}
	return p
}

// Start runs the workers until ctx ends; the manager starts it on the
// leader only.
func (p *prober) Start(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		p.queue.ShutDown()
	}()
	var wg sync.WaitGroup
	for range p.workers {
		wg.Go(func() {
			for p.next(ctx) {
			}
		})
	}
	wg.Wait()
	return nil
}

// track schedules the probes of registration s, which the reconcile has
// just brought in line with desired, for vcluster workload w. It probes at
// once, in a grace window, a registration just written or never probed and
// a vcluster that has just become ready or resumed: each may take a moment
// to answer. It probes at once, with no grace, a vcluster that has just
// lost its last ready replica. A paused vcluster is not probed; its state
// says so at once.
// Otherwise, the first time this process sees the registration, it probes
// at a random moment within the interval, so that a restart does not probe
// a whole fleet in the same second.
func (p *prober) track(existing, desired *corev1.Secret, w *workload) {
	key := types.NamespacedName{Namespace: desired.Namespace, Name: desired.Name}
	hash := desired.Annotations[api.ContentHashAnnotation]
	written := existing == nil || existing.Annotations[api.ContentHashAnnotation] != hash
	state := ""
	if existing != nil {
		state = existing.Annotations[api.ConnectionStateAnnotation]
	}
	paused := vcluster.PausedBy(w.Object) != ""
	p.mu.Lock()
	a, known := p.tracked[key]
	if !known {
		a = &awaited{}
		p.tracked[key] = a
	}
	if written {
		a.hash, a.tries = hash, 0
	}
	// A change of readiness is news either way: a vcluster that went down
	// is seen down, one that came back is seen back, at once.
	readiness := known && a.ready != w.Ready
	resumed := known && a.paused && !paused
	// A process that has not seen the registration yet (a new leader)
	// opens a window for one never probed or still Pending.
	firstLook := !known && (state == "" || state == api.ConnectionPending)
	fresh := !paused && (written || firstLook || state == api.ConnectionPaused || resumed || (readiness && w.Ready))
	if fresh {
		a.since, a.failures = time.Now(), 0
	}
	a.ready, a.paused = w.Ready, paused
	p.mu.Unlock()
	switch {
	case fresh || (readiness && !paused) || (paused && state != api.ConnectionPaused):
		p.queue.Add(key)
	case !known:
		p.queue.AddAfter(key, time.Duration(rand.Int64N(int64(p.interval)+1)))
	}
}

func (p *prober) next(ctx context.Context) bool {
	key, shutdown := p.queue.Get()
	if shutdown {
		return false
	}
	defer p.queue.Done(key)
	p.probe(ctx, key)
	return true
}

// probe probes one registration and schedules the next probe.
func (p *prober) probe(ctx context.Context, key types.NamespacedName) {
	logger := log.FromContext(ctx).WithValues("secret", key.String())
	var s corev1.Secret
	err := p.r.Client.Get(ctx, key, &s)
	if apierrors.IsNotFound(err) && p.stale(key, nil) {
		p.queue.AddAfter(key, freshRetry) // just created: not in the cache yet
		return
	}
	if apierrors.IsNotFound(err) || (err == nil && !owned(&s)) {
		p.forget(key) // deregistered: nothing left to probe
		return
	}
	if err != nil {
		logger.V(1).Info("cannot read the registration to probe it; trying again later", "error", err.Error())
		p.queue.AddAfter(key, p.interval)
		return
	}
	if p.stale(key, &s) {
		p.queue.AddAfter(key, freshRetry)
		return
	}
	vc := types.NamespacedName{Namespace: s.Labels[api.SourceNamespaceLabel], Name: s.Labels[api.SourceNameLabel]}
	// Without its workload (being deleted, say) the registration is probed
	// and a change is logged only.
	w, _ := getWorkload(ctx, p.r.Client, vc)
	next := wait.Jitter(p.interval, probeJitter)
	var res connection.Result
	if why := vcluster.PausedBy(workloadObject(w)); why != "" {
		// No probe traffic: the reconcile that sees it resume probes at
		// once. Looking at the cache again each interval costs nothing.
		res = connection.Result{State: api.ConnectionPaused, Message: fmt.Sprintf(
			"the vcluster is paused (its %s is %s): its registration is kept, and probed as soon as it resumes", w.Kind, why)}
	} else {
		m := p.r.metrics()
		start := time.Now()
		res = connection.Probe(ctx, &s, p.dial, p.timeout)
		if ctx.Err() != nil {
			return // shutting down: the probe was cut short, not failed
		}
		m.probeDuration.Observe(time.Since(start).Seconds())
		if res.State == api.ConnectionFailed {
			m.probeFailures.WithLabelValues(res.Reason).Inc()
			var failures int
			res, failures = p.failed(key, res)
			next = retryAfter(failures, p.interval)
		} else {
			p.succeeded(key)
		}
	}
	if err := p.record(ctx, &s, w, res); err != nil {
		// Conflict (the registration was rewritten meanwhile) or gone:
		// look again soon rather than at the next interval.
		logger.V(1).Info("connection state not recorded; probing again", "error", err.Error())
		p.queue.AddAfter(key, time.Second)
		return
	}
	p.queue.AddAfter(key, next)
}

// failed counts a failed probe of key and says how to report it: Pending
// while the vcluster's grace window is open and the failure is one a
// starting vcluster shows, Failed once the failure outlasts it. A TLS or
// credentials failure is reported at once: the registration's CA, server
// name or credentials are wrong, and waiting mends none of them.
func (p *prober) failed(key types.NamespacedName, res connection.Result) (connection.Result, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.tracked[key]
	if a == nil {
		return res, 1
	}
	a.failures++
	if !res.Permanent() && graced(a.since, time.Now(), p.grace) {
		res.State = api.ConnectionPending
		res.Message = fmt.Sprintf("not connected yet, checking again (a vcluster just registered, ready or resumed has %s to answer): %s",
			p.grace, res.Message)
	}
	return res, a.failures
}

// succeeded closes key's grace window and its run of failures.
func (p *prober) succeeded(key types.NamespacedName) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a := p.tracked[key]; a != nil {
		a.failures, a.since = 0, time.Time{}
	}
}

func workloadObject(w *workload) client.Object {
	if w == nil {
		return nil
	}
	return w.Object
}

// stale says whether the cache still holds an older version of a
// registration just written (s), or none yet (s nil), and the prober
// should wait for it.
func (p *prober) stale(key types.NamespacedName, s *corev1.Secret) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.tracked[key]
	if a == nil || a.hash == "" {
		return false
	}
	if (s != nil && s.Annotations[api.ContentHashAnnotation] == a.hash) || a.tries >= freshAttempts {
		a.hash, a.tries = "", 0
		return false
	}
	a.tries++
	return true
}

// report says whether a change to state is news, and remembers it.
func (p *prober) report(key types.NamespacedName, state string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.tracked[key]
	if a == nil {
		return true
	}
	news := a.reported != state
	a.reported = state
	return news
}

func (p *prober) forget(key types.NamespacedName) {
	p.mu.Lock()
	delete(p.tracked, key)
	p.mu.Unlock()
}

// record writes the result on the registration when it differs from what
// the registration says, and reports the change on the vcluster's
// workload: a Warning on failure, a Normal on the first success and on
// recovery. A steady state writes nothing and emits nothing.
func (p *prober) record(ctx context.Context, s *corev1.Secret, w *workload, res connection.Result) error {
	prevState := s.Annotations[api.ConnectionStateAnnotation]
	if prevState == res.State && s.Annotations[api.ConnectionMessageAnnotation] == res.Message {
		return nil
	}
	patch := client.MergeFromWithOptions(s.DeepCopy(), client.MergeFromWithOptimisticLock{})
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	// A new message in the same state (another reason to fail) keeps the
	// moment the state began.
	if prevState != res.State || s.Annotations[api.ConnectionSinceAnnotation] == "" {
		s.Annotations[api.ConnectionSinceAnnotation] = time.Now().UTC().Format(time.RFC3339)
	}
	s.Annotations[api.ConnectionStateAnnotation] = res.State
	s.Annotations[api.ConnectionMessageAnnotation] = res.Message
	// A merge patch, not an apply: it never creates a Secret deleted
	// meanwhile, and the resource version makes it fail on a newer one.
	// Its echo reconciles nothing: the reconcile leaves these annotations
	// to the prober.
	done := p.r.ownWrites.begin(ctx, client.ObjectKeyFromObject(s))
	if err := p.r.Client.Patch(ctx, s, patch, client.FieldOwner(api.ProbeFieldOwner)); err != nil {
		done()
		return fmt.Errorf("recording the connection state on %s/%s: %w", s.Namespace, s.Name, err)
	}
	done(s.ResourceVersion)
	p.r.metrics().writes.WithLabelValues("probe").Inc()

	logger := log.FromContext(ctx)
	vc := types.NamespacedName{Namespace: s.Labels[api.SourceNamespaceLabel], Name: s.Labels[api.SourceNameLabel]}
	if !p.report(types.NamespacedName{Namespace: s.Namespace, Name: s.Name}, res.State) {
		return nil
	}
	switch {
	case res.State == api.ConnectionFailed:
		logger.Info("Argo CD cannot connect to the vcluster; it stays registered", "vcluster", vc.String(),
			"secret", s.Name, "reason", res.Reason, "message", res.Message)
		if w != nil {
			p.r.Recorder.Eventf(w.Object, nil, corev1.EventTypeWarning, api.ReasonConnectionFailed, "Probe",
				"Argo CD cannot connect to this vcluster with its registration (Secret %s/%s), which stays in place: %s",
				s.Namespace, s.Name, res.Message)
		}
	case res.State == api.ConnectionPaused:
		logger.Info("the vcluster is paused; its registration is kept and not probed", "vcluster", vc.String(), "secret", s.Name)
		if w != nil {
			p.r.Recorder.Eventf(w.Object, nil, corev1.EventTypeNormal, api.ReasonPaused, "Probe",
				"Argo CD's registration of this vcluster (Secret %s/%s) is kept while it is paused: %s", s.Namespace, s.Name, res.Message)
		}
	case res.State == api.ConnectionSuccessful && prevState != api.ConnectionSuccessful:
		logger.Info("Argo CD can connect to the vcluster", "vcluster", vc.String(), "secret", s.Name)
		if w != nil {
			p.r.Recorder.Eventf(w.Object, nil, corev1.EventTypeNormal, api.ReasonConnected, "Probe",
				"Argo CD can connect to this vcluster with its registration (Secret %s/%s): %s", s.Namespace, s.Name, res.Message)
		}
	}
	return nil
}
