// Package status reads what the registrar reports about each registration
// from the Argo CD cluster Secrets it wrote (`registrar status`): their
// labels, data and registrar.dev/* annotations. It writes nothing and
// connects to no vcluster: what it shows is what the controller last
// recorded.
package status

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/registration"
)

// Registration is one Argo CD cluster Secret the registrar owns, as a
// person reads it. No credential is ever copied here.
type Registration struct {
	// VCluster is the vcluster's namespace/name.
	VCluster        string `json:"vcluster"`
	ArgoCDNamespace string `json:"argocdNamespace"`
	// Secret is the Argo CD cluster Secret's name.
	Secret string `json:"secret"`
	// Cluster is the Argo CD cluster name.
	Cluster  string `json:"cluster"`
	Server   string `json:"server"`
	Project  string `json:"project,omitempty"`
	Identity string `json:"identity"`
	// Connection is the last connection check's state ("" when none was
	// recorded: the check is off, or has not run yet).
	Connection          string     `json:"connection,omitempty"`
	ConnectionSince     *time.Time `json:"connectionSince,omitempty"`
	ConnectionMessage   string     `json:"connectionMessage,omitempty"`
	CredentialsNotAfter *time.Time `json:"credentialsNotAfter,omitempty"`
	// Unhealthy says why Argo CD cannot use the registration; "" when it
	// can, as far as the registrar knows.
	Unhealthy string `json:"unhealthy,omitempty"`
}

// Healthy is whether Argo CD can use the registration: its connection is
// not Failed and its credentials have not expired. Pending (a vcluster
// starting, within the grace period), Paused (paused on purpose) and no
// state yet count as healthy: none of them is something to fix.
func (r Registration) Healthy() bool { return r.Unhealthy == "" }

// FromSecret reads a registration Secret as of now.
func FromSecret(s *corev1.Secret, now time.Time) Registration {
	a := s.Annotations
	r := Registration{
		VCluster:          s.Labels[api.SourceNamespaceLabel] + "/" + s.Labels[api.SourceNameLabel],
		ArgoCDNamespace:   s.Namespace,
		Secret:            s.Name,
		Cluster:           string(s.Data[registration.ArgoCDNameKey]),
		Server:            string(s.Data[registration.ArgoCDServerKey]),
		Project:           string(s.Data[registration.ArgoCDProjectKey]),
		Identity:          a[api.IdentityAnnotation],
		Connection:        a[api.ConnectionStateAnnotation],
		ConnectionSince:   parseTime(a[api.ConnectionSinceAnnotation]),
		ConnectionMessage: a[api.ConnectionMessageAnnotation],
	}
	if r.Identity == "" {
		r.Identity = api.IdentityAdmin
	}
	r.CredentialsNotAfter = parseTime(a[api.CredentialsNotAfterAnnotation])
	var why []string
	if r.Connection == api.ConnectionFailed {
		why = append(why, "connection Failed: "+oneLine(r.ConnectionMessage))
	}
	if r.CredentialsNotAfter != nil && !now.Before(*r.CredentialsNotAfter) {
		why = append(why, "credentials expired at "+r.CredentialsNotAfter.Format(time.RFC3339))
	}
	r.Unhealthy = strings.Join(why, "; ")
	return r
}

// Read lists the registrations in each of the Argo CD namespaces, by
// vcluster then namespace.
func Read(ctx context.Context, c client.Reader, argocdNamespaces []string, now time.Time) ([]Registration, error) {
	var out []Registration
	for _, ns := range argocdNamespaces {
		var list corev1.SecretList
		if err := c.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{api.ManagedByLabel: api.ManagedByValue}); err != nil {
			return nil, fmt.Errorf("listing the registrations in namespace %s: %w", ns, err)
		}
		for i := range list.Items {
			out = append(out, FromSecret(&list.Items[i], now))
		}
	}
	slices.SortFunc(out, func(a, b Registration) int {
		if c := strings.Compare(a.VCluster, b.VCluster); c != 0 {
			return c
		}
		return strings.Compare(a.ArgoCDNamespace, b.ArgoCDNamespace)
	})
	return out, nil
}

// ExitCode is 0 when every registration is healthy, 1 otherwise.
func ExitCode(regs []Registration) int {
	for _, r := range regs {
		if !r.Healthy() {
			return 1
		}
	}
	return 0
}

func parseTime(v string) *time.Time {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return nil
	}
	return &t
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
