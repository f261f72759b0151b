package registration

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/argoproj/argo-cd/v3/util/db"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/vcluster"
)

// FuzzBuild feeds arbitrary kubeconfig Secret contents and annotation
// values to Build. It must never panic; an error must be an InputError
// that repeats none of the credentials; a result must be a Secret that
// Argo CD's own parser reads back as the same cluster, never insecure.
// Seeds are in testdata/fuzz/FuzzBuild; `make fuzz` runs it.
func FuzzBuild(f *testing.F) {
	base, vc := sources(f)
	f.Add(base.KubeconfigSecret.Data[vcluster.KubeconfigKey], vc.PKI.CACert, vc.PKI.ClientCert, vc.PKI.ClientKey, "", "", "apps,web")
	f.Add([]byte(nil), vc.PKI.CACert, []byte(nil), []byte(nil), "token", "name", "")
	f.Add([]byte("current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {exec: {command: sh}}}]"),
		[]byte(nil), []byte(nil), []byte(nil), "", "", "")
	f.Fuzz(func(t *testing.T, kubeconfig, ca, cert, key []byte, token, clusterName, namespaces string) {
		// A copy of one healthy vcluster: generating keys per input would
		// spend the fuzzing time in ECDSA.
		src := Sources{
			Workload: base.Workload.(*appsv1.StatefulSet).DeepCopy(), Kind: base.Kind,
			Service: base.Service.DeepCopy(), KubeconfigSecret: base.KubeconfigSecret.DeepCopy(),
		}
		src.KubeconfigSecret.Data = map[string][]byte{}
		for k, v := range map[string][]byte{vcluster.KubeconfigKey: kubeconfig, vcluster.CertificateAuthorityKey: ca,
			vcluster.ClientCertificateKey: cert, vcluster.ClientKeyKey: key, vcluster.TokenKey: []byte(token)} {
			if v != nil {
				src.KubeconfigSecret.Data[k] = v
			}
		}
		ann := map[string]string{}
		if clusterName != "" {
			ann[api.ClusterNameAnnotation] = clusterName
		}
		if namespaces != "" {
			ann[api.NamespacesAnnotation] = namespaces
		}
		src.Workload.SetAnnotations(ann)

		s, err := Build(src, opts)
		if err != nil {
			ie, ok := api.AsInputError(err)
			if !ok {
				t.Fatalf("not an InputError: %v", err)
			}
			for _, secret := range credentialsIn(kubeconfig, ca, cert, key, token) {
				if strings.Contains(ie.Message, secret) {
					t.Fatalf("message %q repeats credential content", ie.Message)
				}
			}
			return
		}
		var cfg ClusterConfig
		if err := json.Unmarshal(s.Data[ArgoCDConfigKey], &cfg); err != nil {
			t.Fatalf("config is not JSON: %v", err)
		}
		if cfg.TLSClientConfig.Insecure || len(cfg.TLSClientConfig.CAData) == 0 {
			t.Fatal("registered without TLS verification")
		}
		cluster, err := db.SecretToCluster(s)
		if err != nil {
			t.Fatalf("Argo CD cannot parse the result: %v", err)
		}
		if cluster.Server != string(s.Data[ArgoCDServerKey]) || cluster.Name != string(s.Data[ArgoCDNameKey]) {
			t.Fatalf("Argo CD reads server %q name %q", cluster.Server, cluster.Name)
		}
		if len(cluster.Namespaces) > 0 && strings.Join(cluster.Namespaces, ",") != string(s.Data[ArgoCDNamespacesKey]) {
			t.Fatalf("Argo CD reads namespaces %q from %q", cluster.Namespaces, s.Data[ArgoCDNamespacesKey])
		}
	})
}

// credentialsIn lists the secret values in the inputs that are long enough
// to be recognised: the raw keys and any credentials inside the kubeconfig.
func credentialsIn(kubeconfig, ca, cert, key []byte, token string) []string {
	var out []string
	add := func(b []byte) {
		if len(b) >= 16 {
			out = append(out, string(b), base64.StdEncoding.EncodeToString(b))
		}
	}
	add(cert)
	add(key)
	add([]byte(token))
	if cfg, err := clientcmd.Load(kubeconfig); err == nil {
		for _, u := range cfg.AuthInfos {
			add(u.ClientKeyData)
			add(u.ClientCertificateData)
			add([]byte(u.Token))
			add([]byte(u.Password))
		}
	}
	return out
}
