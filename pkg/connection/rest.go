package connection

import (
	"net/http"
	"net/url"
	"time"

	"k8s.io/client-go/rest"

	"github.com/registrar-dev/registrar/pkg/registration"
)

// RestConfig is a client configuration for the vcluster that makes the
// choices Probe makes: the service URL resolved by dial (the
// system resolver when nil), the TLS server name verified against the CA,
// no proxy, and each request bounded by timeout.
func RestConfig(c registration.Connection, dial DialFunc, timeout time.Duration) *rest.Config {
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
