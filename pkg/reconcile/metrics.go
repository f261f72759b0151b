package reconcile

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// reconcilerMetrics are the metrics of one Reconciler, held by it.
type reconcilerMetrics struct {
	errors     *prometheus.CounterVec
	writes     *prometheus.CounterVec
	registered *registeredCollector
}

func newReconcilerMetrics(reader client.Reader, namespaces []string) *reconcilerMetrics {
	return &reconcilerMetrics{
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "registrar_reconcile_errors_total",
			Help: "vclusters that could not be registered, by reason (an event reason on the workload).",
		}, []string{"reason"}),
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "registrar_writes_total",
			Help: "Writes to Argo CD cluster Secrets, by operation (create, apply, ownership, delete).",
		}, []string{"operation"}),
		registered: &registeredCollector{
			desc: prometheus.NewDesc("registrar_registered_clusters",
				"Argo CD cluster Secrets owned by the registrar.", nil, nil),
			reader: reader, namespaces: namespaces,
		},
	}
}

// register adds the metrics to reg, or to controller-runtime's registry,
// which the manager serves, when reg is nil.
func (m *reconcilerMetrics) register(reg prometheus.Registerer) error {
	if reg == nil {
		reg = metrics.Registry
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.errors, m.writes, m.registered} {
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

// registeredCollector reports the number of Argo CD cluster Secrets the
// registrar owns, counted in the cache at scrape time rather than tracked
// on every write.
type registeredCollector struct {
	desc       *prometheus.Desc
	reader     client.Reader
	namespaces []string
}

func (c *registeredCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *registeredCollector) Collect(ch chan<- prometheus.Metric) {
	if c.reader == nil {
		return
	}
	n := 0
	for _, ns := range c.namespaces {
		var list corev1.SecretList
		if err := c.reader.List(context.Background(), &list, client.InNamespace(ns),
			client.MatchingLabels{ManagedByLabel: ManagedByValue}, client.UnsafeDisableDeepCopy); err != nil {
			ch <- prometheus.NewInvalidMetric(c.desc, err)
			return
		}
		n += len(list.Items)
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n))
}
