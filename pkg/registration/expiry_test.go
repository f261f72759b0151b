package registration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/vcluster"
	"github.com/registrar-dev/registrar/test/fixture"
)

// certExpiring returns a self-signed PEM certificate valid until notAfter.
func certExpiring(t *testing.T, notAfter time.Time) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "c"},
		NotBefore: notAfter.Add(-48 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestCredentialsNotAfterIsTheEarliestExpiry(t *testing.T) {
	soon := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	later := soon.Add(300 * 24 * time.Hour)
	cases := []struct {
		name  string
		creds vcluster.Credentials
		want  time.Time
		known bool
	}{
		{"client certificate before the CA", vcluster.Credentials{CertData: certExpiring(t, soon), CAData: certExpiring(t, later)}, soon, true},
		{"CA before the client certificate", vcluster.Credentials{CertData: certExpiring(t, later), CAData: certExpiring(t, soon)}, soon, true},
		{"a second CA in the bundle expires first",
			vcluster.Credentials{CertData: certExpiring(t, later), CAData: append(certExpiring(t, later), certExpiring(t, soon)...)}, soon, true},
		{"token with exp", vcluster.Credentials{Token: fixture.JWT(`{"exp":1798862645}`), CAData: certExpiring(t, later)}, time.Unix(1798862645, 0).UTC(), true},
		{"token expiring after the CA", vcluster.Credentials{Token: fixture.JWT(`{"exp":4102444800}`), CAData: certExpiring(t, soon)}, soon, true},
		{"token without exp is unknown, not healthy", vcluster.Credentials{Token: fixture.JWT(`{"sub":"system:serviceaccount:kube-system:argocd-manager"}`), CAData: certExpiring(t, later)}, time.Time{}, false},
		{"token with exp 0 is unknown", vcluster.Credentials{Token: fixture.JWT(`{"exp":0}`), CAData: certExpiring(t, later)}, time.Time{}, false},
		{"opaque token is unknown", vcluster.Credentials{Token: "abcdef.0123456789abcdef", CAData: certExpiring(t, later)}, time.Time{}, false},
		{"a token beside a client certificate is not what is used", vcluster.Credentials{CertData: certExpiring(t, soon), Token: "opaque"}, soon, true},
		{"nothing to read", vcluster.Credentials{}, time.Time{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, known := credentialsNotAfter(tc.creds)
			if known != tc.known || !got.Equal(tc.want) {
				t.Errorf("got %v (known %v), want %v (known %v)", got, known, tc.want, tc.known)
			}
		})
	}
}

func TestBuildRecordsWhenTheCredentialsExpire(t *testing.T) {
	src, vc := sources(t)
	s := build(t, src)
	got, err := time.Parse(time.RFC3339, s.Annotations[api.CredentialsNotAfterAnnotation])
	if err != nil {
		t.Fatalf("annotation %s: %v", api.CredentialsNotAfterAnnotation, err)
	}
	want, _ := credentialsNotAfter(vcluster.Credentials{CertData: vc.ClientCertificate(), CAData: vc.PKI.CACert})
	if !got.Equal(want.Truncate(time.Second)) {
		t.Errorf("%s = %v, want %v", api.CredentialsNotAfterAnnotation, got, want)
	}

	// A token without expiry leaves the annotation out: unknown.
	delete(src.KubeconfigSecret.Data, vcluster.KubeconfigKey)
	delete(src.KubeconfigSecret.Data, vcluster.ClientCertificateKey)
	delete(src.KubeconfigSecret.Data, vcluster.ClientKeyKey)
	src.KubeconfigSecret.Data[vcluster.TokenKey] = []byte("opaque-token")
	if s := build(t, src); s.Annotations[api.CredentialsNotAfterAnnotation] != "" {
		t.Errorf("token without expiry: %s = %q, want none", api.CredentialsNotAfterAnnotation, s.Annotations[api.CredentialsNotAfterAnnotation])
	}
}

// build builds the registration of src, failing the test on an error.
func build(t *testing.T, src Sources) *corev1.Secret {
	t.Helper()
	s, err := Build(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
