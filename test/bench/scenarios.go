package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"text/template"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/registrar-dev/registrar/pkg/registration"
	"github.com/registrar-dev/registrar/test/fixture"
)

// mainArgoCD is the Argo CD namespace of the registrar that runs from the
// end of scenario 2 to the end.
const mainArgoCD = "argocd"

type bench struct {
	o   options
	cl  *cluster
	ctx context.Context
	t   table
	pki *fixture.PKI
	// plain is the plain client's time for N Secrets with o.workers writers,
	// plainAPICPU the kube-apiserver's CPU milliseconds per Secret then.
	plain       map[int]time.Duration
	plainAPICPU map[int]float64
	// floor is the plain client's time for N Secrets each followed by its
	// Event, with o.workers writers: the two requests of a registration.
	floor map[int]time.Duration
	// reg is the registrar writing into mainArgoCD, tr the watch of it.
	reg *proc
	tr  *tracker
	// base is the naive baseline writing into baselineArgoCD, trBase its watch.
	base   *proc
	trBase *tracker
	// cpPIDs are the process ids of kube-apiserver and etcd.
	cpPIDs map[string]int
	// notes are printed under the table: the profile of each timed phase.
	notes []string
	// front answers the probe of scenario 9's fleet until the run ends.
	front *probeFront
}

const baselineArgoCD = "argocd-naive"

