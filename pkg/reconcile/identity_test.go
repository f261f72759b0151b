package reconcile

import (
	"strconv"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v3/util/db"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/registration"
	"github.com/registrar-dev/registrar/test/fixture"
)

func TestRenewalDue(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	tok := &registration.ServiceAccountToken{Token: "t", RenewAfter: now.Add(time.Minute), Rotation: "1"}
	for _, c := range []struct {
		name     string
		prev     *registration.ServiceAccountToken
		rotation string
		now      time.Time
		due      bool
	}{
		{"none yet", nil, "", now, true},
		{"fresh", tok, "1", now, false},
		{"two thirds passed", tok, "1", now.Add(time.Minute), true},
		{"rotation asked", tok, "2", now, true},
		{"rotation annotation removed", tok, "", now, true},
	} {
		if got := renewalDue(c.prev, c.rotation, c.now) != ""; got != c.due {
			t.Errorf("%s: due = %v", c.name, got)
		}
	}
}

func TestRenewAfterIsTwoThirdsLessJitter(t *testing.T) {
	issued := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	expires := issued.Add(24 * time.Hour)
	if got := renewAfter(issued, expires, 0); !got.Equal(issued.Add(16 * time.Hour)) {
		t.Errorf("without jitter: %s", got)
	}
	latest := renewAfter(issued, expires, 0.999)
	if latest.Before(issued.Add(16*time.Hour-144*time.Minute)) || !latest.Before(issued.Add(16*time.Hour)) {
		t.Errorf("with jitter: %s, want within a tenth of the lifetime before two thirds", latest)
	}
}

// With the ServiceAccount identity, Build writes the token and the CA and
// never the kubeconfig's client certificate, and without a token it writes
// nothing at all; Argo CD's parser reads the result as a bearer token.
func TestBuildWithServiceAccountToken(t *testing.T) {
	src, vc := sources(t)
	exp := time.Now().Add(24 * time.Hour).Truncate(time.Second).UTC()
	token := fixture.JWT(`{"exp":` + strconv.FormatInt(exp.Unix(), 10) + `}`)
	if _, err := registration.Build(src, registration.BuildOptions{ArgoCDNamespace: "argocd", Identity: api.IdentityServiceAccount}); err == nil {
		t.Fatal("built a registration for the serviceaccount identity without a token")
	}
	src.Token = &registration.ServiceAccountToken{Token: token, RenewAfter: exp.Add(-8 * time.Hour), Rotation: "r1", Scope: "cluster:" + registration.ManagerRole}
	s, err := registration.Build(src, registration.BuildOptions{ArgoCDNamespace: "argocd", Identity: api.IdentityServiceAccount})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := registration.ConfigOf(s)
	if c.BearerToken != token || len(c.TLSClientConfig.CertData) != 0 || len(c.TLSClientConfig.KeyData) != 0 ||
		string(c.TLSClientConfig.CAData) != string(vc.PKI.CACert) {
		t.Errorf("config holds token %v, cert %d bytes, key %d bytes, the vcluster's CA %v",
			c.BearerToken == token, len(c.TLSClientConfig.CertData), len(c.TLSClientConfig.KeyData), string(c.TLSClientConfig.CAData) == string(vc.PKI.CACert))
	}
	for k, v := range map[string]string{
		api.IdentityAnnotation:            api.IdentityServiceAccount,
		api.TokenRenewAfterAnnotation:     exp.Add(-8 * time.Hour).Format(time.RFC3339),
		api.TokenRotationAnnotation:       "r1",
		api.IdentityScopeAnnotation:       "cluster:" + registration.ManagerRole,
		api.CredentialsNotAfterAnnotation: exp.Format(time.RFC3339),
	} {
		if s.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, s.Annotations[k], v)
		}
	}
	cluster, err := db.SecretToCluster(s)
	if err != nil {
		t.Fatal(err)
	}
	if cluster.Config.BearerToken != token || cluster.Config.CertData != nil || cluster.Config.Insecure {
		t.Error("Argo CD does not read a bearer token registration with TLS verified")
	}
	if previousToken(map[string]*corev1.Secret{"argocd": s}).Token != token {
		t.Error("the token is not read back from the registration")
	}
	// The admin identity, even with a token at hand, writes the kubeconfig's.
	admin, err := registration.Build(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := registration.ConfigOf(admin); c.BearerToken != "" || admin.Annotations[api.IdentityAnnotation] != "" {
		t.Error("the admin identity carries the token")
	}
}

func TestExpiryWarningOfATokenStartsWhenRenewalIsOverdue(t *testing.T) {
	d := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
		api.IdentityAnnotation:            api.IdentityServiceAccount,
		api.TokenRenewAfterAnnotation:     "2026-12-02T16:00:00Z",
		api.CredentialsNotAfterAnnotation: "2026-12-03T00:00:00Z",
	}}}
	if got := expiryWarningOf(d, DefaultExpiryWarning); got != 8*time.Hour-time.Minute {
		t.Errorf("warning %s", got)
	}
	delete(d.Annotations, api.IdentityAnnotation)
	if got := expiryWarningOf(d, DefaultExpiryWarning); got != DefaultExpiryWarning {
		t.Errorf("certificate: warning %s", got)
	}
}

// A token the registrar renews itself is "renewing" in the expiry metric
// until its renewal is overdue, then counted by what it has left.
func TestExpiryBucketOfATokenIsRenewingUntilOverdue(t *testing.T) {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
		api.IdentityAnnotation:            api.IdentityServiceAccount,
		api.TokenRenewAfterAnnotation:     "2026-12-02T16:00:00Z",
		api.CredentialsNotAfterAnnotation: "2026-12-03T00:00:00Z",
	}}}
	if got := registrationExpiryBucket(s, time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)); got != "renewing" {
		t.Errorf("before renewal: %s", got)
	}
	if got := registrationExpiryBucket(s, time.Date(2026, 12, 2, 17, 0, 0, 0, time.UTC)); got != "24h" {
		t.Errorf("renewal overdue: %s", got)
	}
	delete(s.Annotations, api.IdentityAnnotation)
	if got := registrationExpiryBucket(s, time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)); got != "24h" {
		t.Errorf("a certificate: %s", got)
	}
}
