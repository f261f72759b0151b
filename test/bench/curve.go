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

// curveArgoCD is the Argo CD namespace of the registrar of scenario 8.
const curveArgoCD = "argocd-curve"

// fleetKinds are the fleets of scenario 8 by the share of vclusters whose
// kubeconfig Secret carries no labels (vcluster before 0.24).
var fleetKinds = map[string]func(n int) int{
	"labelled":   func(int) int { return 0 },
	"unlabelled": func(n int) int { return n },
	"mixed":      func(n int) int { return n / 2 },
}

// curveRotations is how many kubeconfig Secrets scenario 8 rotates per
// fleet, one at a time.
const curveRotations = 10

// costCurve is scenario 8: for each fleet kind and each N, with no other
// registrar running, a burst of N vclusters created while the registrar
// runs, rotations among them, memory, then a cold start of a fresh
// registrar on the same N (its registrations removed first). Every figure
// is at the chart's default flags.
func (b *bench) costCurve() error {
	if err := b.cl.createNamespaces(b.ctx, []string{curveArgoCD}, 1); err != nil {
		return err
	}
	sizes := slices.Clone(b.o.curveN)
	slices.Sort(sizes)
	for _, kind := range b.o.fleets {
		for _, n := range sizes {
			if err := b.curvePoint(kind, n); err != nil {
				return fmt.Errorf("fleet %s, N=%d: %w", kind, n, err)
			}
		}
	}
	return nil
}

func (b *bench) curvePoint(kind string, n int) error {
	unlabelled := fleetKinds[kind](n)
	f, err := newFleet(fmt.Sprintf("c-%s-%d", kind[:1], n), n, unlabelled, b.pki)
	if err != nil {
		return err
	}
	if err := b.cl.createNamespaces(b.ctx, f.namespaces(), b.o.workers); err != nil {
		return err
	}
	tr, err := startTracker(b.ctx, b.cl.cs, curveArgoCD)
	if err != nil {
		return err
	}
	defer tr.stop()
	p, err := b.startRegistrar(curveArgoCD, 0, 0)
	if err != nil {
		return err
	}
	defer func() { p.stop() }()
	if _, err := p.settle(b.ctx, 0, time.Second, b.o.timeout); err != nil {
		return err
	}

	// Burst.
	step("scenario 8: fleet %s, burst of %d vclusters (%d unlabelled)", kind, n, unlabelled)
	start := time.Now()
	if err := f.create(b.ctx, b.cl.c, b.o.workers); err != nil {
		return err
	}
	lastReady := slices.MaxFunc(f.readyAt, func(a, b time.Time) int { return a.Compare(b) })
	lastReg, err := tr.waitPresent(b.ctx, f.registrations(), b.o.timeout)
	if err != nil {
		return err
	}
	lag := lastReg.Sub(lastReady)
	var each []time.Duration
	for i, at := range tr.addedTimes(f.registrations()) {
		each = append(each, at.Sub(f.readyAt[i]))
	}
	if _, err := p.settle(b.ctx, float64(n), time.Second, b.o.timeout); err != nil {
		return err
	}

	// Rotations, spread over the fleet (labelled and unlabelled alike).
	names := f.registrations()
	var rot []time.Duration
	for k := 0; k < curveRotations && k < n; k++ {
		i := (k*n/curveRotations + k) % n
		vc := f.vcs[i]
		t0 := time.Now()
		if err := vc.Rotate(b.ctx, b.cl.c); err != nil {
			return err
		}
		marker := base64.StdEncoding.EncodeToString(vc.ClientCertificate())
		at, ok := tr.waitData(b.ctx, names[i], 30*time.Second, func(s *corev1.Secret) bool {
			return strings.Contains(string(s.Data[registration.ArgoCDConfigKey]), marker)
		})
		if !ok {
			return fmt.Errorf("rotation of %s not registered within 30 s", vc.Namespace)
		}
		rot = append(rot, at.Sub(t0))
	}
	if _, err := p.settle(b.ctx, 0, time.Second, b.o.timeout); err != nil {
		return err
	}
	afterBurst, err := p.memory(3)
	if err != nil {
		return err
	}

	// Cold start: a fresh registrar, no registrations.
	p.stop()
	if err := b.cl.clearNamespace(b.ctx, curveArgoCD); err != nil {
		return err
	}
	if _, err := tr.waitGone(b.ctx, names, b.o.timeout); err != nil {
		return err
	}
	step("scenario 8: fleet %s, cold start on %d vclusters", kind, n)
	req0, err := b.cl.requests(b.ctx)
	if err != nil {
		return err
	}
	cpu0 := b.cpu(nil)
	if p, err = b.startRegistrar(curveArgoCD, 0, 0); err != nil {
		return err
	}
	last, err := tr.waitPresent(b.ctx, names, b.o.timeout)
	if err != nil {
		return err
	}
	cold := last.Sub(p.Started)
	// Requests and CPU once the registrar is idle again, so that the
	// events, sent after the writes, are counted too.
	m, err := p.settle(b.ctx, float64(n), 2*time.Second, b.o.timeout)
	if err != nil {
		return err
	}
	cpu := b.cpu(p)
	req, err := b.cl.requests(b.ctx)
	if err != nil {
		return err
	}
	mem, err := p.memory(3)
	if err != nil {
		return err
	}
	apiPer := 1000 * (cpu["kube-apiserver"] - cpu0["kube-apiserver"]) / float64(n)
	regPer := 1000 * (cpu[p.Name] - cpu0[p.Name]) / float64(n)
	b.notes = append(b.notes, fmt.Sprintf("8 cost curve %s N=%d cold start: wall %s; %s; requests: %s; %.1f requests per registration; kube-apiserver %.2f ms CPU per registration (yardstick %.2f ms), registrar %.2f ms; %s",
		kind, n, secs(cold), cpu.since(cpu0), req.since(req0), req.total(req0)/float64(n), apiPer, b.plainAPICPU[n], regPer, m.latencies()))

	yard := b.plain[n]
	lagOK := lag < time.Second
	rotOK := len(rot) > 0 && slices.Max(rot) < time.Second
	r := row{
		scenario: "8 cost curve",
		params:   fmt.Sprintf("fleet %s, N=%d (%d unlabelled)", kind, n, unlabelled),
		registrar: fmt.Sprintf("cold start %s (%.0f reconciles, %.0f writes, %.1f req/registration%s); burst lag %s (p99 %s; creation took %s); rotation p99 %s; RSS %s after burst, %s after cold start (heap live %s)",
			secs(cold), m.reconciles(), m.writes(), req.total(req0)/float64(n), b.vsFloor(n, cold), ms(lag), ms(percentile(each, 99)), secs(lastReady.Sub(start)), ms(percentile(rot, 99)),
			mib(afterBurst.RSS), mib(mem.RSS), mib(mem.HeapLive)),
		goal: "cold <= 2x yardstick, lag < 1 s, rotation < 1 s",
	}
	coldOK := true
	if yard > 0 {
		r.yardstick, r.ratio = secs(yard), ratio(cold, yard)
		coldOK = cold <= 2*yard
	}
	r.verdict = verdict(coldOK && lagOK && rotOK)
	b.t.add(r)

	// Leave no fleet behind for the next point.
	p.stop()
	if err := f.remove(b.ctx, b.cl, b.o.workers); err != nil {
		return err
	}
	return b.cl.clearNamespace(b.ctx, curveArgoCD)
}
