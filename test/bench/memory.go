package main

import (
	"encoding/base64"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/registrar-dev/registrar/pkg/registration"
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

	subjects, err := b.memorySubjects(f)
	defer func() {
		for _, s := range subjects[1:] {
			s.p.stop()
			s.tr.stop()
		}
	}()
	if err != nil {
		return err
	}
	// Memory is sampled at rest: every registration has its first probe
	// result (here a DNS failure, which the resolver may take a second to
	// give), so that no probe round is under way in one sample and over in
	// the next.
	step("scenario 6: waiting for every registration's first probe result")
	for _, s := range subjects {
		if err := b.waitProbedBy(s.p, s.argocd, s.n, b.o.timeout); err != nil {
			return fmt.Errorf("registrar on the %s fleet: %w", s.fleet, err)
		}
	}
	step("scenario 6: memory with %d registered", n)
	time.Sleep(b.o.settle)
	at0, base0, err := b.sampleMemory(subjects)
	if err != nil {
		return err
	}
	for i, s := range subjects {
		r := row{scenario: "6 memory", params: fmt.Sprintf("%s, no unrelated Secrets", s.what()), registrar: memString(at0[i])}
		if i == 0 {
			r.baseline = memString(base0)
		}
		b.t.add(r)
	}
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
		at, base, err := b.sampleMemory(subjects)
		if err != nil {
			return err
		}
		for i, s := range subjects {
			growth := max(at[i].RSS-at0[i].RSS, at[i].HeapLive-at0[i].HeapLive)
			r := row{
				scenario:  "6 memory",
				params:    fmt.Sprintf("%s, %d unrelated %d B Secrets in other namespaces (created in %s)", s.what(), count, b.o.unrelatedSize, secs(took)),
				registrar: growthString(at0[i], at[i]),
				goal:      "growth < 2 MiB",
				verdict:   verdict(growth < 2<<20),
			}
			if i == 0 && b.base != nil {
				r.baseline = growthString(base0, base)
			}
			b.t.add(r)
		}
	}
	for _, s := range subjects[1:] {
		s.p.stop()
	}
	pending, err := b.unlabelledRotation(f, have)
	if err != nil {
		return err
	}
	return b.restartWithUnrelated(n, have, pending)
}

// memorySubject is a registrar whose memory scenario 6 samples.
type memorySubject struct {
	fleet, argocd string
	n             int
	p             *proc
	tr            *tracker
}

func (s memorySubject) what() string {
	return fmt.Sprintf("fleet %s, N=%d registered", s.fleet, s.n)
}

// fleetLabel marks each namespace of scenario 6's fleet with the kind of
// its vcluster's kubeconfig Secret, for the per-kind registrars.
const fleetLabel = "bench.registrar.dev/kubeconfig"

