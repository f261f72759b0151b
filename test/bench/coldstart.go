package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"time"
)

// coldStart is scenario 2. The registrar started last on the largest
// fleet, with the main concurrency, keeps running for the next scenarios;
// that fleet is returned.
func (b *bench) coldStart() (*fleet, error) {
	sizes := slices.Clone(b.o.coldN)
	slices.Sort(sizes)
	var concs []int
	for _, c := range b.o.extraConcurrency {
		if c != b.o.concurrency && !slices.Contains(concs, c) {
			concs = append(concs, c)
		}
	}
	concs = append(concs, b.o.concurrency)
	var kept *fleet
	for k, n := range sizes {
		last := k == len(sizes)-1
		f, err := newFleet(fmt.Sprintf("cold%d", n), n, 0, b.pki)
		if err != nil {
			return nil, err
		}
		step("scenario 2: creating %d ready vclusters", n)
		if err := b.cl.createNamespaces(b.ctx, f.namespaces(), b.o.workers); err != nil {
			return nil, err
		}
		if err := f.create(b.ctx, b.cl.c, b.o.workers); err != nil {
			return nil, err
		}
		if last && b.o.profile != "" {
			if err := b.profileColdStart(f); err != nil {
				return nil, err
			}
		}
		for j, c := range concs {
			keep := last && j == len(concs)-1
			ns := mainArgoCD
			if !keep {
				ns = fmt.Sprintf("argocd-cold%d-c%d", n, c)
				if err := b.cl.createNamespaces(b.ctx, []string{ns}, 1); err != nil {
					return nil, err
				}
			}
			step("scenario 2: cold start of the registrar on %d vclusters, --max-concurrent-reconciles=%d", n, c)
			tr, err := startTracker(b.ctx, b.cl.cs, ns)
			if err != nil {
				return nil, err
			}
			req0, err := b.cl.requests(b.ctx)
			if err != nil {
				return nil, err
			}
			var apiProfile <-chan error
			if keep && b.o.profile != "" {
				// The API server is the bound: its profile over the cold
				// start, the yardstick's time a few times over.
				path := filepath.Join(b.o.profile, fmt.Sprintf("apiserver-cold-start-%d.pprof", n))
				apiProfile = b.cl.cpuProfile(b.ctx, max(2, int(4*b.plain[n].Seconds()+0.5)), path)
				b.notes = append(b.notes, fmt.Sprintf("2 cold start N=%d: the API server's CPU profile in %s (go tool pprof -top %s)", n, path, path))
			}
			cpu0 := b.cpu(nil)
			p, err := b.startRegistrar(ns, c, 0)
			if err != nil {
				tr.stop()
				return nil, err
			}
			lastAdded, err := tr.waitPresent(b.ctx, f.registrations(), b.o.timeout)
			if err == nil {
				err = p.Alive()
			}
			if err != nil {
				p.stop()
				tr.stop()
				return nil, err
			}
			took := lastAdded.Sub(p.Started)
			what := fmt.Sprintf("2 cold start N=%d, --max-concurrent-reconciles=%d", n, c)
			if err := b.note(what, took, req0, cpu0, p); err != nil {
				return nil, err
			}
			first := slices.MinFunc(tr.addedTimes(f.registrations()), func(a, b time.Time) int { return a.Compare(b) })
			busy := b.cpu(p).total() - cpu0.total()
			b.notes = append(b.notes, fmt.Sprintf("%s: first registration %s after the process started, the last %s after the first; %.1f CPU s of all processes = %.2f cores busy on average",
				what, secs(first.Sub(p.Started)), secs(lastAdded.Sub(first)), busy, busy/took.Seconds()))
			if apiProfile != nil {
				if err := <-apiProfile; err != nil {
					return nil, err
				}
			}
			m, err := p.settle(b.ctx, float64(n), time.Second, b.o.timeout)
			if err != nil {
				p.stop()
				tr.stop()
				return nil, err
			}
			b.notes = append(b.notes, fmt.Sprintf("2 cold start N=%d, --max-concurrent-reconciles=%d, registrar's own metrics: %s", n, c, m.latencies()))
			yard := b.plain[n]
			r := row{
				scenario:  "2 cold start",
				params:    fmt.Sprintf("N=%d ready vclusters, --max-concurrent-reconciles=%d", n, c),
				registrar: fmt.Sprintf("%s (%.0f writes%s)", secs(took), m.writes(), b.vsFloor(n, took)),
				goal:      "<= 2x yardstick",
			}
			if yard > 0 {
				r.yardstick, r.ratio, r.verdict = secs(yard), ratio(took, yard), verdict(took <= 2*yard)
			}
			b.t.add(r)
			if keep {
				b.reg, b.tr, kept = p, tr, f
				continue
			}
			p.stop()
			tr.stop()
			if err := b.cl.clearNamespace(b.ctx, ns); err != nil {
				return nil, err
			}
		}
		if !last {
			if err := f.remove(b.ctx, b.cl, b.o.workers); err != nil {
				return nil, err
			}
		}
	}
	return kept, nil
}

// profileColdStart runs the registrar's reconciler, wired as cmd/registrar
// wires it, in a child process that writes a CPU profile of its cold start
// on f to dir/cold-start-<N>.pprof.
func (b *bench) profileColdStart(f *fleet) error {
	n := len(f.vcs)
	ns := fmt.Sprintf("argocd-profile-%d", n)
	if err := b.cl.createNamespaces(b.ctx, []string{ns}, 1); err != nil {
		return err
	}
	tr, err := startTracker(b.ctx, b.cl.cs, ns)
	if err != nil {
		return err
	}
	defer tr.stop()
	path := filepath.Join(b.o.profile, fmt.Sprintf("cold-start-%d.pprof", n))
	step("scenario 2: profiled cold start on %d vclusters (in-process twin of the registrar) to %s", n, path)
	p, err := b.startChild("registrar-twin", ns, b.o.concurrency, "--naive=false", "--cpuprofile", path)
	if err != nil {
		return err
	}
	last, err := tr.waitPresent(b.ctx, f.registrations(), b.o.timeout)
	if err == nil {
		_, err = p.settle(b.ctx, float64(n), time.Second, b.o.timeout)
	}
	p.stop()
	if err != nil {
		return err
	}
	b.notes = append(b.notes, fmt.Sprintf("2 cold start N=%d, in-process twin with CPU profile: wall %s; profile in %s (go tool pprof -top %s)",
		n, secs(last.Sub(p.Started)), path, path))
	return b.cl.clearNamespace(b.ctx, ns)
}
