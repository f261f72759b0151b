package oneshot

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/registrar-dev/registrar/pkg/reconcile"
)

// Output formats of a report.
const (
	// OutputTable is one line per decision (one per vcluster but for one
	// that moves between Argo CD instances).
	OutputTable = ""
	// OutputYAML and OutputJSON print the Secrets the pass writes (or, in
	// a dry run, would write), as a v1 List, every secret value redacted.
	OutputYAML = "yaml"
	OutputJSON = "json"
)

// Exit statuses. A pass exits ExitOK when every vcluster is in its desired
// state; a dry run, like `kubectl diff`, exits ExitChanges when it would
// write, and ExitFailed when a vcluster is refused or in error.
const (
	ExitOK      = 0
	ExitChanges = 1
	ExitFailed  = 2
)

// Report is what one pass decided.
type Report struct {
	DryRun   bool
	Outcomes []reconcile.Outcome
}

// ExitCode is the exit status of the pass. A pass that writes exits 0
// when every vcluster is in its desired state and 1 when one is refused
// or in error. A dry run exits 0 when there is nothing to do, 1 when it
// would write, 2 when a vcluster is refused or in error.
func (r *Report) ExitCode() int {
	changes, failed := false, false
	for _, o := range r.Outcomes {
		changes = changes || o.Decision.Changes()
		failed = failed || o.Decision.Failed()
	}
	switch {
	case failed && r.DryRun:
		return ExitFailed
	case failed:
		return 1
	case changes && r.DryRun:
		return ExitChanges
	}
	return ExitOK
}

// Write prints the report in format (OutputTable, OutputYAML, OutputJSON).
func (r *Report) Write(w io.Writer, format string) error {
	switch format {
	case OutputTable:
		return r.writeTable(w)
	case OutputYAML, OutputJSON:
		list, err := r.secretList()
		if err != nil {
			return fmt.Errorf("encoding the report: %w", err)
		}
		var b []byte
		if format == OutputJSON {
			b, err = json.MarshalIndent(list, "", "  ")
			b = append(b, '\n')
		} else {
			b, err = yaml.Marshal(list)
		}
		if err != nil {
			return fmt.Errorf("encoding the report: %w", err)
		}
		_, err = w.Write(b)
		return err
	}
	return fmt.Errorf("unknown output format %q: use yaml or json, or leave it out for a table", format)
}

func (r *Report) writeTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VCLUSTER\tDECISION\tSECRET\tSERVER\tWHY")
	for _, o := range r.Outcomes {
		secret, server := "-", "-"
		if o.Secret.Name != "" {
			secret = o.Secret.String()
		}
		if o.Server != "" {
			server = o.Server
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", o.VCluster, o.Decision, secret, server, oneLine(o.Reason))
	}
	return tw.Flush()
}

// Summary is one line of counts by decision, then a line per vcluster
// that is refused or in error, naming it and saying why; "" when there
// was no vcluster at all.
func (r *Report) Summary() string {
	if len(r.Outcomes) == 0 {
		return "no vcluster found\n"
	}
	counts := map[reconcile.Decision]int{}
	var failed []string
	for _, o := range r.Outcomes {
		counts[o.Decision]++
		if o.Decision.Failed() {
			failed = append(failed, fmt.Sprintf("  %s: %s: %s", o.VCluster, o.Decision, oneLine(o.Reason)))
		}
	}
	var parts []string
	for _, d := range []reconcile.Decision{
		reconcile.DecisionRegister, reconcile.DecisionUpdate, reconcile.DecisionUnchanged, reconcile.DecisionDeregister,
		reconcile.DecisionSkip, reconcile.DecisionRefuse, reconcile.DecisionError,
	} {
		if n := counts[d]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, d))
		}
	}
	var b strings.Builder
	what := "pass"
	if r.DryRun {
		what = "dry run (nothing written)"
	}
	fmt.Fprintf(&b, "%s: %s\n", what, strings.Join(parts, ", "))
	if len(failed) > 0 {
		fmt.Fprintf(&b, "%d not in the desired state:\n%s\n", len(failed), strings.Join(failed, "\n"))
	}
	return b.String()
}

// secretList is a v1 List of the Secrets written (or to be written),
// redacted.
func (r *Report) secretList() (*corev1.List, error) {
	list := &corev1.List{}
	list.APIVersion, list.Kind = "v1", "List"
	list.Items = []runtime.RawExtension{}
	for _, o := range r.Outcomes {
		if o.Desired == nil {
			continue
		}
		raw, err := json.Marshal(Redact(o.Desired))
		if err != nil {
			return nil, err
		}
		list.Items = append(list.Items, runtime.RawExtension{Raw: raw})
	}
	return list, nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
