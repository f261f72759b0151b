package vcluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// kubeconfig is what the registrar reads of a kubeconfig, as client-go's
// clientcmd.Load makes it (k8s.io/client-go/tools/clientcmd/loader.go):
// the named lists as maps by name.
type kubeconfig struct {
	CurrentContext string
	Contexts       map[string]kubeContext
	Clusters       map[string]kubeCluster
	AuthInfos      map[string]kubeUser
}

// The kubeconfig v1 schema of k8s.io/client-go/tools/clientcmd/api/v1
// (types.go), field for field with the same JSON names and types, so that
// a kubeconfig that clientcmd.Load refuses for a wrong type is refused here
// too; the package is not imported, so that nothing that can reach an API
// server is linked below the reconcile (TestParseMatchesClientcmd and
// FuzzParseKubeconfig hold this against clientcmd.Load itself).
type (
	kubeconfigV1 struct {
		Kind           string           `json:"kind,omitempty"`
		APIVersion     string           `json:"apiVersion,omitempty"`
		Preferences    preferences      `json:"preferences"`
		Clusters       []namedCluster   `json:"clusters"`
		AuthInfos      []namedUser      `json:"users"`
		Contexts       []namedContext   `json:"contexts"`
		CurrentContext string           `json:"current-context"`
		Extensions     []namedExtension `json:"extensions,omitempty"`
	}
	preferences struct {
		Colors     bool             `json:"colors,omitempty"`
		Extensions []namedExtension `json:"extensions,omitempty"`
	}
	kubeCluster struct {
		Server                   string           `json:"server"`
		TLSServerName            string           `json:"tls-server-name,omitempty"`
		InsecureSkipTLSVerify    bool             `json:"insecure-skip-tls-verify,omitempty"`
		CertificateAuthority     string           `json:"certificate-authority,omitempty"`
		CertificateAuthorityData []byte           `json:"certificate-authority-data,omitempty"`
		ProxyURL                 string           `json:"proxy-url,omitempty"`
		DisableCompression       bool             `json:"disable-compression,omitempty"`
		Extensions               []namedExtension `json:"extensions,omitempty"`
	}
	kubeUser struct {
		ClientCertificate     string              `json:"client-certificate,omitempty"`
		ClientCertificateData []byte              `json:"client-certificate-data,omitempty"`
		ClientKey             string              `json:"client-key,omitempty"`
		ClientKeyData         []byte              `json:"client-key-data,omitempty"`
		Token                 string              `json:"token,omitempty"`
		TokenFile             string              `json:"tokenFile,omitempty"`
		Impersonate           string              `json:"as,omitempty"`
		ImpersonateUID        string              `json:"as-uid,omitempty"`
		ImpersonateGroups     []string            `json:"as-groups,omitempty"`
		ImpersonateUserExtra  map[string][]string `json:"as-user-extra,omitempty"`
		Username              string              `json:"username,omitempty"`
		Password              string              `json:"password,omitempty"`
		AuthProvider          *authProvider       `json:"auth-provider,omitempty"`
		Exec                  *execConfig         `json:"exec,omitempty"`
		Extensions            []namedExtension    `json:"extensions,omitempty"`
	}
	kubeContext struct {
		Cluster    string           `json:"cluster"`
		AuthInfo   string           `json:"user"`
		Namespace  string           `json:"namespace,omitempty"`
		Extensions []namedExtension `json:"extensions,omitempty"`
	}
	namedCluster struct {
		Name    string      `json:"name"`
		Cluster kubeCluster `json:"cluster"`
	}
	namedContext struct {
		Name    string      `json:"name"`
		Context kubeContext `json:"context"`
	}
	namedUser struct {
		Name     string   `json:"name"`
		AuthInfo kubeUser `json:"user"`
	}
	namedExtension struct {
		Name      string          `json:"name"`
		Extension json.RawMessage `json:"extension"`
	}
	authProvider struct {
		Name   string            `json:"name"`
		Config map[string]string `json:"config"`
	}
	execConfig struct {
		Command            string    `json:"command"`
		Args               []string  `json:"args"`
		Env                []execEnv `json:"env"`
		APIVersion         string    `json:"apiVersion,omitempty"`
		InstallHint        string    `json:"installHint,omitempty"`
		ProvideClusterInfo bool      `json:"provideClusterInfo"`
		InteractiveMode    string    `json:"interactiveMode,omitempty"`
	}
	execEnv struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
)

