package registration

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/registrar-dev/registrar/pkg/vcluster"
)

// Argo CD reads the config with encoding/json, which forgives a key's case,
// so its own parser cannot tell "TLSClientConfig" from "tlsClientConfig";
// the content hash can, and a changed key rewrites every registration. The
// keys are Argo CD's ClusterConfig and TLSClientConfig JSON names
// (pkg/apis/application/v1alpha1/types.go in argo-cd), exactly.
func TestConfigKeysAreArgoCDsExactly(t *testing.T) {
	keysOf := func(m map[string]any) []string {
		var keys []string
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return keys
	}
	src, _ := sources(t)
	token := src
	token.KubeconfigSecret = src.KubeconfigSecret.DeepCopy()
	token.KubeconfigSecret.Data = map[string][]byte{
		vcluster.CertificateAuthorityKey: src.KubeconfigSecret.Data[vcluster.CertificateAuthorityKey], vcluster.TokenKey: []byte("t"),
	}
	for _, tc := range []struct {
		name     string
		src      Sources
		top, tls []string
	}{
		{"client certificate", src, []string{"tlsClientConfig"}, []string{"caData", "certData", "insecure", "keyData", "serverName"}},
		{"token", token, []string{"bearerToken", "tlsClientConfig"}, []string{"caData", "insecure", "serverName"}},
	} {
		var cfg map[string]any
		if err := json.Unmarshal(build(t, tc.src).Data[ArgoCDConfigKey], &cfg); err != nil {
			t.Fatal(err)
		}
		tls, _ := cfg["tlsClientConfig"].(map[string]any)
		if got := keysOf(cfg); !slices.Equal(got, tc.top) {
			t.Errorf("%s: config keys %v, want %v", tc.name, got, tc.top)
		}
		if got := keysOf(tls); !slices.Equal(got, tc.tls) {
			t.Errorf("%s: tlsClientConfig keys %v, want %v", tc.name, got, tc.tls)
		}
	}
}
