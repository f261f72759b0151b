package vcluster

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/registrar-dev/registrar/test/fixture"
)

// kubeconfigCases are the seeds of FuzzParseKubeconfig and the cases of
// TestParseMatchesClientcmd: what vcluster writes, and each way a
// kubeconfig can differ from it that clientcmd.Load tells apart.
var kubeconfigCases = map[string]string{
	"empty":         "",
	"null":          "null",
	"empty object":  "{}",
	"not an object": "- a\n- b\n",
	"a string":      "just text",
	"not yaml":      "apiVersion: v1\nclusters: [ {{{ not yaml",
	"tab indent":    "apiVersion: v1\n\tkind: Config\n",
	"valid": `apiVersion: v1
kind: Config
current-context: c
contexts: [{name: c, context: {cluster: c, user: u, namespace: default}}]
clusters: [{name: c, cluster: {server: 'https://x.ns.svc', certificate-authority-data: YWJj, tls-server-name: x}}]
users: [{name: u, user: {client-certificate-data: ZGVm, client-key-data: Z2hp, token: t}}]
`,
	"json":                    `{"apiVersion":"v1","kind":"Config","current-context":"c","contexts":[{"name":"c","context":{"cluster":"c","user":"u"}}],"clusters":[{"name":"c","cluster":{"certificate-authority-data":"YWJj"}}],"users":[{"name":"u","user":{"token":"t"}}]}`,
	"no apiVersion nor kind":  "current-context: c\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n",
	"apiVersion v2":           "apiVersion: v2\nkind: Config\n",
	"apiVersion with group":   "apiVersion: example.com/v1\nkind: Config\n",
	"apiVersion slash v1":     "apiVersion: /v1\n",
	"apiVersion slash":        "apiVersion: /\n",
	"apiVersion two slashes":  "apiVersion: a/b/c\n",
	"kind Pod":                "apiVersion: v1\nkind: Pod\n",
	"kind only":               "kind: Config\n",
	"upper-case APIVERSION":   "APIVERSION: v2\n",
	"upper-case Kind":         "Kind: Pod\n",
	"upper-case field":        "Current-Context: c\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n",
	"duplicate cluster":       "clusters: [{name: c, cluster: {}}, {name: c, cluster: {}}]\n",
	"duplicate user":          "users: [{name: u, user: {}}, {name: u, user: {token: t}}]\n",
	"duplicate context":       "contexts: [{name: c, context: {}}, {name: c, context: {}}]\n",
	"duplicate extension":     "extensions: [{name: e, extension: {a: 1}}, {name: e, extension: {b: 2}}]\n",
	"null extension first":    "extensions: [{name: e, extension: null}, {name: e, extension: {b: 2}}]\n",
	"null extension second":   "extensions: [{name: e, extension: {a: 1}}, {name: e}]\n",
	"missing extension first": "extensions: [{name: e}, {name: e, extension: {b: 2}}]\n",
	"duplicate cluster ext":   "clusters: [{name: c, cluster: {extensions: [{name: e, extension: 1}, {name: e, extension: 2}]}}]\n",
	"duplicate pref ext":      "preferences: {extensions: [{name: e, extension: x}, {name: e, extension: y}]}\n",
	"duplicate user ext":      "users: [{name: u, user: {extensions: [{name: e, extension: [1]}, {name: e, extension: [2]}]}}]\n",
	"duplicate context ext":   "contexts: [{name: c, context: {extensions: [{name: e, extension: true}, {name: e, extension: false}]}}]\n",
	"wrong type unread":       "clusters: [{name: c, cluster: {proxy-url: [1, 2]}}]\n",
	"wrong type bool":         "clusters: [{name: c, cluster: {insecure-skip-tls-verify: 'yes'}}]\n",
	"wrong type extra":        "users: [{name: u, user: {as-user-extra: {a: b}}}]\n",
	"wrong type colors":       "preferences: {colors: 1}\n",
	"wrong type env":          "users: [{name: u, user: {exec: {command: sh, env: [{name: 1}]}}}]\n",
	"bad base64":              "clusters: [{name: c, cluster: {certificate-authority-data: '!!!'}}]\n",
	"clusters not a list":     "clusters: {c: {server: x}}\n",
	"exec empty":              "users: [{name: u, user: {exec: {}}}]\n",
	"exec null":               "users: [{name: u, user: {exec: null}}]\n",
	"auth provider":           "users: [{name: u, user: {auth-provider: {name: oidc, config: {a: b}}}}]\n",
	"files and impersonation": "clusters: [{name: c, cluster: {certificate-authority: /ca, insecure-skip-tls-verify: true}}]\n" +
		"users: [{name: u, user: {tokenFile: /t, client-certificate: /c, client-key: /k, username: a, password: b, as: x, as-groups: [g]}}]\n",
	"unknown fields":   "unknown: 1\nclusters: [{name: c, cluster: {unknown: {a: b}}}]\n",
	"duplicate keys":   "current-context: a\ncurrent-context: b\n",
	"anchors":          "x: &a {cluster: c, user: u}\ncontexts: [{name: c, context: *a}]\ncurrent-context: c\n",
	"numeric name":     "contexts: [{name: 1, context: {}}]\n",
	"null lists":       "clusters: null\nusers: null\ncontexts: null\n",
	"null entry":       "clusters: [null]\n",
	"empty name twice": "clusters: [{cluster: {}}, {cluster: {}}]\n",
}

