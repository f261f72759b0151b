package reconcile

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	reconcileErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "registrar_reconcile_errors_total",
		Help: "vclusters that could not be registered, by reason (an event reason on the workload).",
	}, []string{"reason"})
	writes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "registrar_writes_total",
		Help: "Writes to Argo CD cluster Secrets, by operation (apply, delete).",
	}, []string{"operation"})
)

func init() {
	metrics.Registry.MustRegister(reconcileErrors, writes)
}

// registeredCollector reports the number of Argo CD cluster Secrets the
// registrar owns, counted in the cache at scrape time.
type registeredCollector struct {
	reader    client.Reader
	namespace string
	desc      *prometheus.Desc
}

func newRegisteredCollector(reader client.Reader, namespace string) *registeredCollector {
	return &registeredCollector{reader: reader, namespace: namespace, desc: prometheus.NewDesc(
		"registrar_registered_clusters", "Argo CD cluster Secrets owned by the registrar.", nil, nil)}
}

func (c *registeredCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *registeredCollector) Collect(ch chan<- prometheus.Metric) {
	var list corev1.SecretList
	if err := c.reader.List(context.Background(), &list, client.InNamespace(c.namespace),
		client.MatchingLabels{ManagedByLabel: ManagedByValue}, client.UnsafeDisableDeepCopy); err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(len(list.Items)))
}
