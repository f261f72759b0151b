package main

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/registrar-dev/registrar/pkg/reconcile"
)

// memory is scenario 6, with the naive baseline beside the registrar.
func (b *bench) memory(f *fleet) error {
	n := len(f.vcs)
	names := f.registrations()
	if b.o.baseline {
		step("scenario 6: starting the naive baseline on %d vclusters", n)
		var err error
		if b.trBase, err = startTracker(b.ctx, b.cl.cs, baselineArgoCD); err != nil {
			return err
		}
		req0, err := b.cl.requests(b.ctx)
		if err != nil {
			return err
		}
		cpu0 := b.cpu(nil)
		if b.base, err = b.startBaseline(); err != nil {
			return err
		}
		last, err := b.trBase.waitPresent(b.ctx, names, b.o.timeout)
		if err == nil {
			err = b.base.Alive()
		}
		if err != nil {
			return fmt.Errorf("naive baseline: %w", err)
		}
		took := last.Sub(b.base.Started)
		if err := b.note(fmt.Sprintf("2 cold start N=%d, naive baseline", n), took, req0, cpu0, b.base); err != nil {
			return err
		}
		m, err := b.base.settle(b.ctx, float64(n), time.Second, b.o.timeout)
		if err != nil {
			return err
		}
		b.notes = append(b.notes, fmt.Sprintf("2 cold start N=%d, naive baseline's own metrics: %s", n, m.latencies()))
		r := row{
			scenario: "2 cold start",
			params:   fmt.Sprintf("N=%d ready vclusters, naive baseline (timed in scenario 6, registrar idle beside it)", n),
			baseline: fmt.Sprintf("%s (%.0f writes)", secs(took), m.writes()),
		}
		if yard := b.plain[n]; yard > 0 {
			r.yardstick, r.ratio = secs(yard), ratio(took, yard)
		}
		b.t.add(r)
	}

	step("scenario 6: memory with %d registered", n)
	time.Sleep(b.o.settle)
	reg0, base0, err := b.sampleMemory()
	if err != nil {
		return err
	}
	b.t.add(row{
		scenario:  "6 memory",
		params:    fmt.Sprintf("N=%d registered, no unrelated Secrets", n),
		registrar: memString(reg0),
		baseline:  memString(base0),
	})
	have := 0
	for _, count := range b.o.unrelated {
		step("scenario 6: adding unrelated Secrets up to %d", count)
		start := time.Now()
		if err := addUnrelated(b.ctx, b.cl, have, count, b.o.unrelatedSize, b.o.workers); err != nil {
			return err
		}
		took := time.Since(start)
		have = count
		time.Sleep(b.o.settle)
		reg, base, err := b.sampleMemory()
		if err != nil {
			return err
		}
		growth := max(reg.RSS-reg0.RSS, reg.HeapLive-reg0.HeapLive)
		r := row{
			scenario:  "6 memory",
			params:    fmt.Sprintf("N=%d registered, %d unrelated %d B Secrets in other namespaces (created in %s)", n, count, b.o.unrelatedSize, secs(took)),
			registrar: growthString(reg0, reg),
			goal:      "growth < 2 MiB",
			verdict:   verdict(growth < 2<<20),
		}
		if b.base != nil {
			r.baseline = growthString(base0, base)
		}
		b.t.add(r)
	}
	pending, err := b.unlabelledRotation(f, have)
	if err != nil {
		return err
	}
	return b.restartWithUnrelated(n, have, pending)
}

func (b *bench) sampleMemory() (reg, base memory, err error) {
	if reg, err = b.reg.memory(3); err != nil {
		return
	}
	if b.base != nil {
		base, err = b.base.memory(3)
	}
	return
}

func memString(m memory) string {
	if m.RSS == 0 {
		return ""
	}
	return fmt.Sprintf("RSS %s, heap in use %s, live %s", mib(m.RSS), mib(m.HeapInuse), mib(m.HeapLive))
}

func growthString(from, to memory) string {
	if to.RSS == 0 {
		return ""
	}
	return fmt.Sprintf("RSS %s, heap in use %s, live %s (now %s, %s, %s)",
		signedMiB(to.RSS-from.RSS), signedMiB(to.HeapInuse-from.HeapInuse), signedMiB(to.HeapLive-from.HeapLive),
		mib(to.RSS), mib(to.HeapInuse), mib(to.HeapLive))
}

