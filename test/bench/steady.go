package main

import (
	"fmt"
	"time"
)

// steadyState is scenario 5: writes while nothing changes, on a restart,
// and over one forced resync.
func (b *bench) steadyState(f *fleet) error {
	n := float64(len(f.vcs))
	step("scenario 5: %s with nothing changing", b.o.steady)
	// Let the last reconciles of the previous scenario finish (a write is
	// counted only after the API server answered, which may be after the
	// watch delivered it) before the window opens.
	if _, err := b.reg.settle(b.ctx, 0, 2*time.Second, b.o.timeout); err != nil {
		return err
	}
	// The first connection probe of each new registration records its
	// result once (here a DNS failure: the service names do not resolve
	// on this machine, and the resolver may take a second to say so);
	// the window opens once every registration has one.
	probed := time.Now()
	if err := b.waitProbed(len(f.vcs), b.o.timeout); err != nil {
		return err
	}
	m0, err := b.reg.metrics()
	if err != nil {
		return err
	}
	b.notes = append(b.notes, fmt.Sprintf("5 steady state: every registration's first probe result recorded %s after the cold start settled (probes here wait on a DNS failure)", secs(time.Since(probed))))
	u0 := b.tr.updateCount()
	time.Sleep(b.o.steady)
	if err := b.reg.Alive(); err != nil {
		return err
	}
	m1, err := b.reg.metrics()
	if err != nil {
		return err
	}
	idle := m1.writes() - m0.writes()
	b.t.add(row{
		scenario:  "5 steady state",
		params:    fmt.Sprintf("N=%.0f registered, nothing changes for %s", n, b.o.steady),
		registrar: fmt.Sprintf("%.0f writes (%.0f reconciles; watch saw %d changed registrations)", idle, m1.reconciles()-m0.reconciles(), b.tr.updateCount()-u0),
		goal:      "0 writes",
		verdict:   verdict(idle == 0),
	})

	step("scenario 5: restart with --resync-period=%s, then one full resync", b.o.resyncProbe)
	b.reg.stop()
	u1 := b.tr.updateCount()
	p, err := b.startRegistrar(mainArgoCD, b.o.concurrency, b.o.resyncProbe)
	if err != nil {
		return err
	}
	b.reg = p
	m, err := p.settle(b.ctx, n, time.Second, b.o.timeout)
	if err != nil {
		return err
	}
	restartWrites, r1 := m.writes(), m.reconciles()
	b.t.add(row{
		scenario:  "5 steady state",
		params:    fmt.Sprintf("N=%.0f registered, registrar restarted (its initial list reconciles every vcluster)", n),
		registrar: fmt.Sprintf("%.0f writes (%.0f reconciles)", restartWrites, r1),
		goal:      "0 writes",
		verdict:   verdict(restartWrites == 0),
	})
	m, err = p.settle(b.ctx, r1+n, 2*time.Second, b.o.resyncProbe+b.o.timeout)
	if err != nil {
		return err
	}
	resyncWrites := m.writes() - restartWrites
	b.t.add(row{
		scenario: "5 steady state",
		params:   fmt.Sprintf("N=%.0f registered, forced resync (--resync-period=%s, one full pass)", n, b.o.resyncProbe),
		registrar: fmt.Sprintf("%.0f writes (%.0f reconciles; watch saw %d changed registrations over restart and resync)",
			resyncWrites, m.reconciles()-r1, b.tr.updateCount()-u1),
		goal:    "0 writes",
		verdict: verdict(resyncWrites == 0),
	})

	// Back to the default resync period for the scenarios that follow.
	p.stop()
	if b.reg, err = b.startRegistrar(mainArgoCD, b.o.concurrency, 0); err != nil {
		return err
	}
	_, err = b.reg.settle(b.ctx, n, time.Second, b.o.timeout)
	return err
}
