package main

import (
	"fmt"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/registrar-dev/registrar/pkg/reconcile"
)

// registrationFlags decide what each vcluster's registration holds and
// where it is written: controller, plan and sync take them, so that a plan
// shows what the controller with the same flags would do.
type registrationFlags struct {
	argocdNamespace   string
	argocdNamespaces  string
	namespaceSelector string
	watchNamespaces   string
	nameTemplate      string
	propagateLabels   string
	propagateNSLabels string
	propagateAnns     string
	identity          string
	tokenTTL          time.Duration
	expiryWarning     time.Duration

	// argocdNamespaceSet is whether --argocd-namespace was given.
	argocdNamespaceSet func() bool
}

func (f *registrationFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&f.argocdNamespace, "argocd-namespace", "argocd", "Namespace of Argo CD, where the cluster Secrets are written; with --argocd-namespaces, the one of them a vcluster is registered in unless it names another.")
	fs.StringVar(&f.argocdNamespaces, "argocd-namespaces", "", "Comma-separated namespaces of the Argo CD instances a vcluster may choose with annotation registrar.dev/argocd-namespace (default: just --argocd-namespace).")
	fs.StringVar(&f.namespaceSelector, "namespace-selector", "", "Label selector of the namespaces whose vclusters are trusted (default: all).")
	fs.StringVar(&f.watchNamespaces, "watch-namespaces", "", "Comma-separated namespaces to watch for vclusters (default: all); lets RBAC grant Secret access in these namespaces only.")
	fs.StringVar(&f.nameTemplate, "cluster-name-template", reconcile.DefaultClusterNameTemplate, "Go template of the Argo CD cluster name, over .Namespace and .Name of the vcluster.")
	fs.StringVar(&f.propagateLabels, "propagate-labels", "", "Comma-separated label keys copied from a vcluster's workload onto its Argo CD cluster Secret.")
	fs.StringVar(&f.propagateNSLabels, "propagate-namespace-labels", "", "Comma-separated label keys copied from a vcluster's Namespace onto its Argo CD cluster Secret (a workload label of the same key wins).")
	fs.StringVar(&f.propagateAnns, "propagate-annotations", "", "Comma-separated annotation keys copied from a vcluster's workload onto its Argo CD cluster Secret.")
	fs.StringVar(&f.identity, "identity", reconcile.IdentityAdmin, "Identity Argo CD gets in a vcluster that sets no annotation registrar.dev/identity: \"admin\" (the kubeconfig Secret's credentials) or \"serviceaccount\" (a token of ServiceAccount kube-system/argocd-manager the registrar keeps inside the vcluster).")
	fs.DurationVar(&f.tokenTTL, "token-ttl", reconcile.DefaultTokenTTL, "Lifetime of the ServiceAccount tokens of the serviceaccount identity (at least 10m); each is renewed after two thirds of it.")
	fs.DurationVar(&f.expiryWarning, "expiry-warning", reconcile.DefaultExpiryWarning, "How long before a registration's credentials expire a CredentialsExpiring event warns.")
	f.argocdNamespaceSet = func() bool { return fs.Changed("argocd-namespace") }
}

