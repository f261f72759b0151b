package reconcile

import (
	"net/http"
	"net/url"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/vcluster"
)

// connection is how a vcluster is reached from inside the host cluster
// with the credentials of its kubeconfig Secret: the private service URL,
// the TLS server name to verify and the credentials.
type connection struct {
	Server     string
	ServerName string
	Creds      vcluster.Credentials
}

// connectionOf computes the connection of a vcluster from its Service and
// kubeconfig Secret. It is pure; an *api.InputError says what is wrong.
func connectionOf(src Sources) (connection, error) {
	w := src.Workload
	ns, name := w.GetNamespace(), w.GetName()
	if src.Service == nil {
		return connection{}, api.InputErrorf(api.ReasonServiceMissing,
			"Service %s/%s does not exist; the registration points at the vcluster's Service, so create it (vcluster's chart does)", ns, name)
	}
	server, err := serverURL(src.Service)
	if err != nil {
		return connection{}, err
	}
	if src.KubeconfigSecret == nil {
		return connection{}, api.InputErrorf(api.ReasonKubeconfigSecretMissing,
			"kubeconfig Secret %s/%s does not exist; if the vcluster exports it under another name, set annotation %s on the %s",
			ns, vcluster.KubeconfigSecretName(w), api.KubeconfigSecretAnnotation, src.Kind)
	}
	creds, err := vcluster.ReadCredentials(src.KubeconfigSecret)
	if err != nil {
		return connection{}, err
	}
	serverName := src.Service.Name + "." + src.Service.Namespace
	if s, ok := src.setting(api.TLSServerNameAnnotation); ok {
		if errs := validation.IsDNS1123Subdomain(s.value); len(errs) > 0 {
			return connection{}, s.invalid("a DNS name")
		}
		serverName = s.value
	}
	return connection{Server: server, ServerName: serverName, Creds: creds}, nil
}

// restConfig is a client configuration for the vcluster that makes the
// choices probeRegistration makes: the service URL resolved by dial (the
// system resolver when nil), the TLS server name verified against the CA,
// no proxy, and each request bounded by timeout.
func (c connection) restConfig(dial DialFunc, timeout time.Duration) *rest.Config {
	cfg := &rest.Config{
		Host: c.Server,
		TLSClientConfig: rest.TLSClientConfig{
			ServerName: c.ServerName,
			CAData:     c.Creds.CAData,
			CertData:   c.Creds.CertData,
			KeyData:    c.Creds.KeyData,
		},
		Timeout:   timeout,
		UserAgent: "registrar",
		// A proxy from the environment would see the admin credentials'
		// traffic; the vcluster is reached directly, as the probe does.
		Proxy: func(*http.Request) (*url.URL, error) { return nil, nil },
		QPS:   20,
		Burst: 40,
	}
	if len(c.Creds.CertData) == 0 {
		cfg.BearerToken = c.Creds.Token
	}
	if dial != nil {
		cfg.Dial = dial
	}
	return cfg
}
