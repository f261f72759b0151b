package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/registrar-dev/registrar/pkg/reconcile"
	"github.com/registrar-dev/registrar/test/fixture"
)

// proc is a running controller under test: the registrar binary or the
// naive baseline (this program re-executed in baseline mode). Both take
// controller-runtime's flags and expose its metrics, so both are measured
// the same way.
type proc struct{ *fixture.Controller }

// startProc runs command (a binary and its leading arguments) with env
// added to this program's environment, and args plus a kubeconfig and
// loopback metrics and probe addresses of its own; its output goes to a log
// file in dir.
func startProc(name, dir string, command, env []string, kubeconfig string, args ...string) (*proc, error) {
	c, err := fixture.StartController(fixture.Command{
		Name: name,
		Path: command[0],
		Args: append(command[1:len(command):len(command)], args...),
		Env:  env,
		Log:  filepath.Join(dir, fmt.Sprintf("%s-%d.log", name, time.Now().UnixNano())),
	}, kubeconfig)
	if err != nil {
		return nil, err
	}
	return &proc{c}, nil
}

// stop ends the process gracefully (SIGTERM), killing it after 10 s.
func (p *proc) stop() {
	if p != nil {
		_ = p.Stop()
	}
}

// metrics are the process's own, as scraped (fixture.Metrics); a family
// may be filtered by a label=value pair written as "name{label=value}".
type metrics fixture.Metrics

func (p *proc) metrics() (metrics, error) {
	m, err := p.Metrics()
	return metrics(m), err
}

// writes is the registrar's own count of its writes to Argo CD cluster
// Secrets (applies and deletes).
func (m metrics) writes() float64 { return m["registrar_writes_total"] }

// writesBy lists the writes by the registrar's operation label, those
// that happened only.
func (m metrics) writesBy() string {
	var parts []string
	for _, op := range reconcile.WriteOperations {
		if v := m["registrar_writes_total{operation="+op+"}"]; v > 0 {
			parts = append(parts, fmt.Sprintf("%s %.0f", op, v))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// reconciles counts finished reconciles of the vcluster controller.
func (m metrics) reconciles() float64 {
	return m["controller_runtime_reconcile_total{controller=vcluster}"]
}

// queueDepth is the vcluster controller's work queue depth.
func (m metrics) queueDepth() float64 { return m["workqueue_depth{name=vcluster}"] }

// mean is the mean of a histogram (name without _sum/_count, optionally
// with one {label=value}), in milliseconds; 0 when it has no samples.
func (m metrics) meanMS(name, label string) float64 {
	sum, count := m[name+"_sum"+label], m[name+"_count"+label]
	if count == 0 {
		return 0
	}
	return 1000 * sum / count
}

// latencies describes where a reconcile's time goes from the process's
// own histograms: reconcile time, and API request latency by verb and the
// client-side rate limiter's wait where the process exports them
// (controller-runtime v0.24 registers neither).
func (m metrics) latencies() string {
	parts := []string{fmt.Sprintf("mean reconcile %.1f ms over %.0f", m.meanMS("controller_runtime_reconcile_time_seconds", "{controller=vcluster}"),
		m["controller_runtime_reconcile_time_seconds_count{controller=vcluster}"])}
	for _, verb := range []string{"GET", "PATCH", "POST", "DELETE"} {
		if c := m["rest_client_request_duration_seconds_count{verb="+verb+"}"]; c > 0 {
			parts = append(parts, fmt.Sprintf("%s %.1f ms (%.0f)", verb, m.meanMS("rest_client_request_duration_seconds", "{verb="+verb+"}"), c))
		}
	}
	if m["rest_client_rate_limiter_duration_seconds_count"] > 0 {
		parts = append(parts, fmt.Sprintf("client-side throttling %.1f ms mean", m.meanMS("rest_client_rate_limiter_duration_seconds", "")))
	}
	return strings.Join(parts, ", ")
}

// memory is what the process holds: its resident set from the kernel and
// its Go heap from its own metrics.
type memory struct {
	RSS, HeapInuse, HeapLive float64
	// Limit is the Go runtime's soft memory limit (go_gc_gomemlimit_bytes;
	// 0 when the process does not report one, as the baseline may not).
	Limit float64
	// HeapFree is heap memory the runtime holds but has not returned to
	// the kernel; HeapGoal is the heap size that starts the next
	// collection. Both are of the last sample: they explain RSS, they are
	// not a figure of their own.
	HeapFree, HeapGoal float64
}

// memory samples RSS and heap a few times and keeps the smallest of each,
// which is the closest an outside observer gets to the live set without
// forcing a collection.
func (p *proc) memory(samples int) (memory, error) {
	var best memory
	for i := 0; i < samples; i++ {
		if i > 0 {
			time.Sleep(500 * time.Millisecond)
		}
		rss, err := vmRSS(p.Pid())
		if err != nil {
			return memory{}, err
		}
		m, err := p.metrics()
		if err != nil {
			return memory{}, err
		}
		cur := memory{
			RSS: rss, HeapInuse: m["go_memstats_heap_inuse_bytes"], HeapLive: m["go_gc_heap_live_bytes"],
			HeapFree: m["go_memstats_heap_idle_bytes"] - m["go_memstats_heap_released_bytes"], HeapGoal: m["go_gc_heap_goal_bytes"],
			Limit: m["go_gc_gomemlimit_bytes"],
		}
		if i == 0 {
			best = cur
			continue
		}
		best.RSS = min(best.RSS, cur.RSS)
		best.HeapInuse = min(best.HeapInuse, cur.HeapInuse)
		best.HeapLive = min(best.HeapLive, cur.HeapLive)
		best.HeapFree, best.HeapGoal, best.Limit = cur.HeapFree, cur.HeapGoal, cur.Limit
	}
	return best, nil
}

// vmRSS reads VmRSS of pid from /proc, in bytes.
func vmRSS(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// settle waits until the process has reconciled at least minReconciles
// times and its work queue has stayed empty for quiet, or fails at the
// deadline.
func (p *proc) settle(ctx context.Context, minReconciles float64, quiet, timeout time.Duration) (metrics, error) {
	deadline := time.Now().Add(timeout)
	var emptySince time.Time
	for {
		if err := p.Alive(); err != nil {
			return nil, err
		}
		m, err := p.metrics()
		if err == nil && m.reconciles() >= minReconciles && m.queueDepth() == 0 {
			if emptySince.IsZero() {
				emptySince = time.Now()
			}
			if time.Since(emptySince) >= quiet {
				return m, nil
			}
		} else {
			emptySince = time.Time{}
		}
		if time.Now().After(deadline) {
			if err != nil {
				return nil, fmt.Errorf("%s did not settle within %s: %w", p.Name, timeout, err)
			}
			return nil, fmt.Errorf("%s did not settle within %s (reconciles %v, queue %v)",
				p.Name, timeout, m.reconciles(), m.queueDepth())
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
