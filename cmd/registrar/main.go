// Command registrar registers every vcluster of a host cluster in Argo CD.
//
// `registrar controller` is the controller the chart runs; `plan`, `sync`
// and `status` are for people and pipelines, from anywhere a kubeconfig
// reaches the host cluster.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/registrar-dev/registrar/pkg/version"
)

// Exit statuses shared by every subcommand; the table in docs/commands.md is the
// reference. A usage or configuration error is always exitUsage, never
// exitOutcome: a pipeline reading exitOutcome as "changes pending" or "a
// registration is unhealthy" must not be fooled by a typo.
const (
	exitOK      = 0
	exitOutcome = 1
	exitUsage   = 2
)

// exitStatus is returned by a command that ran to its end and reports its
// outcome by exit status alone: what it printed already says why.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func main() {
	os.Exit(execute(ctrl.SetupSignalHandler(), os.Args[1:], os.Stdout, os.Stderr))
}

// execute runs the command line args and returns the exit status. Every
// error but an exitStatus is printed on stderr, a line per problem, and
// exits exitUsage.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	var status exitStatus
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &status):
		return int(status)
	}
	// One line per problem (errors.Join puts each on its own), with no
	// stray line breaks from the errors of libraries.
	for _, line := range strings.Split(err.Error(), "\n") {
		if line = strings.Join(strings.Fields(line), " "); line != "" {
			fmt.Fprintf(stderr, "registrar: %s\n", line)
		}
	}
	return exitUsage
}

// Command groups of the top-level help.
const (
	groupRegistrations = "registrations"
	groupController    = "controller"
)

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "registrar",
		Short: "Register every vcluster of a host cluster in Argo CD",
		Long: "registrar registers every vcluster of a host cluster in Argo CD, as a declarative cluster\n" +
			"Secret whose server is the vcluster's private service URL.\n\n" +
			"In a cluster it runs as `registrar controller` (the Helm chart does that). From a laptop or a\n" +
			"pipeline, `plan` shows what a pass would change, `sync` makes that pass, and `status` reads\n" +
			"what the controller reports about each registration.",
		Example: "  registrar plan --context my-host-cluster --argocd-namespace argocd\n" +
			"  registrar status -o wide\n" +
			"  registrar completion bash > /etc/bash_completion.d/registrar",
		Version: version.Get().String(),
		// Errors are printed once, as one line, by execute; usage is for
		// --help, not for every typo.
		SilenceErrors: true,
		SilenceUsage:  true,
		// Before any subcommand runs: the chart's CronJob and helm test
		// run plan, sync and status in containers with a memory limit too.
		PersistentPreRunE: func(*cobra.Command, []string) error { return setGoMemLimit(os.Getenv) },
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetUsageTemplate(usageTemplate)
	root.AddGroup(
		&cobra.Group{ID: groupRegistrations, Title: "Registrations:"},
		&cobra.Group{ID: groupController, Title: "In a cluster:"},
	)
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(
		newPlanCommand(),
		newSyncCommand(),
		newStatusCommand(),
		newControllerCommand(),
		newVersionCommand(),
	)
	for _, cmd := range root.Commands() {
		sayForms(cmd.Flags())
	}
	return root
}

// flagError says which command's help lists the flags it takes.
func flagError(cmd *cobra.Command, err error) error {
	return fmt.Errorf("%w; see '%s --help'", err, cmd.CommandPath())
}

// noArgs refuses every positional argument, naming it. None of the
// subcommands takes one, and a word that looks like a value of the flag
// before it (`plan --output yaml json`) must not pass unnoticed.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q: %s takes flags only; see '%s --help'", args[0], cmd.CommandPath(), cmd.CommandPath())
	}
	return nil
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), version.Get())
			return err
		},
	}
}
