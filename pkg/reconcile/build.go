package reconcile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/template"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Sources are the host-cluster objects of one vcluster.
type Sources struct {
	// Workload is the vcluster's StatefulSet or Deployment; only its
	// metadata is read.
	Workload client.Object
	// Kind is "StatefulSet" or "Deployment".
	Kind             string
	Service          *corev1.Service
	KubeconfigSecret *corev1.Secret
}

// BuildOptions are the registrar-wide settings of a build.
type BuildOptions struct {
	// ArgoCDNamespace is where the Argo CD cluster Secret goes.
	ArgoCDNamespace string
	// ClusterName renders the Argo CD cluster name from a NameData, unless
	// the workload sets ClusterNameAnnotation.
	ClusterName *template.Template
	// PropagateLabels lists the workload label keys copied onto the Argo CD
	// cluster Secret, for ApplicationSet cluster generators.
	PropagateLabels []string
}

// NameData is what a cluster name template sees.
type NameData struct {
	Namespace string
	Name      string
}

// DefaultClusterNameTemplate names a cluster after its namespace and name,
// which together are unique in the host cluster.
const DefaultClusterNameTemplate = "{{.Namespace}}-{{.Name}}"

// clusterConfig is the subset of Argo CD's ClusterConfig
// (pkg/apis/application/v1alpha1/types.go in argo-cd) the registrar writes,
// with the same JSON names. It is declared here rather than imported because
// importing Argo CD's API types grows the binary by some 80 MB; the tests
// parse every Secret built here with Argo CD's own util/db code instead.
type clusterConfig struct {
	BearerToken     string          `json:"bearerToken,omitempty"`
	TLSClientConfig tlsClientConfig `json:"tlsClientConfig"`
}

// tlsClientConfig mirrors Argo CD's TLSClientConfig ([]byte encodes as base64
// in both).
type tlsClientConfig struct {
	Insecure   bool   `json:"insecure"`
	ServerName string `json:"serverName,omitempty"`
	CAData     []byte `json:"caData,omitempty"`
	CertData   []byte `json:"certData,omitempty"`
	KeyData    []byte `json:"keyData,omitempty"`
}

