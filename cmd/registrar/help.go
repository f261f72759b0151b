package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// flagGroups order the flags of a command's help by what they are about;
// a flag named in none is listed last, under "Other flags".
var flagGroups = []struct {
	title string
	names []string
}{
	{"Host cluster", []string{"kubeconfig", "context", "kube-api-qps", "kube-api-burst", "kube-api-compression"}},
	{"Registrations", []string{"argocd-namespace", "namespace-selector", "watch-namespaces", "cluster-name-template",
		"propagate-labels", "propagate-namespace-labels", "propagate-annotations", "identity", "token-ttl", "expiry-warning"}},
	{"Output", []string{"output"}},
	{"Leader election", []string{"leader-elect", "leader-election-namespace", "leader-election-id",
		"leader-election-lease-duration", "leader-election-renew-deadline", "leader-election-retry-period", "force"}},
	{"Connection check", []string{"connection-check-interval", "connection-check-timeout", "connection-check-grace-period", "connection-check-concurrency"}},
	{"Controller", []string{"max-concurrent-reconciles", "resync-period"}},
	{"Endpoints", []string{"metrics-bind-address", "metrics-secure", "metrics-cert-dir", "health-probe-bind-address", "pprof-bind-address"}},
	{"Logging", []string{"zap-log-level", "zap-encoder", "zap-devel", "zap-stacktrace-level", "zap-time-encoding"}},
}

// groupedFlagUsages is the help's list of cmd's flags, a section per
// group of flagGroups that has any.
func groupedFlagUsages(cmd *cobra.Command) string {
	fs := cmd.LocalFlags()
	listed := map[string]bool{}
	var b strings.Builder
	section := func(title string, names []string) {
		group := pflag.NewFlagSet(title, pflag.ContinueOnError)
		group.SortFlags = false
		for _, name := range names {
			if f := fs.Lookup(name); f != nil && !listed[name] {
				group.AddFlag(f)
				listed[name] = true
			}
		}
		if group.HasFlags() {
			fmt.Fprintf(&b, "\n%s:\n%s", title, group.FlagUsages())
		}
	}
	for _, g := range flagGroups {
		section(g.title, g.names)
	}
	var rest []string
	fs.VisitAll(func(f *pflag.Flag) {
		if !listed[f.Name] {
			rest = append(rest, f.Name)
		}
	})
	if b.Len() == 0 {
		section("Flags", rest)
	} else {
		section("Other flags", rest)
	}
	return b.String()
}

// usageTemplate is cobra's, with the flags in groups.
const usageTemplate = `Usage:{{if .Runnable}}
  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}
  {{.CommandPath}} [command]{{end}}{{if gt (len .Aliases) 0}}

Aliases:
  {{.NameAndAliases}}{{end}}{{if .HasExample}}

Examples:
{{.Example}}{{end}}{{if .HasAvailableSubCommands}}{{$cmds := .Commands}}{{if eq (len .Groups) 0}}

Available Commands:{{range $cmds}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{else}}{{range $group := .Groups}}

{{.Title}}{{range $cmds}}{{if (and (eq .GroupID $group.ID) (or .IsAvailableCommand (eq .Name "help")))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{if not .AllChildCommandsHaveGroup}}

Additional Commands:{{range $cmds}}{{if (and (eq .GroupID "") (or .IsAvailableCommand (eq .Name "help")))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}
{{groupedFlagUsages . | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableInheritedFlags}}

Global Flags:
{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableSubCommands}}

Use "{{.CommandPath}} [command] --help" for more information about a command.{{end}}
`

// completeFlag registers how the shell completes flag name of cmd.
func completeFlag(cmd *cobra.Command, name string, complete cobra.CompletionFunc) {
	if err := cmd.RegisterFlagCompletionFunc(name, complete); err != nil {
		panic(fmt.Sprintf("completing --%s of %s: %v", name, cmd.Name(), err))
	}
}

func init() {
	cobra.AddTemplateFunc("groupedFlagUsages", groupedFlagUsages)
}