func run(o options, out io.Writer) int {
	began := time.Now()
	loadStart := loadavg()
	fmt.Fprintf(out, "registrar benchmark, %s\n", began.Format(time.RFC3339))
	fmt.Fprintf(out, "machine: %d CPUs, GOMAXPROCS %d, %s; load average at start %s\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), loadStart)
	fmt.Fprintf(out, "registrar: %s with the flags `helm template %s%s` renders:\n  %s\n", o.registrar, o.chart, setString(o.set), o.flags)
	fmt.Fprintf(out, "  overridden per instance: --argocd-namespace (instances side by side), --max-concurrent-reconciles (extra rows of scenario 2), --resync-period (scenario 5's probe), --connection-check-interval (scenario 9's tuned row, labelled); added: --kubeconfig and loopback metrics and probe addresses\n")
	fmt.Fprintf(out, "uptime: %s\n", uptime())
	fmt.Fprintf(out, "host: envtest kube-apiserver + etcd from %s, --service-cluster-ip-range %s; load generator unthrottled, %d writers\n",
		o.assets, serviceRange, o.workers)
	fmt.Fprintf(out, "cost curve (8): fleets %s at N=%s\n", strings.Join(o.fleets, ", "), joinInts(o.curveN))
	fmt.Fprintf(out, "sizes: plain N=%s; cold start N=%s (extra concurrency %s); burst N=%d (%d with unlabelled kubeconfig Secrets); rotations %d each; steady %s; resync probe %s; unrelated Secrets %s of %d B; quick=%v\n\n",
		joinInts(o.plainN), joinInts(o.coldN), joinInts(o.extraConcurrency), o.burstN, o.unlabelled, o.rotations,
		o.steady, o.resyncProbe, joinInts(o.unrelated), o.unrelatedSize, o.quick)

	if _, err := os.Stat(o.registrar); err != nil {
		fmt.Fprintf(os.Stderr, "bench: registrar binary: %v (run `make build`)\n", err)
		return 1
	}
	cl, err := startCluster(o.assets)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	b := &bench{o: o, cl: cl, ctx: context.Background(), plain: map[int]time.Duration{}, plainAPICPU: map[int]float64{}, floor: map[int]time.Duration{}, cpPIDs: controlPlanePIDs()}
	err = b.all()
	b.reg.stop()
	b.base.stop()
	b.front.stop()
	b.tr.stop()
	b.trBase.stop()
	stopping := time.Now()
	cl.stop()
	step("API server and etcd stopped in %s", secs(time.Since(stopping)))

	b.t.print(out)
	if len(b.notes) > 0 {
		fmt.Fprintln(out, "\nWhere the time went (CPU seconds by process from /proc/<pid>/stat; API requests by verb and resource from the API server's apiserver_request_total):")
		for _, n := range b.notes {
			fmt.Fprintln(out, "  "+n)
		}
	}
	fmt.Fprintf(out, "\nload average at start %s, at end %s; whole run %s\nuptime: %s\n", loadStart, loadavg(), time.Since(began).Round(time.Second), uptime())
	if err != nil {
		fmt.Fprintln(out, "\nFAILED:", err)
		fmt.Fprintln(os.Stderr, "bench: a scenario did not complete:", err)
		return 1
	}
	return 0
}

func (b *bench) all() error {
	var err error
	if b.pki, err = fixture.NewPKI(vclusterName, fixture.ServingSANs(vclusterName, "bench")); err != nil {
		return err
	}
	if err := b.cl.createNamespaces(b.ctx, []string{mainArgoCD, baselineArgoCD, releaseNamespace}, 2); err != nil {
		return err
	}
	if b.o.want(1) {
		if err := b.plainClient(); err != nil {
			return fmt.Errorf("scenario 1: %w", err)
		}
	}
	// Before any other registrar runs: it would register the curve's
	// fleets too.
	if b.o.want(8) {
		if err := b.costCurve(); err != nil {
			return fmt.Errorf("scenario 8: %w", err)
		}
	}
	if b.o.want(2, 4, 5, 7, 9) {
		coldFleet, err := b.coldStart()
		if err != nil {
			return fmt.Errorf("scenario 2: %w", err)
		}
		// On the cold-start fleet, in order. Scenarios 3 and 6 start from
		// no vclusters, so they need the deletion too.
		for _, sc := range []struct {
			n    int
			when []int
			run  func(*fleet) error
		}{
			{4, []int{4}, b.rotation},
			{5, []int{5}, b.steadyState},
			{9, []int{9}, b.probeCost},
			{7, []int{7, 3, 6}, b.deletion},
		} {
			if !b.o.want(sc.when...) {
				continue
			}
			if err := sc.run(coldFleet); err != nil {
				return fmt.Errorf("scenario %d: %w", sc.n, err)
			}
		}
	}
	if b.o.want(3, 6) {
		if b.reg == nil {
			var err error
			if b.tr, err = startTracker(b.ctx, b.cl.cs, mainArgoCD); err != nil {
				return err
			}
			if b.reg, err = b.startRegistrar(mainArgoCD, b.o.concurrency, 0); err != nil {
				return err
			}
			if _, err := b.reg.settle(b.ctx, 0, time.Second, b.o.timeout); err != nil {
				return err
			}
		}
		burstFleet, err := b.burst()
		if err != nil {
			return fmt.Errorf("scenario 3: %w", err)
		}
		if b.o.want(6) {
			if err := b.memory(burstFleet); err != nil {
				return fmt.Errorf("scenario 6: %w", err)
			}
		}
	}
	return nil
}

func step(format string, args ...any) {
	fmt.Fprintf(progress, "%s ==> %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// startRegistrar runs the registrar with the chart's flags, writing into
// Argo CD namespace argocd; concurrency and resync override the chart's
// when positive.
func (b *bench) startRegistrar(argocd string, concurrency int, resync time.Duration) (*proc, error) {
	return b.startRegistrarAs([]string{b.o.registrar}, argocd, concurrency, resync, nil)
}

// startRegistrarAs is startRegistrar through command (the binary, perhaps
// behind a wrapper, fixture.WithHosts), with further flag overrides.
func (b *bench) startRegistrarAs(command []string, argocd string, concurrency int, resync time.Duration, more map[string]string) (*proc, error) {
	over := map[string]string{"--argocd-namespace": argocd}
	maps.Copy(over, more)
	if concurrency > 0 {
		over["--max-concurrent-reconciles"] = strconv.Itoa(concurrency)
	}
	if resync > 0 {
		over["--resync-period"] = resync.String()
	}
	return startProc("registrar", b.logDir(), command, b.o.flags.env, b.cl.Kubeconfig, b.o.flags.with(over)...)
}

func (b *bench) startBaseline() (*proc, error) {
	return b.startChild("naive-baseline", baselineArgoCD, b.o.concurrency)
}

// startChild runs this program in baseline mode with extra arguments, and
// the chart's client-side limits.
func (b *bench) startChild(name, argocd string, concurrency int, extra ...string) (*proc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return startProc(name, b.logDir(), []string{self, baselineMode}, nil, b.cl.Kubeconfig, append([]string{
		"--argocd-namespace", argocd,
		"--kube-api-qps", b.o.flags.value("--kube-api-qps"), "--kube-api-burst", b.o.flags.value("--kube-api-burst"),
		"--max-concurrent-reconciles", strconv.Itoa(concurrency)}, extra...)...)
}

// logDir is where the processes under test write their logs: -logs, or
// the API server's directory, removed at the end.
func (b *bench) logDir() string {
	if b.o.logs != "" {
		return b.o.logs
	}
	return b.cl.Dir
}

func setString(set []string) string {
	out := ""
	for _, s := range set {
		out += " --set " + s
	}
	return out
}

func uptime() string {
	out, err := exec.Command("uptime").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// clusterSecret is an Argo CD cluster Secret as the registrar builds it, so
// that the plain client writes objects of the same size.
func (b *bench) clusterSecret(namespace string) (*corev1.Secret, error) {
	vc, err := fixture.NewVCluster(vclusterName, "plain", fixture.WithPKI(b.pki))
	if err != nil {
		return nil, err
	}
	ks, err := vc.KubeconfigSecret()
	if err != nil {
		return nil, err
	}
	tmpl := template.Must(template.New("name").Parse(registration.DefaultClusterNameTemplate))
	return registration.Build(registration.Sources{Workload: vc.StatefulSet(), Kind: "StatefulSet", Service: vc.Service(), KubeconfigSecret: ks},
		registration.BuildOptions{ArgoCDNamespace: namespace, ClusterName: tmpl})
}

// note records where the time of a phase went: the wall time, the CPU
// each process used and the API server's requests since req0 and cpu0.
func (b *bench) note(what string, wall time.Duration, req0 requests, cpu0 cpuSample, p *proc) error {
	req, err := b.cl.requests(b.ctx)
	if err != nil {
		return err
	}
	b.notes = append(b.notes, fmt.Sprintf("%s: wall %s; %s; requests: %s", what, secs(wall), b.cpu(p).since(cpu0), req.since(req0)))
	return nil
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
