package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/reconcile"
	"github.com/registrar-dev/registrar/pkg/registration"
)

// registrationFlags decide what each vcluster's registration holds and
// where it is written: controller, plan and sync take them, so that a plan
// shows what the controller with the same flags would do.
type registrationFlags struct {
	argocdNamespaces  []string
	namespaceSelector string
	watchNamespaces   string
	nameTemplate      string
	propagateLabels   string
	propagateNSLabels string
	propagateAnns     string
	identity          string

	// writes is whether the command writes, and so takes tokenTTL and
	// expiryWarning: plan issues no token and records no Event, and
	// would ignore them.
	writes        bool
	tokenTTL      time.Duration
	expiryWarning time.Duration
}

func (f *registrationFlags) add(fs *pflag.FlagSet) {
	fs.StringSliceVar(&f.argocdNamespaces, "argocd-namespace", []string{"argocd"}, "Namespace of an Argo CD instance, where cluster Secrets are written; repeat it or separate several with commas for several instances, which a vcluster chooses among with annotation registrar.dev/argocd-namespace. The first is where a vcluster that chooses none is registered.")
	fs.StringVar(&f.namespaceSelector, "namespace-selector", "", "Label selector of the namespaces whose vclusters are trusted (default: all).")
	fs.StringVar(&f.watchNamespaces, "watch-namespaces", "", "Comma-separated namespaces to watch for vclusters (default: all); lets RBAC grant Secret access in these namespaces only.")
	fs.StringVar(&f.nameTemplate, "cluster-name-template", registration.DefaultClusterNameTemplate, "Go template of the Argo CD cluster name, over .Namespace and .Name of the vcluster.")
	fs.StringVar(&f.propagateLabels, "propagate-labels", "", "Comma-separated label keys copied from a vcluster's workload onto its Argo CD cluster Secret.")
	fs.StringVar(&f.propagateNSLabels, "propagate-namespace-labels", "", "Comma-separated label keys copied from a vcluster's Namespace onto its Argo CD cluster Secret (a workload label of the same key wins).")
	fs.StringVar(&f.propagateAnns, "propagate-annotations", "", "Comma-separated annotation keys copied from a vcluster's workload onto its Argo CD cluster Secret.")
	fs.StringVar(&f.identity, "identity", api.IdentityAdmin, "Identity Argo CD gets in a vcluster that sets no annotation registrar.dev/identity: \"admin\" (the kubeconfig Secret's credentials) or \"serviceaccount\" (a token of ServiceAccount kube-system/argocd-manager the registrar keeps inside the vcluster).")
}

// addWrites adds the flags of what only a writing command does: issue
// tokens, record Events.
func (f *registrationFlags) addWrites(fs *pflag.FlagSet) {
	f.writes = true
	fs.DurationVar(&f.tokenTTL, "token-ttl", reconcile.DefaultTokenTTL, "Lifetime of the ServiceAccount tokens of the serviceaccount identity (at least 10m); each is renewed after two thirds of it.")
	fs.DurationVar(&f.expiryWarning, "expiry-warning", reconcile.DefaultExpiryWarning, "How long before a registration's credentials expire a CredentialsExpiring event warns.")
}

// options checks the flags and returns the reconciler's options they
// make, or one error per wrong flag.
func (f *registrationFlags) options() (reconcile.Options, []error) {
	var (
		opts reconcile.Options
		errs []error
		err  error
	)
	opts.ArgoCDNamespaces, err = argocdNamespaceList(f.argocdNamespaces)
	if err != nil {
		errs = append(errs, err)
	}
	if f.identity != api.IdentityAdmin && f.identity != api.IdentityServiceAccount {
		errs = append(errs, fmt.Errorf("--identity=%s: use %q or %q", f.identity, api.IdentityAdmin, api.IdentityServiceAccount))
	}
	opts.Identity = f.identity
	if f.writes {
		if f.tokenTTL < reconcile.MinTokenTTL {
			errs = append(errs, fmt.Errorf("--token-ttl=%s: the TokenRequest API issues no token shorter than %s; use %s or more, e.g. 24h", f.tokenTTL, reconcile.MinTokenTTL, reconcile.MinTokenTTL))
		}
		if err := positive("expiry-warning", f.expiryWarning, "168h"); err != nil {
			errs = append(errs, err)
		}
		opts.TokenTTL, opts.ExpiryWarning = f.tokenTTL, f.expiryWarning
	}
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

// argocdNamespaceList is Options.ArgoCDNamespaces from --argocd-namespace,
// the default first: each a namespace name, listed once.
func argocdNamespaceList(given []string) ([]string, error) {
	var namespaces []string
	for _, ns := range given {
		if ns = strings.TrimSpace(ns); ns == "" {
			continue
		}
		if err := namespaceName("argocd-namespace", ns); err != nil {
			return nil, err
		}
		if slices.Contains(namespaces, ns) {
			return nil, fmt.Errorf("--argocd-namespace: %q is listed twice; list each Argo CD namespace once, the default first", ns)
		}
		namespaces = append(namespaces, ns)
	}
	if len(namespaces) == 0 {
		return nil, errors.New("--argocd-namespace is empty; name the namespace of Argo CD, e.g. --argocd-namespace=argocd")
	}
	return namespaces, nil
}

// clusterNameTemplate parses --cluster-name-template and renders it for
// two sample vclusters, so that a template that fails, renders nothing or
// names every vcluster alike is refused now rather than per vcluster.
func clusterNameTemplate(text string) (*template.Template, error) {
	const hint = "use a Go template over .Namespace and .Name, e.g. " + registration.DefaultClusterNameTemplate
	tmpl, err := template.New("cluster-name").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("--cluster-name-template=%s: %w; %s", text, err, hint)
	}
	var names []string
	for _, vc := range []registration.NameData{{Namespace: "team-a", Name: "sandbox"}, {Namespace: "team-b", Name: "ci"}} {
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
