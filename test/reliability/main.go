// Command reliability runs the security and fault tests and prints one
// table of what was tried and whether it held. Its scenarios table is the one
// list of those tests: make reliability asks it for the packages and the
// -run pattern, and a test keeps the table of docs/reliability.md equal to it.
//
//	go test -json -run "$(go run ./test/reliability -pattern)" $(go run ./test/reliability -packages) |
//	  go run ./test/reliability [-markdown]
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
)

// scenario is one test and what it tries, in the words of docs/reliability.md.
type scenario struct {
	pkg   string // package of the test, relative to the module root
	test  string // top-level test or fuzz function
	tried string
	// node is the test of the real-node suite (test/e2e, `make e2e-node`)
	// that tries the same with the registrar as a pod of its chart, if one
	// does; that suite needs a node, so this table names it and does not
	// run it.
	node string
}

// scenarios lists each test in the order printed.
var scenarios = []scenario{
	{"./test/integration", "TestUntrustedNamespaceIsNeverRegisteredAndSaysSo", "fake vcluster in an untrusted namespace: never registered, Warning event", ""},
	{"./test/integration", "TestClusterNameCollisionIsRefused", "second vcluster claims a registered cluster name: refused, first untouched", ""},
	{"./test/integration", "TestServerOfAForeignRegistrationIsNotTaken", "vcluster whose server a foreign Secret already declares: refused", ""},
	{"./test/integration", "TestLeavesForeignSecretUntouched", "Secret of the same name not carrying our label: untouched, never deleted", ""},
	{"./test/integration", "TestArgoCDNamespaceOutsideListRefused", "vcluster or Namespace names an Argo CD namespace outside `--argocd-namespace`: refused, nothing written anywhere, registration kept", ""},
	{"./test/integration", "TestMovesBetweenArgoCDNamespaces", "vcluster moved between two Argo CDs and back: new registration first, never registered nowhere in the API server's history", ""},
	{"./test/integration", "TestTrackingLabelsNeverCopied", "Argo CD's tracking label and annotation on a vcluster, listed for propagation: never copied", ""},
	{"./pkg/vcluster", "TestReadCredentialsRefusesBadInput", "exec plugin, auth provider, token file, file paths, basic auth, impersonation, insecure, bad PEM: refused", ""},
	{"./pkg/registration", "TestBuildRejectsBadInput", "Argo CD's `in-cluster` name or server, bad annotations, no Service: refused", ""},
	{"./test/integration", "TestNoSecretMaterialInLogsEventsOrMetrics", "full run at maximum log verbosity: no key, certificate or token in logs, events, metrics", ""},
	{"./pkg/registration", "FuzzBuild", "fuzzed kubeconfig Secrets and annotations (seed corpus): no panic, no leak, Argo CD parses every result", ""},
	{"./pkg/vcluster", "FuzzParseKubeconfig", "fuzzed kubeconfigs (seed corpus): the parse refuses and reads what client-go's `clientcmd.Load` does", ""},
	{"./test/integration", "TestKillMidBurstThenRestart", "SIGKILL mid-burst of 200 registrations, restart: each registered once, no orphan", "TestRegistrarKilledMidBurst"},
	{"./test/integration", "TestRecoversFromAPIServerOutage", "API server stopped 30 s right after changes: the same process converges, no restart", "TestAPIServerRestarted"},
	{"./test/integration", "TestLeaderElectionFailover", "two replicas: only the leader writes; leader killed, the other takes over", "TestLeaderHandOver"},
	{"./test/integration", "TestRecreatesRegistrationDeletedByHand", "Argo CD Secret deleted by hand: recreated", ""},
	{"./test/integration", "TestHandEditsOfOurFieldsAreRestoredOthersKept", "Argo CD Secret edited by hand: our fields restored, others' fields kept", ""},
	{"./test/integration", "TestPrunesAndRecreatesAfterDowntime", "vcluster deleted while the registrar was down: pruned at start-up", ""},
	{"./test/integration", "TestBadInputWarnsAndKeepsRegistration", "kubeconfig corrupted after registration: Warning event, registration kept", ""},
	{"./test/integration", "TestKeepsRegistrationWhenVClusterLabelRemoved", "vcluster label removed from a registered workload: registration kept, also across a restart; pruned once the workload is deleted", ""},
	{"./test/integration", "TestKeepsRegistrationWhileCacheLags", "workload in the API server but not yet in the cache: requeued, nothing deleted", ""},
	{"./test/integration", "TestKeepsRegistrationWhenDeploymentOfSameNameRemains", "StatefulSet deleted, a Deployment of the same name still a vcluster: registration kept, follows the Deployment", ""},
	{"./test/integration", "TestRetriesWhenLiveReadFails", "API server fails the read that would prove a deletion: nothing deleted, retried, deleted once it answers NotFound", ""},
	{"./test/integration", "TestKeepsRegistrationWhenDeploymentReadFails", "StatefulSet NotFound, Deployment read failing: nothing deleted, the reconcile fails and is retried", ""},
	{"./test/integration", "TestDeletesOnProofOnlyTheSecretItRead", "registration recreated after the cache last saw it: the delete's UID precondition spares the new one", ""},
	{"./test/integration", "TestWritesNothingWhenNothingChanged", "steady state, an unrelated change, repeated reconciles: zero write requests at the API server", ""},
	{"./test/integration", "TestPlanWritesNothingAndSaysWhatAPassWouldDo", "`registrar plan`, as admin and as a read-only user: every Secret, Event and workload annotation unchanged; `-o yaml` shows no credential", ""},
	{"./test/chart", "TestMetricsServeOnlyAuthorizedScrapers", "metrics scraped without a token, with one lacking `get /metrics`: 401, 403; the chart's metrics-reader: 200", "TestMetricsScrapedByPods"},
	{"./test/chart", "TestAdmissionGuardRefusesTenantsTheRegistrarAnnotations", "tenant with edit rights sets, removes or creates with any `registrar.dev/` annotation: refused by the chart's admission guard, naming it", "TestAdmissionGuard"},
}

