// Command bench measures the registrar at scale against a real
// kube-apiserver and etcd (envtest, the binaries of the integration tests)
// and prints one table. It reports figures; it asserts no timings. It exits
// non-zero only when a scenario cannot complete (a timeout, a process that
// died, an API error), never for a missed goal.
//
// Run it with
//
//	make bench                        # full sizes (about 30 minutes on 2 cores)
//	make bench BENCH_FLAGS=-quick     # small sizes, a smoke run of under two minutes
//	bin/bench -registrar bin/registrar -assets bin/k8s -h   # every flag
//	make bench BENCH_FLAGS='-scenarios 6 -unrelated 50000'  # rerun one scenario
//
// What runs: one envtest API server (service range widened to 10.0.0.0/12)
// shared by every scenario, the registrar binary under test, with the
// environment the chart gives its container (the downward API's memory
// limit, so its Go runtime has the chart's GOMEMLIMIT, printed beside every
// memory figure) (started,
// restarted and stopped per scenario with a kubeconfig, loopback metrics and
// probe addresses, --kube-api-qps/--kube-api-burst from -qps/-burst and
// --max-concurrent-reconciles from -concurrency), and, in scenario 6, a
// naive baseline: this program re-executed as a child ("naive-baseline"
// mode, baseline.go) running the same Reconciler with a cluster-wide cache
// of full Secrets and no write skipping. Registrations are timed by a watch
// of the Argo CD namespace in this process: the time the API server's event
// for a registration arrived, not a poll.
//
// Scenarios:
//
//  1. plain client: N Argo CD-sized cluster Secrets (built by
//     registration.Build) created with 1 and with -workers concurrent writers,
//     the yardstick of every ratio; and with -workers writers each Secret
//     followed by its Event, the floor of a registration and its event.
//  2. cold start: N ready vclusters exist; time from the registrar's process
//     start until the last registration's watch event. Also at each
//     -extra-concurrency, and for the baseline (measured in scenario 6).
//  3. burst: N vclusters created at once while the registrar runs; the
//     creation time, and the lag from the last vcluster becoming ready to the
//     last registration (plus per-vcluster ready-to-registered p50/p99).
//  4. rotation: a new client certificate, then a new CA, in the kubeconfig
//     Secret of one vcluster among N; time until the registration carries it.
//  5. steady state: registrar writes (its registrar_writes_total) while
//     nothing changes for -steady, on a restart, and over one forced resync
//     (a restart with --resync-period=-resync-probe).
//  6. memory: RSS (/proc/<pid>/status VmRSS) and Go heap (its metrics:
//     go_memstats_heap_inuse_bytes, go_gc_heap_live_bytes; to explain RSS,
//     the free heap not yet returned, heap_idle - heap_released, and the
//     collector's goal, go_gc_heap_goal_bytes) with N registered, then with
//     -unrelated Secrets of -unrelated-size bytes in other namespaces, once
//     every registration has its first probe result, for the whole fleet
//     and for two more registrars (--namespace-selector) on its labelled
//     and its unlabelled half; the rotation latency of vclusters whose
//     kubeconfig Secret has no labels (bounded by -unlabelled-wait); and a
//     restart at the largest count (writes by operation, and memory afresh).
//  7. deletion: N vclusters deleted; time until every registration is gone.
//  9. connection probe (after 5, on its fleet; needs root): the registrar
//     restarted in a private mount namespace whose /etc/hosts maps every
//     service DNS name to one TLS front in this process that answers as
//     each vcluster would (pkg/connection/probe.go); the first round at the chart's
//     --connection-check-interval, writes and probes in a quiet window, and, labelled
//     as tuned, a short interval that shows CPU per probe and per round.
//
// Columns: "registrar" is the registrar binary's figure; "naive baseline"
// the same figure for the baseline where measured; "yardstick" the plain
// client's time for the same N with -workers writers (or, in scenario 3, the
// creation time of the burst itself); "ratio" registrar / yardstick; "goal"
// the goal; "verdict" met or MISSED. Memory rows give absolute
// values at the first count and growth from there at the others.
//
// Under the table, "Where the time went" profiles each timed phase from
// outside: the CPU seconds each process used (/proc/<pid>/stat of the
// registrar or baseline, kube-apiserver, etcd and this program) and the
// API requests made, by verb and resource (the API server's
// apiserver_request_total), plus the mean reconcile time from the process's
// own metrics. With -profile DIR, scenario 2 also runs the registrar's
// reconciler, wired as cmd/registrar wires it, in a child process that
// writes a CPU profile of its cold start (the binary exposes no pprof).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// progress receives a line per step and per result while the run goes; the
// table goes to stdout at the end.
var progress io.Writer = os.Stderr

