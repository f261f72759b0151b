package registration

import (
	"fmt"

	"github.com/registrar-dev/registrar/pkg/api"
)

// namespaceDefaults are the annotations a vcluster's Namespace may set for
// every vcluster in it: settings a team makes once, on the namespace it
// owns. The workload's own annotation wins over its Namespace's. Keys that
// name one vcluster (cluster-name, kubeconfig-secret, tls-server-name) are
// not listed. A key opts in by being listed here; Sources.setting reads
// every key, listed or not.
var namespaceDefaults = map[string]bool{
	api.ProjectAnnotation:             true,
	api.NamespacesAnnotation:          true,
	api.ClusterResourcesAnnotation:    true,
	api.ShardAnnotation:               true,
	api.ArgoCDNamespaceAnnotation:     true,
	api.IdentityAnnotation:            true,
	api.IdentityClusterRoleAnnotation: true,
}

// setting is the value of a user annotation for one vcluster, and the
// object it was read from.
type setting struct {
	key, value string
	// on names that object for messages: "StatefulSet ns/name" or
	// "Namespace ns".
	on string
}

// setting returns the value of annotation key for the vcluster: the
// workload's own, else, for a key of namespaceDefaults, its Namespace's.
// ok is false when neither sets it.
func (src Sources) setting(key string) (s setting, ok bool) {
	w := src.Workload
	if v, ok := w.GetAnnotations()[key]; ok {
		return setting{key: key, value: v, on: fmt.Sprintf("%s %s/%s", src.Kind, w.GetNamespace(), w.GetName())}, true
	}
	if namespaceDefaults[key] && src.Namespace != nil {
		if v, ok := src.Namespace.Annotations[key]; ok {
			return setting{key: key, value: v, on: "Namespace " + src.Namespace.Name}, true
		}
	}
	return setting{}, false
}

// invalid is the input error of a setting whose value is not want.
func (s setting) invalid(want string) error {
	return api.InputErrorf(api.ReasonBadAnnotation, "annotation %s on %s must be %s; fix or remove it", s.key, s.on, want)
}
