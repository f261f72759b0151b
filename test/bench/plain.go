package main

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// plainClient is scenario 1: N cluster Secrets written by a plain client,
// with one writer and with -workers, the yardstick of every ratio; and, as
// the floor of a registrar that writes each registration and its Event,
// the same N Secrets each followed by an Event, by -workers writers.
func (b *bench) plainClient() error {
	for _, n := range b.o.plainN {
		for _, run := range []struct {
			w         int
			withEvent bool
		}{{1, false}, {b.o.workers, false}, {b.o.workers, true}} {
			w, withEvent := run.w, run.withEvent
			ns := fmt.Sprintf("plain-%d-%d", n, w)
			what := fmt.Sprintf("N=%d cluster Secrets", n)
			if withEvent {
				ns += "-events"
				what = fmt.Sprintf("N=%d cluster Secrets, each followed by its Event (the floor: a registration and its Event)", n)
			}
			step("scenario 1: plain client writes %s with %d writer(s)", what, w)
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
				if err := b.cl.c.Create(b.ctx, s); err != nil || !withEvent {
					return err
				}
				return b.cl.c.Create(b.ctx, registeredEvent(ns, s.Name))
			})
			took := time.Since(start)
			if err != nil {
				return err
			}
			switch {
			case withEvent:
				b.floor[n] = took
			case w == b.o.workers:
				b.plain[n] = took
				b.plainAPICPU[n] = 1000 * (b.cpu(nil)["kube-apiserver"] - cpu0["kube-apiserver"]) / float64(n)
			}
			label := fmt.Sprintf("1 plain N=%d, %d writer(s)", n, w)
			if withEvent {
				label += ", Secret and Event"
			}
			if err := b.note(label, took, req0, cpu0, nil); err != nil {
				return err
			}
			r := row{
				scenario:  "1 plain client",
				params:    fmt.Sprintf("%s (%d B data), %d writer(s)", what, size, w),
				yardstick: fmt.Sprintf("%s (%.0f/s)", secs(took), float64(n)/took.Seconds()),
			}
			if withEvent && b.plain[n] > 0 {
				r.ratio = ratio(took, b.plain[n])
			}
			b.t.add(r)
			if err := b.cl.clearNamespace(b.ctx, ns); err != nil {
				return err
			}
		}
	}
	return nil
}

// registeredEvent is an Event as the registrar records one for a new
// registration (events.k8s.io/v1, about a vcluster's StatefulSet).
func registeredEvent(ns, name string) *eventsv1.Event {
	now := metav1.NowMicro()
	return &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", name, now.UnixNano()), Namespace: ns},
		EventTime:           now,
		ReportingController: "registrar",
		ReportingInstance:   "registrar-bench",
		Action:              "Register",
		Reason:              "Registered",
		Type:                corev1.EventTypeNormal,
		Regarding:           corev1.ObjectReference{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: ns, Name: name},
		Note:                fmt.Sprintf("Registered in Argo CD as cluster %q at https://%s.%s:443 (Secret argocd/%s)", ns+"-"+name, name, ns, name),
	}
}