// parseKubeconfig reads a kubeconfig as clientcmd.Load does: YAML or JSON
// through the same YAML-to-JSON conversion, apiVersion v1 and kind Config
// or neither (read case-insensitively, as apimachinery's
// serializer/json/meta.go Interpret reads them), fields matched
// case-sensitively (sigs.k8s.io/json, as apimachinery's serializer/json
// decodes), unknown fields ignored, and a name given twice in one list
// refused (tools/clientcmd/api/v1/conversion.go). Its errors may quote the
// input.
func parseKubeconfig(data []byte) (*kubeconfig, error) {
	cfg := &kubeconfig{}
	if len(data) == 0 {
		return cfg, nil
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, err
	}
	var gvk struct {
		APIVersion string `json:"apiVersion,omitempty"`
		Kind       string `json:"kind,omitempty"`
	}
	if err := json.Unmarshal(js, &gvk); err != nil {
		return nil, fmt.Errorf("couldn't get version/kind: %w", err)
	}
	if group, version := splitAPIVersion(gvk.APIVersion); group != "" || (version != "" && version != "v1") || (gvk.Kind != "" && gvk.Kind != "Config") {
		return nil, fmt.Errorf("apiVersion %q, kind %q is not a kubeconfig (v1, Config)", gvk.APIVersion, gvk.Kind)
	}
	var v1 kubeconfigV1
	if err := kjson.UnmarshalCaseSensitivePreserveInts(js, &v1); err != nil {
		return nil, err
	}
	cfg.CurrentContext = v1.CurrentContext
	if cfg.Clusters, err = byName(v1.Clusters, "clusters", func(c namedCluster) (string, kubeCluster) { return c.Name, c.Cluster }); err != nil {
		return nil, err
	}
	if cfg.AuthInfos, err = byName(v1.AuthInfos, "users", func(u namedUser) (string, kubeUser) { return u.Name, u.AuthInfo }); err != nil {
		return nil, err
	}
	if cfg.Contexts, err = byName(v1.Contexts, "contexts", func(c namedContext) (string, kubeContext) { return c.Name, c.Context }); err != nil {
		return nil, err
	}
	extensions := [][]namedExtension{v1.Extensions, v1.Preferences.Extensions}
	for _, c := range v1.Clusters {
		extensions = append(extensions, c.Cluster.Extensions)
	}
	for _, u := range v1.AuthInfos {
		extensions = append(extensions, u.AuthInfo.Extensions)
	}
	for _, c := range v1.Contexts {
		extensions = append(extensions, c.Context.Extensions)
	}
	for _, list := range extensions {
		if err := uniqueExtensions(list); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// splitAPIVersion is schema.ParseGroupVersion's split of "group/version";
// more than one slash leaves a group that refuses it.
func splitAPIVersion(v string) (group, version string) {
	switch strings.Count(v, "/") {
	case 0:
		return "", v
	case 1:
		group, version, _ = strings.Cut(v, "/")
		return group, version
	default:
		return v, ""
	}
}

// byName turns a named list into a map, refusing a name given twice.
func byName[N, T any](list []N, what string, split func(N) (string, T)) (map[string]T, error) {
	out := make(map[string]T, len(list))
	for _, n := range list {
		name, v := split(n)
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("duplicate name %q in %s", name, what)
		}
		out[name] = v
	}
	return out, nil
}

// uniqueExtensions refuses a name given twice in one list of extensions,
// unless the first is null, which clientcmd keeps as no extension at all
// (runtime.Convert_runtime_RawExtension_To_runtime_Object).
func uniqueExtensions(list []namedExtension) error {
	set := map[string]bool{}
	for _, e := range list {
		if set[e.Name] {
			return fmt.Errorf("duplicate name %q in extensions", e.Name)
		}
		raw := bytes.TrimSpace(e.Extension)
		set[e.Name] = len(raw) > 0 && string(raw) != "null"
	}
	return nil
}