// Build computes the Argo CD cluster Secret for a vcluster. It is a pure
// function of its inputs; an *inputError says what in them is wrong.
func Build(src Sources, opts BuildOptions) (*corev1.Secret, error) {
	w := src.Workload
	ns, name := w.GetNamespace(), w.GetName()
	if errs := validation.IsValidLabelValue(name); len(errs) > 0 {
		return nil, inputErrorf(ReasonBadName,
			"%s %s/%s: its name cannot be a label value (%s); rename the vcluster", src.Kind, ns, name, strings.Join(errs, "; "))
	}
	if src.Service == nil {
		return nil, inputErrorf(ReasonServiceMissing,
			"Service %s/%s does not exist; the registration points at the vcluster's Service, so create it (vcluster's chart does)", ns, name)
	}
	server, err := serverURL(src.Service)
	if err != nil {
		return nil, err
	}
	if src.KubeconfigSecret == nil {
		return nil, inputErrorf(ReasonKubeconfigSecretMissing,
			"kubeconfig Secret %s/%s does not exist; if the vcluster exports it under another name, set annotation %s on the %s",
			ns, kubeconfigSecretName(w), KubeconfigSecretAnnotation, src.Kind)
	}
	creds, err := readCredentials(src.KubeconfigSecret)
	if err != nil {
		return nil, err
	}
	clusterName, err := renderClusterName(w, opts.ClusterName)
	if err != nil {
		return nil, err
	}

	if server == InClusterServer || clusterName == InClusterName {
		return nil, inputErrorf(ReasonConflict,
			"%s %s/%s would register as Argo CD's own cluster (server %s, name %q); rename it or set annotation %s",
			src.Kind, ns, name, server, clusterName, ClusterNameAnnotation)
	}

	ann := w.GetAnnotations()
	serverName := src.Service.Name + "." + src.Service.Namespace
	if v, ok := ann[TLSServerNameAnnotation]; ok {
		if errs := validation.IsDNS1123Subdomain(v); len(errs) > 0 {
			return nil, badAnnotation(src, TLSServerNameAnnotation, "a DNS name")
		}
		serverName = v
	}
	cfg := clusterConfig{TLSClientConfig: tlsClientConfig{
		ServerName: serverName,
		CAData:     creds.CAData,
		CertData:   creds.CertData,
		KeyData:    creds.KeyData,
	}}
	if len(creds.CertData) == 0 {
		cfg.BearerToken = creds.Token
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encoding cluster config: %w", err)
	}

	data := map[string][]byte{
		ArgoCDNameKey:   []byte(clusterName),
		ArgoCDServerKey: []byte(server),
		ArgoCDConfigKey: cfgJSON,
	}
	if v, ok := ann[ProjectAnnotation]; ok {
		if errs := validation.IsDNS1123Subdomain(v); len(errs) > 0 {
			return nil, badAnnotation(src, ProjectAnnotation, "the name of an Argo CD AppProject")
		}
		data[ArgoCDProjectKey] = []byte(v)
	}
	if v, ok := ann[NamespacesAnnotation]; ok {
		list, err := namespaceList(v)
		if err != nil {
			return nil, badAnnotation(src, NamespacesAnnotation, "a comma-separated list of namespace names")
		}
		data[ArgoCDNamespacesKey] = []byte(list)
	}
	if v, ok := ann[ClusterResourcesAnnotation]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, badAnnotation(src, ClusterResourcesAnnotation, `"true" or "false"`)
		}
		data[ArgoCDClusterResources] = []byte(strconv.FormatBool(b))
	}

	labels := map[string]string{}
	wl := w.GetLabels()
	for _, k := range opts.PropagateLabels {
		if v, ok := wl[k]; ok {
			labels[k] = v
		}
	}
	// Our own labels go last so that no propagated label can override them.
	labels[ArgoCDSecretTypeLabel] = ArgoCDSecretTypeValue
	labels[ManagedByLabel] = ManagedByValue
	labels[SourceNamespaceLabel] = ns
	labels[SourceNameLabel] = name

	secret := &corev1.Secret{Type: corev1.SecretTypeOpaque, Data: data}
	secret.Namespace = opts.ArgoCDNamespace
	secret.Name = SecretName(ns, name)
	secret.Labels = labels
	secret.Annotations = map[string]string{
		SourceKindAnnotation: src.Kind,
		SourceUIDAnnotation:  string(w.GetUID()),
		// Which Secret the credentials came from: its deletion, unlike a
		// missing Secret newly named by annotation, deregisters the vcluster.
		KubeconfigSecretAnnotation: src.KubeconfigSecret.Name,
	}
	secret.Annotations[ContentHashAnnotation] = contentHash(secret)
	return secret, nil
}

func badAnnotation(src Sources, key, want string) error {
	return inputErrorf(ReasonBadAnnotation,
		"annotation %s on %s %s/%s must be %s; fix or remove it",
		key, src.Kind, src.Workload.GetNamespace(), src.Workload.GetName(), want)
}

// serverURL is the vcluster's private service URL. The port is omitted when
// it is 443, so that the same vcluster always has the same URL, which is how
// Argo CD identifies a cluster.
func serverURL(svc *corev1.Service) (string, error) {
	port, ok := apiPort(svc)
	if !ok {
		return "", inputErrorf(ReasonNoServicePort,
			"Service %s/%s has no port named https, no port 443 and more than one port; the registrar cannot tell which one is the API server",
			svc.Namespace, svc.Name)
	}
	host := svc.Name + "." + svc.Namespace + ".svc"
	if port == 443 {
		return "https://" + host, nil
	}
	return "https://" + host + ":" + strconv.Itoa(int(port)), nil
}

