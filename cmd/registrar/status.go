package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/registrar-dev/registrar/pkg/status"
)

// statusFlags are the flags of `registrar status`.
type statusFlags struct {
	host             hostFlags
	argocdNamespaces []string
	output           string
}

func newStatusCommand() *cobra.Command {
	f := &statusFlags{}
	cmd := &cobra.Command{
		Use:     "status",
		GroupID: groupRegistrations,
		Short:   "Show every registration, whether it connects and until when its credentials last",
		Long: "Print a line per registration, read from the Argo CD cluster Secrets the registrar wrote:\n" +
			"its vcluster, Secret, server, project and identity, the state of its last connection check\n" +
			"and since when, and when its credentials expire. It writes nothing and connects to no\n" +
			"vcluster: it shows what the controller last recorded. Read access to Secrets in the Argo CD\n" +
			"namespaces suffices.\n\n" +
			"Exit status: 0 every registration healthy, 1 a registration whose connection Failed or\n" +
			"whose credentials have expired (Pending, Paused and not yet checked count as healthy),\n" +
			"2 a usage or configuration error.",
		Example: "  registrar status --context my-host-cluster\n" +
			"  registrar status -o wide                      # with each connection message\n" +
			"  registrar status -o json | jq '.items[] | select(.unhealthy)'",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runStatus(cmd, f) },
	}
	fs := cmd.Flags()
	f.host.add(cmd)
	fs.StringSliceVar(&f.argocdNamespaces, "argocd-namespace", []string{"argocd"}, "Namespace of an Argo CD instance whose registrations to show; repeat it or separate several with commas.")
	fs.StringVarP(&f.output, "output", "o", "", "\"wide\" adds the Argo CD cluster name and the connection message; \"yaml\" or \"json\" print every field.")
	completeFlag(cmd, "output", cobra.FixedCompletions(status.Formats, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runStatus(cmd *cobra.Command, f *statusFlags) error {
	errs := f.host.validate()
	namespaces, err := argocdNamespaceList(f.argocdNamespaces)
	if err != nil {
		errs = append(errs, err)
	}
	if f.output != status.OutputTable && !slices.Contains(status.Formats, f.output) {
		errs = append(errs, fmt.Errorf("--output=%s: use %s, or leave it out for a table", f.output, strings.Join(status.Formats, ", ")))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	cfg, err := f.host.restConfig()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	reads := make([]read, 0, len(namespaces))
	for _, ns := range namespaces {
		reads = append(reads, read{resource: corev1.SchemeGroupVersion.WithResource("secrets"), namespace: ns})
	}
	if err := checkReads(ctx, cfg, reads, "get and list on Secrets in the Argo CD namespaces"); err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return fmt.Errorf("building scheme: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	now := time.Now()
	regs, err := status.Read(ctx, c, namespaces, now)
	if err != nil {
		return err
	}
	if err := status.Write(cmd.OutOrStdout(), regs, f.output, now); err != nil {
		return err
	}
	fmt.Fprint(cmd.ErrOrStderr(), status.Summary(regs))
	if code := status.ExitCode(regs); code != exitOK {
		return exitStatus(code)
	}
	return nil
}