// TestParseMatchesClientcmd holds parseKubeconfig against client-go's
// clientcmd.Load, which the registrar used before and Argo CD and kubectl
// use: both refuse the same kubeconfigs and read the same values.
func TestParseMatchesClientcmd(t *testing.T) {
	vc, err := fixture.NewVCluster("sandbox", "ns")
	if err != nil {
		t.Fatal(err)
	}
	written, err := vc.Kubeconfig(vc.ClientCertificate(), vc.ClientKey())
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{"as vcluster writes it": written}
	for name, data := range kubeconfigCases {
		cases[name] = []byte(data)
	}
	refused := 0
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if !agree(t, data) {
				refused++
			}
		})
	}
	if refused < 10 || refused > len(cases)-10 {
		t.Errorf("%d of %d cases refused: the cases no longer tell acceptance from refusal", refused, len(cases))
	}
}

// FuzzParseKubeconfig holds parseKubeconfig against clientcmd.Load on
// arbitrary input; `make fuzz` runs it.
func FuzzParseKubeconfig(f *testing.F) {
	for _, data := range kubeconfigCases {
		f.Add([]byte(data))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.Contains(bytes.ToLower(data), []byte("__internal")) {
			// apiVersion __internal makes clientcmd.Load read client-go's
			// internal form, whose lists are maps; parseKubeconfig refuses
			// it, as no kubeconfig written by a tool carries it.
			t.Skip("client-go's internal form")
		}
		agree(t, data)
	})
}

// agree parses data both ways and fails unless both refuse it or both
// read the same values; it says whether both accepted it.
func agree(t *testing.T, data []byte) bool {
	t.Helper()
	want, wantErr := clientcmd.Load(data)
	got, gotErr := parseKubeconfig(data)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("clientcmd.Load: %v; parseKubeconfig: %v\ninput: %q", wantErr, gotErr, data)
	}
	if wantErr != nil {
		return false
	}
	if got.CurrentContext != want.CurrentContext {
		t.Errorf("current-context %q, clientcmd %q", got.CurrentContext, want.CurrentContext)
	}
	same := func(what string, g, w any) {
		if gs, ws := fmt.Sprintf("%#v", g), fmt.Sprintf("%#v", w); gs != ws {
			t.Errorf("%s: %s, clientcmd %s\ninput: %q", what, gs, ws, data)
		}
	}
	same("context names", sortedKeys(got.Contexts), sortedKeys(want.Contexts))
	for name, c := range want.Contexts {
		same("context "+name, [2]string{got.Contexts[name].Cluster, got.Contexts[name].AuthInfo}, [2]string{c.Cluster, c.AuthInfo})
	}
	same("cluster names", sortedKeys(got.Clusters), sortedKeys(want.Clusters))
	for name, c := range want.Clusters {
		g := got.Clusters[name]
		same("cluster "+name, []any{g.CertificateAuthority, g.CertificateAuthorityData, g.InsecureSkipTLSVerify},
			[]any{c.CertificateAuthority, c.CertificateAuthorityData, c.InsecureSkipTLSVerify})
	}
	same("user names", sortedKeys(got.AuthInfos), sortedKeys(want.AuthInfos))
	for name, u := range want.AuthInfos {
		g := got.AuthInfos[name]
		same("user "+name, []any{g.Exec != nil, g.AuthProvider != nil, g.TokenFile, g.ClientCertificate, g.ClientKey,
			g.Username, g.Password, g.Impersonate, len(g.ImpersonateGroups), g.ClientCertificateData, g.ClientKeyData, g.Token},
			[]any{u.Exec != nil, u.AuthProvider != nil, u.TokenFile, u.ClientCertificate, u.ClientKey,
				u.Username, u.Password, u.Impersonate, len(u.ImpersonateGroups), u.ClientCertificateData, u.ClientKeyData, u.Token})
	}
	return true
}

func sortedKeys[T any](m map[string]T) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