// options checks the flags and returns the reconciler's options they
// make, or one error per wrong flag.
func (f *registrationFlags) options() (reconcile.Options, []error) {
	var (
		opts reconcile.Options
		errs []error
		err  error
	)
	if opts.ArgoCDNamespaces, err = argocdNamespaceList(f.argocdNamespace, f.argocdNamespaces, f.argocdNamespaceSet()); err != nil {
		errs = append(errs, err)
	}
	if err := positive("expiry-warning", f.expiryWarning, "168h"); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, identityFlags(f.identity, f.tokenTTL)...)
	opts.Identity, opts.TokenTTL, opts.ExpiryWarning = f.identity, f.tokenTTL, f.expiryWarning
	if opts.ClusterName, err = clusterNameTemplate(f.nameTemplate); err != nil {
		errs = append(errs, err)
	}
	if f.namespaceSelector != "" {
		if opts.NamespaceSelector, err = labels.Parse(f.namespaceSelector); err != nil {
			errs = append(errs, fmt.Errorf("--namespace-selector=%s: %w; use a label selector, e.g. 'team in (a,b)' or 'registrar.dev/trusted=true'", f.namespaceSelector, err))
		}
	}
	opts.WatchNamespaces = splitList(f.watchNamespaces)
	for _, ns := range opts.WatchNamespaces {
		if err := namespaceName("watch-namespaces", ns); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range []struct {
		flag, what string
		value      string
		into       *[]string
	}{
		{"--propagate-labels", "a label key", f.propagateLabels, &opts.PropagateLabels},
		{"--propagate-namespace-labels", "a label key", f.propagateNSLabels, &opts.PropagateNamespaceLabels},
		{"--propagate-annotations", "an annotation key", f.propagateAnns, &opts.PropagateAnnotations},
	} {
		*p.into = splitList(p.value)
		for _, k := range *p.into {
			if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
				errs = append(errs, fmt.Errorf("%s: %q is not %s: %s", p.flag, k, p.what, strings.Join(msgs, "; ")))
			}
		}
	}
	return opts, errs
}

// argocdNamespaceList is Options.ArgoCDNamespaces from the flags: the
// listed namespaces, the default one first. An explicit --argocd-namespace
// must be among them.
func argocdNamespaceList(single, list string, singleSet bool) ([]string, error) {
	namespaces := splitList(list)
	if len(namespaces) == 0 {
		namespaces = []string{single}
	}
	seen := map[string]bool{}
	for _, ns := range namespaces {
		if err := namespaceName("argocd-namespaces", ns); err != nil {
			return nil, err
		}
		if seen[ns] {
			return nil, fmt.Errorf("--argocd-namespaces: %q is listed twice", ns)
		}
		seen[ns] = true
	}
	if !singleSet {
		return namespaces, nil
	}
	i := slices.Index(namespaces, single)
	if i < 0 {
		return nil, fmt.Errorf("--argocd-namespace=%s is not one of --argocd-namespaces=%s: list it there, or name one of those", single, list)
	}
	return append([]string{single}, slices.Delete(slices.Clone(namespaces), i, i+1)...), nil
}

// identityFlags checks --identity and --token-ttl.
func identityFlags(identity string, ttl time.Duration) []error {
	var errs []error
	if identity != reconcile.IdentityAdmin && identity != reconcile.IdentityServiceAccount {
		errs = append(errs, fmt.Errorf("--identity=%s: use %q or %q", identity, reconcile.IdentityAdmin, reconcile.IdentityServiceAccount))
	}
	if ttl < reconcile.MinTokenTTL {
		errs = append(errs, fmt.Errorf("--token-ttl=%s: the TokenRequest API issues no token shorter than %s; use %s or more, e.g. 24h", ttl, reconcile.MinTokenTTL, reconcile.MinTokenTTL))
	}
	return errs
}

// clusterNameTemplate parses --cluster-name-template and renders it for
// two sample vclusters, so that a template that fails, renders nothing or
// names every vcluster alike is refused now rather than per vcluster.
func clusterNameTemplate(text string) (*template.Template, error) {
	const hint = "use a Go template over .Namespace and .Name, e.g. " + reconcile.DefaultClusterNameTemplate
	tmpl, err := template.New("cluster-name").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("--cluster-name-template=%s: %w; %s", text, err, hint)
	}
	var names []string
	for _, vc := range []reconcile.NameData{{Namespace: "team-a", Name: "sandbox"}, {Namespace: "team-b", Name: "ci"}} {
		var b strings.Builder
		if err := tmpl.Execute(&b, vc); err != nil {
			return nil, fmt.Errorf("--cluster-name-template=%s: %w; %s", text, err, hint)
		}
		if strings.TrimSpace(b.String()) == "" {
			return nil, fmt.Errorf("--cluster-name-template=%s renders an empty name for vcluster %s/%s; %s", text, vc.Namespace, vc.Name, hint)
		}
		names = append(names, b.String())
	}
	if names[0] == names[1] {
		return nil, fmt.Errorf("--cluster-name-template=%s names every vcluster %q; %s", text, names[0], hint)
	}
	return tmpl, nil
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