// apiPort picks the API server port: vcluster's chart names it "https" and
// gives it number 443 (chart/templates/service.yaml).
func apiPort(svc *corev1.Service) (int32, bool) {
	ports := svc.Spec.Ports
	for _, p := range ports {
		if p.Name == "https" {
			return p.Port, true
		}
	}
	for _, p := range ports {
		if p.Port == 443 {
			return p.Port, true
		}
	}
	if len(ports) == 1 {
		return ports[0].Port, true
	}
	return 0, false
}

func renderClusterName(w client.Object, tmpl *template.Template) (string, error) {
	if v, ok := w.GetAnnotations()[ClusterNameAnnotation]; ok {
		if strings.TrimSpace(v) == "" {
			return "", inputErrorf(ReasonBadAnnotation,
				"annotation %s on %s/%s is empty; set a cluster name or remove it", ClusterNameAnnotation, w.GetNamespace(), w.GetName())
		}
		return v, nil
	}
	if tmpl == nil {
		tmpl = template.Must(template.New("name").Parse(DefaultClusterNameTemplate))
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, NameData{Namespace: w.GetNamespace(), Name: w.GetName()}); err != nil {
		return "", fmt.Errorf("rendering cluster name template: %w", err)
	}
	if strings.TrimSpace(b.String()) == "" {
		return "", fmt.Errorf("cluster name template renders an empty name for %s/%s", w.GetNamespace(), w.GetName())
	}
	return b.String(), nil
}

// namespaceList normalises "a, b" to "a,b", the form Argo CD splits on commas.
func namespaceList(v string) (string, error) {
	var out []string
	for _, n := range strings.Split(v, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if errs := validation.IsDNS1123Label(n); len(errs) > 0 {
			return "", fmt.Errorf("%q is not a namespace name", n)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return "", fmt.Errorf("empty list")
	}
	return strings.Join(out, ","), nil
}

// SecretName is the name of the Argo CD cluster Secret of vcluster ns/name.
// The readable part may be cut short or repeat across namespaces ("a-b"/"c"
// and "a"/"b-c"), so a hash of the exact namespace and name keeps it unique.
func SecretName(ns, name string) string {
	sum := sha256.Sum256([]byte(ns + "/" + name))
	readable := strings.ReplaceAll("vcluster-"+ns+"-"+name, ".", "-")
	if len(readable) > 200 {
		readable = readable[:200]
	}
	return readable + "-" + hex.EncodeToString(sum[:])[:8]
}

// kubeconfigSecretName is the name of a vcluster's kubeconfig Secret in its
// namespace: the annotation's value if set, else vcluster's default.
func kubeconfigSecretName(w client.Object) string {
	if v := w.GetAnnotations()[KubeconfigSecretAnnotation]; v != "" {
		return v
	}
	return KubeconfigSecretPrefix + w.GetName()
}

// contentHash digests the labels, annotations and data the registrar owns,
// in a stable order.
func contentHash(s *corev1.Secret) string {
	h := sha256.New()
	write := func(section string, keys []string, value func(string) []byte) {
		slices.Sort(keys)
		fmt.Fprintf(h, "%s:%d\n", section, len(keys))
		for _, k := range keys {
			v := value(k)
			fmt.Fprintf(h, "%d:%s=%d:", len(k), k, len(v))
			h.Write(v)
		}
	}
	var lk, ak, dk []string
	for k := range s.Labels {
		lk = append(lk, k)
	}
	for k := range s.Annotations {
		if k != ContentHashAnnotation {
			ak = append(ak, k)
		}
	}
	for k := range s.Data {
		dk = append(dk, k)
	}
	write("labels", lk, func(k string) []byte { return []byte(s.Labels[k]) })
	write("annotations", ak, func(k string) []byte { return []byte(s.Annotations[k]) })
	write("data", dk, func(k string) []byte { return s.Data[k] })
	return hex.EncodeToString(h.Sum(nil))[:16]
}
