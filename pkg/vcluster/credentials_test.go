package vcluster

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/test/fixture"
)

func TestReadCredentialsTakesTheKubeconfigThenTheKeysBesideIt(t *testing.T) {
	vc, secret := fixture.Sandbox(t)
	c, err := ReadCredentials(secret)
	if err != nil {
		t.Fatal(err)
	}
	if string(c.CAData) != string(vc.PKI.CACert) || string(c.CertData) != string(vc.ClientCertificate()) || len(c.KeyData) == 0 {
		t.Error("the kubeconfig's CA, client certificate and key were not read")
	}
	secret.Data = map[string][]byte{CertificateAuthorityKey: vc.PKI.CACert, TokenKey: []byte("sa-token")}
	if c, err = ReadCredentials(secret); err != nil || c.Token != "sa-token" || len(c.CertData) != 0 {
		t.Errorf("separate keys: token %q, certificate %d bytes, error %v", c.Token, len(c.CertData), err)
	}
}

// A kubeconfig without current-context means its only context, as kubectl
// reads it; with two contexts it means neither.
func TestReadCredentialsTakesTheOnlyContext(t *testing.T) {
	vc, secret := fixture.Sandbox(t)
	kc := strings.Replace(string(secret.Data[KubeconfigKey]), "current-context: vcluster_sandbox_vcluster-sandbox", "", 1)
	secret.Data[KubeconfigKey] = []byte(kc)
	if c, err := ReadCredentials(secret); err != nil || string(c.CertData) != string(vc.ClientCertificate()) {
		t.Fatalf("one context, no current-context: %v", err)
	}
	secret.Data[KubeconfigKey] = []byte(strings.Replace(kc, "contexts:\n", "contexts:\n- name: other\n  context: {cluster: vcluster_sandbox_vcluster-sandbox, user: vcluster_sandbox_vcluster-sandbox}\n", 1))
	_, err := ReadCredentials(secret)
	fixture.WantInputError(t, err, api.ReasonBadKubeconfig, "no usable current-context", vc)
}