// pattern is the `go test -run` expression selecting exactly the scenarios.
func pattern() string {
	names := make([]string, len(scenarios))
	for i, s := range scenarios {
		names[i] = regexp.QuoteMeta(s.test)
	}
	return "^(" + strings.Join(names, "|") + ")$"
}

// packages lists the scenarios' packages once each, in first-seen order.
func packages() []string {
	var pkgs []string
	for _, s := range scenarios {
		if !slices.Contains(pkgs, s.pkg) {
			pkgs = append(pkgs, s.pkg)
		}
	}
	return pkgs
}

type testEvent struct {
	Action  string
	Test    string
	Elapsed float64
}

// readResults keeps the last pass, fail or skip of each top-level test in a
// `go test -json` stream.
func readResults(r io.Reader) (map[string]testEvent, error) {
	results := map[string]testEvent{}
	in := bufio.NewScanner(r)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	for in.Scan() {
		var ev testEvent
		if json.Unmarshal(in.Bytes(), &ev) != nil || ev.Test == "" || strings.Contains(ev.Test, "/") {
			continue
		}
		if ev.Action == "pass" || ev.Action == "fail" || ev.Action == "skip" {
			results[ev.Test] = ev
		}
	}
	return results, in.Err()
}

// report writes the table, plain or as docs/reliability.md's Markdown, and returns
// how many scenarios held and how many did not (failed, skipped or absent).
func report(w io.Writer, results map[string]testEvent, markdown bool) (held, failed int) {
	if markdown {
		fmt.Fprintln(w, "| held | what was tried | on a real node |")
		fmt.Fprintln(w, "|---|---|---|")
	} else {
		fmt.Fprintf(w, "%-4s  %-8s  %s\n", "held", "time", "what was tried")
	}
	for _, s := range scenarios {
		ev, ok := results[s.test]
		mark := "no"
		switch {
		case !ok:
			mark = "—" // did not run
			failed++
		case ev.Action == "pass":
			mark = "yes"
			held++
		default:
			failed++
		}
		if markdown {
			fmt.Fprintf(w, "| %s | %s | %s |\n", mark, s.tried, nodeCell(s))
			continue
		}
		d := time.Duration(ev.Elapsed * float64(time.Second)).Round(100 * time.Millisecond)
		fmt.Fprintf(w, "%-4s  %-8s  %s (%s)\n", mark, d, s.tried, s.test)
	}
	return held, failed
}

// nodeCell is the "on a real node" cell of s's row.
func nodeCell(s scenario) string {
	if s.node == "" {
		return ""
	}
	return "`" + s.node + "`"
}

func main() {
	printPattern := flag.Bool("pattern", false, "print the `go test -run` pattern of the scenarios and exit")
	printPackages := flag.Bool("packages", false, "print the scenarios' packages and exit")
	markdown := flag.Bool("markdown", false, "print the table as docs/reliability.md's Markdown table")
	flag.Parse()
	switch {
	case *printPattern:
		fmt.Println(pattern())
		return
	case *printPackages:
		fmt.Println(strings.Join(packages(), " "))
		return
	}

	results, err := readResults(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "reading go test -json:", err)
		os.Exit(1)
	}
	held, failed := report(os.Stdout, results, *markdown)
	fmt.Printf("%d passed, %d failed\n", held, failed)
	if failed > 0 {
		os.Exit(1)
	}
}