// memorySubjects are the registrar on the whole of f (mixed, when f mixes
// both kinds of kubeconfig Secrets) and, for such a fleet, one registrar
// per kind on its part (--namespace-selector), each at the chart's
// defaults with an Argo CD namespace and a lease of its own.
func (b *bench) memorySubjects(f *fleet) ([]memorySubject, error) {
	kind := "labelled"
	switch len(f.unlabelled) {
	case 0:
	case len(f.vcs):
		kind = "unlabelled"
	default:
		kind = "mixed"
	}
	subjects := []memorySubject{{fleet: kind, argocd: mainArgoCD, n: len(f.vcs), p: b.reg, tr: b.tr}}
	if kind != "mixed" {
		return subjects, nil
	}
	kindOf := func(i int) string {
		if f.unlabelled[i] {
			return "unlabelled"
		}
		return "labelled"
	}
	parts := map[string][]string{}
	for i, name := range f.registrations() {
		parts[kindOf(i)] = append(parts[kindOf(i)], name)
	}
	if err := parallel(len(f.vcs), b.o.workers, func(i int) error {
		patch := []byte(fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, fleetLabel, kindOf(i)))
		_, err := b.cl.cs.CoreV1().Namespaces().Patch(b.ctx, f.vcs[i].Namespace, types.MergePatchType, patch, metav1.PatchOptions{})
		return err
	}); err != nil {
		return subjects, err
	}
	for _, k := range []string{"labelled", "unlabelled"} {
		step("scenario 6: starting a registrar on the %d vclusters with %s kubeconfig Secrets", len(parts[k]), k)
		ns := "argocd-mem-" + k
		if err := b.cl.createNamespaces(b.ctx, []string{ns}, 1); err != nil {
			return subjects, err
		}
		tr, err := startTracker(b.ctx, b.cl.cs, ns)
		if err != nil {
			return subjects, err
		}
		p, err := b.startRegistrarAs([]string{b.o.registrar}, ns, b.o.concurrency, 0, map[string]string{
			"--namespace-selector": fleetLabel + "=" + k, "--leader-election-id": "registrar-mem-" + k})
		if err != nil {
			tr.stop()
			return subjects, err
		}
		subjects = append(subjects, memorySubject{fleet: k, argocd: ns, n: len(parts[k]), p: p, tr: tr})
		if _, err := tr.waitPresent(b.ctx, parts[k], b.o.timeout); err != nil {
			return subjects, err
		}
		if _, err := p.settle(b.ctx, float64(len(parts[k])), time.Second, b.o.timeout); err != nil {
			return subjects, err
		}
	}
	return subjects, nil
}

// memorySamples is how many samples, half a second apart, a memory figure
// is the smallest of: a collection and the scavenger's return of freed
// pages move RSS by a few MiB within seconds.
const memorySamples = 8

// sampleMemory samples every subject, and the baseline, at the same time.
func (b *bench) sampleMemory(subjects []memorySubject) ([]memory, memory, error) {
	procs := make([]*proc, 0, len(subjects)+1)
	for _, s := range subjects {
		procs = append(procs, s.p)
	}
	if b.base != nil {
		procs = append(procs, b.base)
	}
	samples := memorySamples
	if b.o.quick {
		// A smoke run: half the samples, two seconds saved per row.
		samples /= 2
	}
	got := make([]memory, len(procs))
	errs := make([]error, len(procs))
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Go(func() { got[i], errs[i] = p.memory(samples) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, memory{}, fmt.Errorf("memory of %s: %w", procs[i].Name, err)
		}
	}
	var base memory
	if b.base != nil {
		base = got[len(subjects)]
	}
	return got[:len(subjects)], base, nil
}

func memString(m memory) string {
	if m.RSS == 0 {
		return ""
	}
	return fmt.Sprintf("RSS %s, heap in use %s, live %s (free held %s, goal %s)%s", mib(m.RSS), mib(m.HeapInuse), mib(m.HeapLive), mib(m.HeapFree), mib(m.HeapGoal), limitString(m))
}

// limitString names the Go runtime's soft memory limit beside a memory
// figure: the GOMEMLIMIT the chart's environment gave the process.
func limitString(m memory) string {
	if m.Limit == 0 || m.Limit >= math.MaxInt64 {
		return ", GOMEMLIMIT off"
	}
	return ", GOMEMLIMIT " + mib(m.Limit)
}

func growthString(from, to memory) string {
	if to.RSS == 0 {
		return ""
	}
	return fmt.Sprintf("RSS %s, heap in use %s, live %s (now %s, %s, %s; free held %s, goal %s%s)",
		signedMiB(to.RSS-from.RSS), signedMiB(to.HeapInuse-from.HeapInuse), signedMiB(to.HeapLive-from.HeapLive),
		mib(to.RSS), mib(to.HeapInuse), mib(to.HeapLive), mib(to.HeapFree), mib(to.HeapGoal), limitString(to))
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
				return strings.Contains(string(s.Data[registration.ArgoCDConfigKey]), markers[i])
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
		return np, fmt.Sprintf("settled in ~%s, %.0f writes (%s); %s", secs(settled), m.writes(), m.writesBy(), memString(mem)), m.writes(), nil
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