type options struct {
	registrar, assets string
	quick             bool

	plainN, coldN    []int
	burstN           int
	workers          int
	rotations        int
	steady           time.Duration
	resyncProbe      time.Duration
	unrelated        []int
	unrelatedSize    int
	unlabelled       int
	unlabelledWait   time.Duration
	concurrency      int
	extraConcurrency []int
	helm, chart      string
	set              []string
	flags            chartFlags
	fleets           []string
	curveN           []int
	settle           time.Duration
	probeTuned       time.Duration
	timeout          time.Duration
	baseline         bool
	scenarios        map[int]bool
	profile          string
	logs             string
}

// want says whether any of the scenarios ns was asked for.
func (o options) want(ns ...int) bool {
	for _, n := range ns {
		if o.scenarios[n] {
			return true
		}
	}
	return false
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == baselineMode {
		os.Exit(runBaseline(os.Args[2:]))
	}
	o := options{}
	flag.StringVar(&o.registrar, "registrar", "bin/registrar", "Registrar binary under test (make build).")
	flag.StringVar(&o.assets, "assets", os.Getenv("KUBEBUILDER_ASSETS"), "Directory holding kube-apiserver and etcd (make testbins).")
	flag.BoolVar(&o.quick, "quick", false, "Small sizes for a smoke run; overrides the size flags.")
	plainN := flag.String("plain-n", "100,1000,5000", "Scenario 1: Secret counts for the plain client.")
	coldN := flag.String("cold-n", "1000", "Scenario 2: vcluster counts for cold start; the largest is also used by scenarios 4, 5 and 7.")
	flag.IntVar(&o.burstN, "burst-n", 1000, "Scenario 3: vclusters created at once (also scenario 6's fleet).")
	flag.IntVar(&o.workers, "workers", 32, "Concurrent writers of the load generator and of the plain-client yardstick.")
	flag.IntVar(&o.rotations, "rotations", 5, "Scenario 4: rotations of each kind (client certificate, CA).")
	flag.DurationVar(&o.steady, "steady", 60*time.Second, "Scenario 5: idle time during which writes are counted.")
	flag.DurationVar(&o.resyncProbe, "resync-probe", 10*time.Second, "Scenario 5: --resync-period of the restart that forces one resync.")
	unrelated := flag.String("unrelated", "20000,50000", "Scenario 6: cumulative counts of unrelated Secrets.")
	flag.IntVar(&o.unrelatedSize, "unrelated-size", 4096, "Scenario 6: bytes of data in each unrelated Secret.")
	flag.IntVar(&o.unlabelled, "unlabelled", 500, "Scenarios 3 and 6: vclusters of the burst fleet whose kubeconfig Secret has no labels (default: half, a mixed fleet).")
	flag.DurationVar(&o.unlabelledWait, "unlabelled-wait", 15*time.Second, "Scenario 6: how long to wait for rotations of unlabelled kubeconfig Secrets.")
	flag.IntVar(&o.concurrency, "concurrency", 0, "--max-concurrent-reconciles of the registrar and the baseline (0: what the chart renders).")
	extra := flag.String("extra-concurrency", "4,32", "Scenario 2: further --max-concurrent-reconciles values to time cold start with (empty for none).")
	flag.StringVar(&o.helm, "helm", envOr("HELM", "bin/helm"), "helm binary that renders the chart (make helm).")
	flag.StringVar(&o.chart, "chart", "charts/registrar", "Chart whose default flags the registrar runs with (helm template).")
	flag.Func("set", "A value set when rendering the chart, as helm's --set (repeatable), e.g. -set kubeAPI.qps=500.", func(v string) error {
		o.set = append(o.set, v)
		return nil
	})
	fleets := flag.String("fleets", "labelled,unlabelled,mixed", "Scenario 8: fleets (labelled, unlabelled, mixed: half unlabelled).")
	curveN := flag.String("curve-n", "100,1000,5000", "Scenario 8: vcluster counts of the cost curve.")
	flag.DurationVar(&o.settle, "settle", 10*time.Second, "Scenario 6: wait after adding unrelated Secrets before sampling memory.")
	flag.DurationVar(&o.probeTuned, "probe-tuned", 20*time.Second, "Scenario 9: the short --connection-check-interval (tuned, not a default) at which a round of probes fits in the run.")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Minute, "Longest wait for any step that must complete.")
	flag.BoolVar(&o.baseline, "baseline", true, "Run the naive baseline in scenario 6.")
	scenarios := flag.String("scenarios", "1,8,2,3,4,5,9,6,7", "Scenarios to run (8 is the cost curve, run after 1); 4, 5, 7 and 9 also run 2 (their fleet), 6 also runs 3 (its fleet), 3 and 6 also run 7 if 2 ran.")
	flag.StringVar(&o.profile, "profile", "", "Directory for a CPU profile of a cold start of the registrar's reconciler (an in-process twin of the binary, which exposes no pprof); empty for none.")
	flag.StringVar(&o.logs, "logs", "", "Directory to keep the logs of the registrars and the baseline in (default: removed with the API server's directory at the end).")
	flag.Parse()

	var err error
	parse := func(s string, dst *[]int) {
		if err != nil {
			return
		}
		*dst, err = ints(s)
	}
	parse(*plainN, &o.plainN)
	parse(*coldN, &o.coldN)
	parse(*unrelated, &o.unrelated)
	parse(*extra, &o.extraConcurrency)
	parse(*curveN, &o.curveN)
	for _, k := range strings.Split(*fleets, ",") {
		if k = strings.TrimSpace(k); k == "" {
			continue
		}
		if fleetKinds[k] == nil {
			err = fmt.Errorf("-fleets: unknown fleet %q (labelled, unlabelled, mixed)", k)
		}
		o.fleets = append(o.fleets, k)
	}
	var selected []int
	parse(*scenarios, &selected)
	o.scenarios = map[int]bool{}
	for _, n := range selected {
		o.scenarios[n] = true
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if o.quick {
		o.plainN, o.coldN, o.burstN = []int{20, 50}, []int{20, 50}, 50
		o.rotations, o.steady, o.resyncProbe = 2, 5*time.Second, 5*time.Second
		o.unrelated, o.unlabelled, o.unlabelledWait, o.settle = []int{500, 1000}, 25, 5*time.Second, 2*time.Second
		o.probeTuned = 5 * time.Second
		o.curveN, o.extraConcurrency = []int{20}, nil
	}
	if o.flags, err = renderChartFlags(o.helm, o.chart, o.set); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if o.concurrency == 0 {
		if o.concurrency, err = strconv.Atoi(o.flags.value("--max-concurrent-reconciles")); err != nil {
			fmt.Fprintln(os.Stderr, "bench: the chart renders no --max-concurrent-reconciles; pass -concurrency")
			os.Exit(2)
		}
	}
	if o.logs != "" {
		if err := os.MkdirAll(o.logs, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "bench: -logs:", err)
			os.Exit(2)
		}
	}
	if len(o.coldN) == 0 || len(o.unrelated) == 0 {
		fmt.Fprintln(os.Stderr, "bench: -cold-n and -unrelated need at least one value")
		os.Exit(2)
	}
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
	os.Exit(run(o, os.Stdout))
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive count", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
