package reconcile

import (
	"context"
	"sync"

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
	metrics.Registry.MustRegister(reconcileErrors, writes, registered)
}

// registered reports the number of Argo CD cluster Secrets the registrar
// owns, counted in the cache at scrape time rather than tracked on every
// write. SetupWithManager points it at the manager's cache.
var registered = &registeredCollector{desc: prometheus.NewDesc(
	"registrar_registered_clusters", "Argo CD cluster Secrets owned by the registrar.", nil, nil)}

type registeredCollector struct {
	desc      *prometheus.Desc
	mu        sync.Mutex
	reader    client.Reader
	namespace string
}

func (c *registeredCollector) use(reader client.Reader, namespace string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reader, c.namespace = reader, namespace
}

func (c *registeredCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *registeredCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	reader, namespace := c.reader, c.namespace
	c.mu.Unlock()
	if reader == nil {
		return
	}
	var list corev1.SecretList
	if err := reader.List(context.Background(), &list, client.InNamespace(namespace),
		client.MatchingLabels{ManagedByLabel: ManagedByValue}, client.UnsafeDisableDeepCopy); err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(len(list.Items)))
}
