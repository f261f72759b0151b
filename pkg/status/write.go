package status

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/yaml"

	"github.com/registrar-dev/registrar/pkg/api"
)

// Output formats.
const (
	// OutputTable is a line per registration; OutputWide adds the Argo CD
	// cluster name and the connection message.
	OutputTable = ""
	OutputWide  = "wide"
	// OutputYAML and OutputJSON print every field, under "items".
	OutputYAML = "yaml"
	OutputJSON = "json"
)

// Formats are the values of --output, for its help and checks.
var Formats = []string{OutputWide, OutputYAML, OutputJSON}

// Write prints regs in format, ages counted to now.
func Write(w io.Writer, regs []Registration, format string, now time.Time) error {
	switch format {
	case OutputTable, OutputWide:
		return writeTable(w, regs, format == OutputWide, now)
	case OutputYAML, OutputJSON:
		list := struct {
			Items []Registration `json:"items"`
		}{Items: regs}
		if list.Items == nil {
			list.Items = []Registration{}
		}
		var b []byte
		var err error
		if format == OutputJSON {
			b, err = json.MarshalIndent(list, "", "  ")
			b = append(b, '\n')
		} else {
			b, err = yaml.Marshal(list)
		}
		if err != nil {
			return fmt.Errorf("encoding the status: %w", err)
		}
		_, err = w.Write(b)
		return err
	}
	return fmt.Errorf("unknown output format %q: use %s, or leave it out for a table", format, strings.Join(Formats, ", "))
}

// writeTable prints the columns plan prints where they overlap (VCLUSTER,
// SECRET as namespace/name, SERVER), then what the controller recorded.
func writeTable(w io.Writer, regs []Registration, wide bool, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	header := "VCLUSTER\tSECRET\tSERVER\tPROJECT\tIDENTITY\tCONNECTION\tSINCE\tCREDENTIALS NOT AFTER"
	if wide {
		header += "\tCLUSTER\tMESSAGE"
	}
	fmt.Fprintln(tw, header)
	for _, r := range regs {
		since, notAfter := "-", "-"
		if r.ConnectionSince != nil {
			since = duration.HumanDuration(now.Sub(*r.ConnectionSince))
		}
		if r.CredentialsNotAfter != nil {
			notAfter = r.CredentialsNotAfter.UTC().Format(time.RFC3339)
		}
		line := strings.Join([]string{r.VCluster, r.ArgoCDNamespace + "/" + r.Secret, dash(r.Server), dash(r.Project),
			r.Identity, dash(r.Connection), since, notAfter}, "\t")
		if wide {
			line += "\t" + dash(r.Cluster) + "\t" + dash(oneLine(r.ConnectionMessage))
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}

// Summary is one line of counts by connection state, then a line per
// unhealthy registration saying why.
func Summary(regs []Registration) string {
	if len(regs) == 0 {
		return "no registration found\n"
	}
	const notChecked = "not checked"
	counts := map[string]int{}
	var unhealthy []string
	for _, r := range regs {
		state := r.Connection
		if state == "" {
			state = notChecked
		}
		counts[state]++
		if !r.Healthy() {
			unhealthy = append(unhealthy, fmt.Sprintf("  %s (%s/%s): %s", r.VCluster, r.ArgoCDNamespace, r.Secret, r.Unhealthy))
		}
	}
	var parts []string
	for _, s := range []string{api.ConnectionSuccessful, api.ConnectionPending, api.ConnectionPaused, api.ConnectionFailed, notChecked} {
		if n := counts[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d registrations: %s\n", len(regs), strings.Join(parts, ", "))
	if len(unhealthy) > 0 {
		fmt.Fprintf(&b, "%d unhealthy:\n%s\n", len(unhealthy), strings.Join(unhealthy, "\n"))
	}
	return b.String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
