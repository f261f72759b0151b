package vcluster

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"regexp"

	corev1 "k8s.io/api/core/v1"

	"github.com/registrar-dev/registrar/pkg/api"
)

// Data keys of vcluster's kubeconfig Secret (KubeconfigSecretKey,
// CADataSecretKey, CertificateSecretKey, CertificateKeySecretKey and, from
// v0.21, TokenSecretKey in pkg/util/kubeconfig/kubeconfig.go).
const (
	KubeconfigKey           = "config"
	CertificateAuthorityKey = "certificate-authority"
	ClientCertificateKey    = "client-certificate"
	ClientKeyKey            = "client-key"
	TokenKey                = "token"
)

// Credentials are what a registration needs from a kubeconfig Secret: the
// CA that signs the vcluster's serving certificate, and either a client
// certificate and key or a bearer token.
type Credentials struct {
	CAData   []byte
	CertData []byte
	KeyData  []byte
	Token    string
}

// yamlLine finds "line N" in a YAML error, the only part of such an error
// that is safe to repeat: the rest may quote the Secret's content.
var yamlLine = regexp.MustCompile(`line \d+`)

// ReadCredentials takes the credentials from the kubeconfig in key "config",
// falling back to the separate keys vcluster writes beside it. It accepts
// inline data only: a kubeconfig that names files, exec plugins or auth
// providers would make the registrar act on its own filesystem or run
// programs, so it is refused. No error repeats the Secret's content; every
// error is an *api.InputError.
func ReadCredentials(secret *corev1.Secret) (Credentials, error) {
	ref := secret.Namespace + "/" + secret.Name
	var c Credentials
	if raw, ok := secret.Data[KubeconfigKey]; ok {
		cfg, err := parseKubeconfig(raw)
		if err != nil {
			where := ""
			if m := yamlLine.FindString(err.Error()); m != "" {
				where = " (at " + m + ")"
			}
			return c, api.InputErrorf(api.ReasonBadKubeconfig,
				"key %q of Secret %s is not a parsable kubeconfig%s; re-export it from the vcluster",
				KubeconfigKey, ref, where)
		}
		if c, err = credentialsFromKubeconfig(cfg, ref); err != nil {
			return c, err
		}
	}
	if len(c.CAData) == 0 {
		c.CAData = secret.Data[CertificateAuthorityKey]
	}
	if len(c.CertData) == 0 && len(c.KeyData) == 0 {
		c.CertData = secret.Data[ClientCertificateKey]
		c.KeyData = secret.Data[ClientKeyKey]
	}
	if c.Token == "" {
		c.Token = string(secret.Data[TokenKey])
	}
	return c, c.validate(ref)
}

func credentialsFromKubeconfig(cfg *kubeconfig, ref string) (Credentials, error) {
	var c Credentials
	name := cfg.CurrentContext
	if name == "" && len(cfg.Contexts) == 1 {
		for n := range cfg.Contexts {
			name = n
		}
	}
	kctx, ok := cfg.Contexts[name]
	if !ok {
		return c, api.InputErrorf(api.ReasonBadKubeconfig,
			"kubeconfig in Secret %s has no usable current-context (%q); set current-context to the vcluster's context",
			ref, name)
	}
	cluster, ok := cfg.Clusters[kctx.Cluster]
	if !ok {
		return c, api.InputErrorf(api.ReasonBadKubeconfig,
			"kubeconfig in Secret %s: context %q names cluster %q, which is not defined", ref, name, kctx.Cluster)
	}
	user, ok := cfg.AuthInfos[kctx.AuthInfo]
	if !ok {
		return c, api.InputErrorf(api.ReasonBadKubeconfig,
			"kubeconfig in Secret %s: context %q names user %q, which is not defined", ref, name, kctx.AuthInfo)
	}
	switch {
	case user.Exec != nil:
		return c, refused(ref, "an exec credential plugin")
	case user.AuthProvider != nil:
		return c, refused(ref, "an auth provider")
	case user.TokenFile != "":
		return c, refused(ref, "a token file")
	case user.ClientCertificate != "" || user.ClientKey != "":
		return c, refused(ref, "a client certificate or key file path")
	case cluster.CertificateAuthority != "":
		return c, refused(ref, "a certificate-authority file path")
	case user.Username != "" || user.Password != "":
		return c, refused(ref, "basic authentication")
	case user.Impersonate != "" || len(user.ImpersonateGroups) > 0:
		return c, refused(ref, "impersonation")
	case cluster.InsecureSkipTLSVerify:
		return c, refused(ref, "insecure-skip-tls-verify")
	}
	c.CAData = cluster.CertificateAuthorityData
	c.CertData = user.ClientCertificateData
	c.KeyData = user.ClientKeyData
	c.Token = user.Token
	return c, nil
}

func refused(ref, what string) error {
	return api.InputErrorf(api.ReasonUnsupportedKubeconfig,
		"kubeconfig in Secret %s uses %s; only inline certificate-authority-data with client-certificate-data/client-key-data or a token is accepted",
		ref, what)
}

// validate checks that the credentials can make a verified TLS connection.
func (c Credentials) validate(ref string) error {
	if len(c.CAData) == 0 {
		return api.InputErrorf(api.ReasonMissingCredentials,
			"Secret %s has no certificate authority (neither certificate-authority-data in key %q nor key %q); the registrar never registers without TLS verification",
			ref, KubeconfigKey, CertificateAuthorityKey)
	}
	if err := validateCA(c.CAData); err != nil {
		return api.InputErrorf(api.ReasonBadCertificate, "certificate authority in Secret %s: %s", ref, err)
	}
	hasCert, hasKey := len(c.CertData) > 0, len(c.KeyData) > 0
	switch {
	case hasCert != hasKey:
		return api.InputErrorf(api.ReasonMissingCredentials,
			"Secret %s has a client certificate without its key, or a key without its certificate; both are needed", ref)
	case hasCert:
		if _, err := tls.X509KeyPair(c.CertData, c.KeyData); err != nil {
			return api.InputErrorf(api.ReasonBadCertificate,
				"client certificate and key in Secret %s are not a valid PEM pair that belong together", ref)
		}
	case c.Token == "":
		return api.InputErrorf(api.ReasonMissingCredentials,
			"Secret %s has neither a client certificate and key nor a token", ref)
	}
	return nil
}

// validateCA requires at least one PEM certificate and nothing else.
func validateCA(data []byte) error {
	n := 0
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return fmt.Errorf("PEM block of type %q where only CERTIFICATE belongs", block.Type)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("certificate %d does not parse", n+1)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("no PEM certificate found")
	}
	return nil
}