// unlabelledRotation rotates the client certificate of every vcluster whose
// kubeconfig Secret has no labels and waits, bounded, for each
// registration to carry it. Not seeing it is a figure, not a failure: with
// a label-selected Secret cache only the resync (10 min) re-reads them. It
// returns how many rotations the registrar has not yet followed.
func (b *bench) unlabelledRotation(f *fleet, unrelated int) (int, error) {
	var idx []int
	for i := range f.vcs {
		if f.unlabelled[i] {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return 0, nil
	}
	step("scenario 6: rotating %d unlabelled kubeconfig Secrets", len(idx))
	names := f.registrations()
	markers := map[int]string{}
	started := map[int]time.Time{}
	for _, i := range idx {
		started[i] = time.Now()
		if err := f.vcs[i].Rotate(b.ctx, b.cl.c); err != nil {
			return 0, err
		}
		markers[i] = base64.StdEncoding.EncodeToString(f.vcs[i].ClientCertificate())
	}
	// measure returns the cell for one tracker and whether every rotation
	// arrived within a second.
	measure := func(tr *tracker) (string, bool, int) {
		if tr == nil {
			return "", false, 0
		}
		deadline := time.Now().Add(b.o.unlabelledWait)
		var lat []time.Duration
		for _, i := range idx {
			at, ok := tr.waitData(b.ctx, names[i], max(time.Until(deadline), 0), func(s *corev1.Secret) bool {
				return strings.Contains(string(s.Data[reconcile.ArgoCDConfigKey]), markers[i])
			})
			if ok {
				lat = append(lat, at.Sub(started[i]))
			}
		}
		if len(lat) == 0 {
			return fmt.Sprintf("0/%d seen within %s", len(idx), b.o.unlabelledWait), false, len(idx)
		}
		worst := slices.Max(lat)
		return fmt.Sprintf("%d/%d seen within %s, max %s", len(lat), len(idx), b.o.unlabelledWait, ms(worst)),
			len(lat) == len(idx) && worst < time.Second, len(idx) - len(lat)
	}
	reg, met, pending := measure(b.tr)
	base, _, _ := measure(b.trBase)
	b.t.add(row{
		scenario:  "6 rotation, unlabelled",
		params:    fmt.Sprintf("new client certificate in %d kubeconfig Secrets without labels, among N=%d, %d unrelated Secrets", len(idx), len(f.vcs), unrelated),
		registrar: reg,
		baseline:  base,
		goal:      "< 1 s",
		verdict:   verdict(met),
	})
	return pending, nil
}

// restartWithUnrelated restarts the registrar (and the baseline) with
// every unrelated Secret present: what a restart writes and holds. Only
// the pending rotations of unlabelled kubeconfig Secrets may be written.
func (b *bench) restartWithUnrelated(n, unrelated, pending int) error {
	step("scenario 6: restarting with %d unrelated Secrets", unrelated)
	restart := func(p *proc, start func() (*proc, error)) (*proc, string, float64, error) {
		p.stop()
		np, err := start()
		if err != nil {
			return nil, "", 0, err
		}
		m, err := np.settle(b.ctx, float64(n), time.Second, b.o.timeout)
		if err != nil {
			return np, "", 0, err
		}
		settled := time.Since(np.Started) - time.Second
		mem, err := np.memory(3)
		if err != nil {
			return np, "", 0, err
		}
		return np, fmt.Sprintf("settled in ~%s, %.0f writes; %s", secs(settled), m.writes(), memString(mem)), m.writes(), nil
	}
	var regCell, baseCell string
	var regWrites float64
	var err error
	b.reg, regCell, regWrites, err = restart(b.reg, func() (*proc, error) { return b.startRegistrar(mainArgoCD, b.o.concurrency, 0) })
	if err != nil {
		return err
	}
	if b.base != nil {
		if b.base, baseCell, _, err = restart(b.base, b.startBaseline); err != nil {
			return err
		}
	}
	b.t.add(row{
		scenario:  "6 restart",
		params:    fmt.Sprintf("N=%d registered, %d unrelated Secrets: process restarted", n, unrelated),
		registrar: regCell,
		baseline:  baseCell,
		goal:      restartGoal(pending),
		verdict:   verdict(int(regWrites) == pending),
	})
	return nil
}

// restartGoal is what a restart may write: nothing, except rotations of
// unlabelled kubeconfig Secrets the running registrar had not followed.
func restartGoal(pending int) string {
	if pending == 0 {
		return "0 writes"
	}
	return fmt.Sprintf("%d writes (the unlabelled rotations not yet followed)", pending)
}