func TestReadCredentialsRefusesBadInput(t *testing.T) {
	replace := func(old, replacement string) func(*corev1.Secret, *fixture.VCluster) {
		return func(s *corev1.Secret, _ *fixture.VCluster) {
			s.Data[KubeconfigKey] = []byte(strings.Replace(string(s.Data[KubeconfigKey]), old, replacement, 1))
		}
	}
	withoutKubeconfig := func(edit func(*corev1.Secret, *fixture.VCluster)) func(*corev1.Secret, *fixture.VCluster) {
		return func(s *corev1.Secret, vc *fixture.VCluster) {
			delete(s.Data, KubeconfigKey)
			edit(s, vc)
		}
	}
	tests := []struct {
		name       string
		modify     func(*corev1.Secret, *fixture.VCluster)
		reason     string
		mentioning string
	}{
		{"unparsable kubeconfig", func(s *corev1.Secret, _ *fixture.VCluster) { s.Data[KubeconfigKey] = []byte("clusters: [\n  - {{{") },
			api.ReasonBadKubeconfig, "not a parsable kubeconfig"},
		// The line of a YAML error is the one part of it safe to repeat.
		{"unparsable kubeconfig, where", func(s *corev1.Secret, _ *fixture.VCluster) { s.Data[KubeconfigKey] = []byte("clusters: [\n  - {{{") },
			api.ReasonBadKubeconfig, "(at line "},
		{"no current context", replace("current-context: vcluster_sandbox_vcluster-sandbox", "current-context: other"), api.ReasonBadKubeconfig, "current-context"},
		{"undefined cluster", replace("cluster: vcluster_sandbox_vcluster-sandbox", "cluster: other"), api.ReasonBadKubeconfig, `names cluster "other"`},
		{"undefined user", replace("user: vcluster_sandbox_vcluster-sandbox", "user: other"), api.ReasonBadKubeconfig, `names user "other"`},
		{"exec plugin", replace("client-certificate-data:", "exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /bin/steal\n    client-certificate-data:"), api.ReasonUnsupportedKubeconfig, "exec credential plugin"},
		{"auth provider", replace("client-certificate-data:", "auth-provider: {name: oidc}\n    client-certificate-data:"), api.ReasonUnsupportedKubeconfig, "an auth provider"},
		{"token file", replace("client-certificate-data:", "tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token\n    client-certificate-data:"), api.ReasonUnsupportedKubeconfig, "token file"},
		{"client key file", replace("client-certificate-data:", "client-key: /etc/key.pem\n    client-certificate-data:"), api.ReasonUnsupportedKubeconfig, "client certificate or key file path"},
		{"basic authentication", replace("client-certificate-data:", "password: hunter2\n    client-certificate-data:"), api.ReasonUnsupportedKubeconfig, "basic authentication"},
		{"impersonation", replace("client-certificate-data:", "as-groups: [system:masters]\n    client-certificate-data:"), api.ReasonUnsupportedKubeconfig, "impersonation"},
		{"CA file path", replace("certificate-authority-data:", "certificate-authority: /etc/ssl/ca.pem\n    certificate-authority-data:"), api.ReasonUnsupportedKubeconfig, "certificate-authority file path"},
		{"insecure skip verify", replace("certificate-authority-data:", "insecure-skip-tls-verify: true\n    certificate-authority-data:"), api.ReasonUnsupportedKubeconfig, "insecure-skip-tls-verify"},
		{"no CA anywhere", withoutKubeconfig(func(s *corev1.Secret, _ *fixture.VCluster) { delete(s.Data, CertificateAuthorityKey) }),
			api.ReasonMissingCredentials, "never registers without TLS verification"},
		{"CA not PEM", withoutKubeconfig(func(s *corev1.Secret, _ *fixture.VCluster) {
			s.Data[CertificateAuthorityKey] = []byte("not a certificate")
		}),
			api.ReasonBadCertificate, "no PEM certificate"},
		{"second CA certificate broken", withoutKubeconfig(func(s *corev1.Secret, vc *fixture.VCluster) {
			s.Data[CertificateAuthorityKey] = append(append([]byte{}, vc.PKI.CACert...),
				[]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")...)
		}), api.ReasonBadCertificate, "certificate 2 does not parse"},
		{"CA holds a private key", withoutKubeconfig(func(s *corev1.Secret, vc *fixture.VCluster) { s.Data[CertificateAuthorityKey] = vc.PKI.ClientKey }),
			api.ReasonBadCertificate, "only CERTIFICATE belongs"},
		{"certificate without key", withoutKubeconfig(func(s *corev1.Secret, _ *fixture.VCluster) { delete(s.Data, ClientKeyKey) }),
			api.ReasonMissingCredentials, "without its key"},
		{"key without certificate", withoutKubeconfig(func(s *corev1.Secret, _ *fixture.VCluster) { delete(s.Data, ClientCertificateKey) }),
			api.ReasonMissingCredentials, "without its key"},
		{"key of another certificate", withoutKubeconfig(func(s *corev1.Secret, vc *fixture.VCluster) {
			_, otherKey, err := vc.PKI.IssueClient("other")
			if err != nil {
				panic(err)
			}
			s.Data[ClientKeyKey] = otherKey
		}), api.ReasonBadCertificate, "belong together"},
		{"no credentials", func(s *corev1.Secret, _ *fixture.VCluster) {
			s.Data = map[string][]byte{CertificateAuthorityKey: s.Data[CertificateAuthorityKey]}
		}, api.ReasonMissingCredentials, "neither a client certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vc, secret := fixture.Sandbox(t)
			tc.modify(secret, vc)
			_, err := ReadCredentials(secret)
			msg := fixture.WantInputError(t, err, tc.reason, tc.mentioning, vc)
			if !strings.Contains(msg, "vcluster-sandbox/vc-sandbox") {
				t.Errorf("message %q does not name the Secret", msg)
			}
		})
	}
}
