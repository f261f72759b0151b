package registration

import (
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/vcluster"
)

// Connection is how a vcluster is reached from inside the host cluster
// with the credentials of its kubeconfig Secret: the private service URL,
// the TLS server name to verify and the credentials.
type Connection struct {
	Server     string
	ServerName string
	Creds      vcluster.Credentials
}

// ConnectionOf computes the connection of a vcluster from its Service and
// kubeconfig Secret. It is pure; an *api.InputError says what is wrong.
func ConnectionOf(src Sources) (Connection, error) {
	w := src.Workload
	ns, name := w.GetNamespace(), w.GetName()
	if src.Service == nil {
		return Connection{}, api.InputErrorf(api.ReasonServiceMissing,
			"Service %s/%s does not exist; the registration points at the vcluster's Service, so create it (vcluster's chart does)", ns, name)
	}
	server, err := serverURL(src.Service)
	if err != nil {
		return Connection{}, err
	}
	if src.KubeconfigSecret == nil {
		return Connection{}, api.InputErrorf(api.ReasonKubeconfigSecretMissing,
			"kubeconfig Secret %s/%s does not exist; if the vcluster exports it under another name, set annotation %s on the %s",
			ns, vcluster.KubeconfigSecretName(w), api.KubeconfigSecretAnnotation, src.Kind)
	}
	creds, err := vcluster.ReadCredentials(src.KubeconfigSecret)
	if err != nil {
		return Connection{}, err
	}
	serverName := src.Service.Name + "." + src.Service.Namespace
	if s, ok := src.setting(api.TLSServerNameAnnotation); ok {
		if errs := validation.IsDNS1123Subdomain(s.value); len(errs) > 0 {
			return Connection{}, s.invalid("a DNS name")
		}
		serverName = s.value
	}
	return Connection{Server: server, ServerName: serverName, Creds: creds}, nil
}
