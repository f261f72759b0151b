// Command reliability runs the security and fault tests and prints one
// table of what was tried and whether it held. Usage (make reliability):
//
//	go test -json -run 'PATTERN' ./pkg/reconcile ./test/integration | go run ./test/reliability
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// scenarios maps each test to what it tries, in the order printed.
var scenarios = []struct{ test, tried string }{
	{"TestUntrustedNamespaceIsNeverRegisteredAndSaysSo", "fake vcluster in an untrusted namespace: never registered, Warning event"},
	{"TestClusterNameCollisionIsRefused", "second vcluster claims a registered cluster name: refused, first untouched"},
	{"TestServerOfAForeignRegistrationIsNotTaken", "vcluster whose server a foreign Secret already declares: refused"},
	{"TestLeavesForeignSecretUntouched", "Secret of the same name not carrying our label: untouched, never deleted"},
	{"TestBuildRejectsBadInput", "exec plugin, auth provider, token file, file paths, insecure, bad PEM, in-cluster name/server: refused"},
	{"TestNoSecretMaterialInLogsEventsOrMetrics", "full run at maximum log verbosity: no key, certificate or token in logs, events, metrics"},
	{"FuzzBuild", "fuzzed kubeconfig Secrets and annotations (seed corpus): no panic, no leak, Argo CD parses results"},
	{"TestKillMidBurstThenRestart", "SIGKILL mid-burst of 200 registrations, restart: each registered once, no orphan"},
	{"TestRecoversFromAPIServerOutage", "API server stopped 30 s right after changes: same process converges"},
	{"TestLeaderElectionFailover", "two replicas: only the leader writes; leader killed, the other takes over"},
	{"TestRecreatesRegistrationDeletedByHand", "Argo CD Secret deleted by hand: recreated"},
	{"TestHandEditsOfOurFieldsAreRestoredOthersKept", "Argo CD Secret edited by hand: our fields restored, others' fields kept"},
	{"TestPrunesAndRecreatesAfterDowntime", "vcluster deleted while the registrar was down: pruned at start-up"},
	{"TestBadInputWarnsAndKeepsRegistration", "kubeconfig corrupted after registration: Warning, registration kept"},
}

type testEvent struct {
	Action  string
	Test    string
	Elapsed float64
}

func main() {
	results := map[string]testEvent{}
	in := bufio.NewScanner(os.Stdin)
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
	held, failed := 0, 0
	fmt.Printf("%-4s  %-8s  %s\n", "held", "time", "what was tried")
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
		d := time.Duration(ev.Elapsed * float64(time.Second)).Round(100 * time.Millisecond)
		fmt.Printf("%-4s  %-8s  %s (%s)\n", mark, d, s.tried, s.test)
	}
	fmt.Printf("%d passed, %d failed\n", held, failed)
	if failed > 0 {
		os.Exit(1)
	}
}
