package main

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/registrar-dev/registrar/pkg/registration"
)

// burst is scenario 3; the fleet it creates stays for scenario 6.
func (b *bench) burst() (*fleet, error) {
	n := b.o.burstN
	f, err := newFleet("burst", n, b.o.unlabelled, b.pki)
	if err != nil {
		return nil, err
	}
	if err := b.cl.createNamespaces(b.ctx, f.namespaces(), b.o.workers); err != nil {
		return nil, err
	}
	step("scenario 3: creating %d vclusters at once while the registrar runs", n)
	req0, err := b.cl.requests(b.ctx)
	if err != nil {
		return nil, err
	}
	cpu0 := b.cpu(nil)
	start := time.Now()
	if err := f.create(b.ctx, b.cl.c, b.o.workers); err != nil {
		return nil, err
	}
	lastReady := slices.MaxFunc(f.readyAt, func(a, b time.Time) int { return a.Compare(b) })
	lastReg, err := b.tr.waitPresent(b.ctx, f.registrations(), b.o.timeout)
	if err != nil {
		return nil, err
	}
	lag := lastReg.Sub(lastReady)
	if err := b.note(fmt.Sprintf("3 burst N=%d (creation by the load generator included)", n), lastReg.Sub(start), req0, cpu0, b.reg); err != nil {
		return nil, err
	}
	var each []time.Duration
	for i, at := range b.tr.addedTimes(f.registrations()) {
		each = append(each, at.Sub(f.readyAt[i]))
	}
	creation := lastReady.Sub(start)
	b.t.add(row{
		scenario: "3 burst",
		params: fmt.Sprintf("N=%d vclusters created at once by %d writers (%d with unlabelled kubeconfig Secrets; namespaces made beforehand)",
			n, b.o.workers, b.o.unlabelled),
		registrar: fmt.Sprintf("lag %s after the last became ready (per vcluster p50 %s, p99 %s)",
			ms(lag), ms(percentile(each, 50)), ms(percentile(each, 99))),
		yardstick: fmt.Sprintf("creation took %s", secs(creation)),
		goal:      "lag < 1 s",
		verdict:   verdict(lag < time.Second),
	})
	_, err = b.reg.settle(b.ctx, 0, time.Second, b.o.timeout)
	return f, err
}

// rotation is scenario 4: new client certificates, then new CAs, in the
// kubeconfig Secret of one vcluster at a time.
func (b *bench) rotation(f *fleet) error {
	n := len(f.vcs)
	names := f.registrations()
	for _, newCA := range []bool{false, true} {
		what := "new client certificate"
		if newCA {
			what = "new CA (and client certificate)"
		}
		step("scenario 4: %d rotations, %s", b.o.rotations, what)
		var lat []time.Duration
		for k := 0; k < b.o.rotations; k++ {
			i := (k*n/b.o.rotations + n/(2*b.o.rotations)) % n
			vc := f.vcs[i]
			rotate := vc.Rotate
			if newCA {
				rotate = vc.RotateCA
			}
			start := time.Now()
			if err := rotate(b.ctx, b.cl.c); err != nil {
				return err
			}
			marker := base64.StdEncoding.EncodeToString(vc.ClientCertificate())
			if newCA {
				marker = base64.StdEncoding.EncodeToString(vc.PKI.CACert)
			}
			at, ok := b.tr.waitData(b.ctx, names[i], 30*time.Second, func(s *corev1.Secret) bool {
				return strings.Contains(string(s.Data[registration.ArgoCDConfigKey]), marker)
			})
			if !ok {
				return fmt.Errorf("rotation (%s) of %s not registered within 30 s", what, f.vcs[i].Namespace)
			}
			lat = append(lat, at.Sub(start))
		}
		worst := slices.Max(lat)
		b.t.add(row{
			scenario:  "4 rotation",
			params:    fmt.Sprintf("%s, one vcluster among N=%d, %d samples", what, n, len(lat)),
			registrar: fmt.Sprintf("p50 %s, max %s", ms(percentile(lat, 50)), ms(worst)),
			goal:      "< 1 s",
			verdict:   verdict(worst < time.Second),
		})
	}
	return nil
}

// deletion is scenario 7.
func (b *bench) deletion(f *fleet) error {
	n := len(f.vcs)
	step("scenario 7: deleting %d vclusters", n)
	m0, err := b.reg.metrics()
	if err != nil {
		return err
	}
	req0, err := b.cl.requests(b.ctx)
	if err != nil {
		return err
	}
	cpu0 := b.cpu(nil)
	start := time.Now()
	if err := f.delete(b.ctx, b.cl.c, b.o.workers); err != nil {
		return err
	}
	issued := time.Since(start)
	last, err := b.tr.waitGone(b.ctx, f.registrations(), b.o.timeout)
	if err != nil {
		return err
	}
	took := last.Sub(start)
	if err := b.note(fmt.Sprintf("7 deletion N=%d (deletes by the load generator included)", n), took, req0, cpu0, b.reg); err != nil {
		return err
	}
	m1, err := b.reg.settle(b.ctx, 0, time.Second, b.o.timeout)
	if err != nil {
		return err
	}
	r := row{
		scenario:  "7 deletion",
		params:    fmt.Sprintf("N=%d vclusters deleted (StatefulSet, Service, kubeconfig Secret) by %d writers", n, b.o.workers),
		registrar: fmt.Sprintf("%s (%.0f writes; the deletes themselves took %s)", secs(took), m1.writes()-m0.writes(), secs(issued)),
	}
	if yard := b.plain[n]; yard > 0 {
		r.yardstick, r.ratio = secs(yard), ratio(took, yard)
	}
	b.t.add(r)
	return nil
}
