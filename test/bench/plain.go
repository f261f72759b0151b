package main

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// plainClient is scenario 1.
func (b *bench) plainClient() error {
	for _, n := range b.o.plainN {
		for _, w := range []int{1, b.o.workers} {
			ns := fmt.Sprintf("plain-%d-%d", n, w)
			step("scenario 1: plain client writes %d cluster Secrets with %d writer(s)", n, w)
			if err := b.cl.createNamespaces(b.ctx, []string{ns}, 1); err != nil {
				return err
			}
			tmpl, err := b.clusterSecret(ns)
			if err != nil {
				return err
			}
			size := 0
			for _, v := range tmpl.Data {
				size += len(v)
			}
			req0, err := b.cl.requests(b.ctx)
			if err != nil {
				return err
			}
			cpu0 := b.cpu(nil)
			start := time.Now()
			err = parallel(n, w, func(i int) error {
				s := &corev1.Secret{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cluster-%d", i), Namespace: ns, Labels: tmpl.Labels, Annotations: tmpl.Annotations},
					Type:       tmpl.Type, Data: tmpl.Data,
				}
				return b.cl.c.Create(b.ctx, s)
			})
			took := time.Since(start)
			if err != nil {
				return err
			}
			if w == b.o.workers {
				b.plain[n] = took
				b.plainAPICPU[n] = 1000 * (b.cpu(nil)["kube-apiserver"] - cpu0["kube-apiserver"]) / float64(n)
			}
			if err := b.note(fmt.Sprintf("1 plain N=%d, %d writer(s)", n, w), took, req0, cpu0, nil); err != nil {
				return err
			}
			b.t.add(row{
				scenario:  "1 plain client",
				params:    fmt.Sprintf("N=%d cluster Secrets (%d B data), %d writer(s)", n, size, w),
				yardstick: fmt.Sprintf("%s (%.0f/s)", secs(took), float64(n)/took.Seconds()),
			})
			if err := b.cl.clearNamespace(b.ctx, ns); err != nil {
				return err
			}
		}
	}
	return nil
}
