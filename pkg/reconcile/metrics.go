package reconcile

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/connection"
)

// reconcilerMetrics are the metrics of one Reconciler, held by it.
type reconcilerMetrics struct {
	errors        *prometheus.CounterVec
	writes        *prometheus.CounterVec
	probeDuration prometheus.Histogram
	probeFailures *prometheus.CounterVec
	registered    *registeredCollector
}

// WriteOperations are the values of the operation label of
// registrar_writes_total.
var WriteOperations = []string{"create", "apply", "ownership", "delete", "probe"}

func newReconcilerMetrics(reader client.Reader, namespaces []string) *reconcilerMetrics {
	m := &reconcilerMetrics{
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "registrar_reconcile_errors_total",
			Help: "vclusters that could not be registered, by reason (an event reason on the workload).",
		}, []string{"reason"}),
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "registrar_writes_total",
			Help: "Writes to Argo CD cluster Secrets, by operation (create, apply, ownership, delete, probe: the connection annotations).",
		}, []string{"operation"}),
		probeDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "registrar_probe_duration_seconds",
			Help:    "Time a connection probe of a registration took, failed ones included.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		probeFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "registrar_probe_failures_total",
			Help: "Connection probes that failed, by reason (dns, tcp, tls, credentials, discovery, timeout, http).",
		}, []string{"reason"}),
		registered: &registeredCollector{
			registered: prometheus.NewDesc("registrar_registered_clusters",
				"Argo CD cluster Secrets owned by the registrar.", nil, nil),
			state: prometheus.NewDesc("registrar_connection_state",
				"Registrations by the state of their last connection probe (successful; failed; pending: a vcluster just registered, ready or resumed not answering yet, within the grace period; paused: not probed; unknown: not probed yet or probes off).",
				[]string{"state"}, nil),
			connected: prometheus.NewDesc("registrar_cluster_connected",
				"1 when the last connection probe of the vcluster's registration succeeded, 0 when it failed; absent before the first probe, while pending and while paused.",
				[]string{"namespace", "name", "argocd_namespace"}, nil),
			expiry: prometheus.NewDesc("registrar_credentials_expiry",
				"Registrations by how long their credentials have left (expired, 24h, 7d, 30d, later, unknown; renewing: a ServiceAccount token not yet due for renewal).",
				[]string{"bucket"}, nil),
			reader: reader, namespaces: namespaces,
		},
	}
	// Every known label value starts at 0: rate() and increase() see the
	// first event, and a dashboard shows 0 rather than no data.
	for _, c := range []struct {
		vec    *prometheus.CounterVec
		values []string
	}{{m.errors, errorReasons}, {m.writes, WriteOperations}, {m.probeFailures, connection.Reasons}} {
		for _, v := range c.values {
			c.vec.WithLabelValues(v)
		}
	}
	return m
}

// register adds the metrics to reg, or to controller-runtime's registry,
// which the manager serves, when reg is nil.
func (m *reconcilerMetrics) register(reg prometheus.Registerer) error {
	if reg == nil {
		reg = metrics.Registry
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.errors, m.writes, m.probeDuration, m.probeFailures, m.registered} {
		errs = append(errs, reg.Register(c))
	}
	return errors.Join(errs...)
}

// metrics returns the reconciler's metrics; a Reconciler used without
// SetupWithManager counts into metrics no registry serves.
func (r *Reconciler) metrics() *reconcilerMetrics {
	r.once.Do(func() {
		if r.m == nil {
			r.m = newReconcilerMetrics(nil, nil)
		}
	})
	return r.m
}

// registeredCollector reports the registrations the registrar owns, their
// connection state and the expiry of their credentials, read from the
// cache at scrape time rather than tracked on every write: no series
// outlives its registration.
type registeredCollector struct {
	registered, state, connected, expiry *prometheus.Desc

	reader     client.Reader
	namespaces []string
	now        func() time.Time
}

func (c *registeredCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.registered, c.state, c.connected, c.expiry} {
		ch <- d
	}
}

func (c *registeredCollector) Collect(ch chan<- prometheus.Metric) {
	if c.reader == nil {
		return
	}
	now := time.Now()
	if c.now != nil {
		now = c.now()
	}
	n := 0
	states := map[string]int{"successful": 0, "failed": 0, "pending": 0, "paused": 0, "unknown": 0}
	buckets := map[string]int{"expired": 0, "unknown": 0, "later": 0, expiryRenewing: 0}
	for _, b := range expiryBuckets {
		buckets[b.name] = 0
	}
	for _, ns := range c.namespaces {
		var list corev1.SecretList
		if err := c.reader.List(context.Background(), &list, client.InNamespace(ns),
			client.MatchingLabels{api.ManagedByLabel: api.ManagedByValue}, client.UnsafeDisableDeepCopy); err != nil {
			for _, d := range []*prometheus.Desc{c.registered, c.state, c.connected, c.expiry} {
				ch <- prometheus.NewInvalidMetric(d, err)
			}
			return
		}
		n += len(list.Items)
		for i := range list.Items {
			s := &list.Items[i]
			buckets[registrationExpiryBucket(s, now)]++
			switch s.Annotations[api.ConnectionStateAnnotation] {
			case api.ConnectionSuccessful:
				states["successful"]++
				ch <- c.connectedMetric(s, 1)
			case api.ConnectionFailed:
				states["failed"]++
				ch <- c.connectedMetric(s, 0)
			case api.ConnectionPending:
				states["pending"]++
			case api.ConnectionPaused:
				states["paused"]++
			default:
				states["unknown"]++
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(c.registered, prometheus.GaugeValue, float64(n))
	for state, v := range states {
		ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, float64(v), state)
	}
	for bucket, v := range buckets {
		ch <- prometheus.MustNewConstMetric(c.expiry, prometheus.GaugeValue, float64(v), bucket)
	}
}

func (c *registeredCollector) connectedMetric(s *corev1.Secret, v float64) prometheus.Metric {
	return prometheus.MustNewConstMetric(c.connected, prometheus.GaugeValue, v,
		s.Labels[api.SourceNamespaceLabel], s.Labels[api.SourceNameLabel], s.Namespace)
}
