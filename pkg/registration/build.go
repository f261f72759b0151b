// Package registration is the Argo CD side of a vcluster: the format of
// Argo CD's declarative cluster Secret, and the pure Build that computes a
// vcluster's registration from its host-cluster objects, with its name,
// content hash, target Argo CD namespace, identity and credentials' expiry.
// It holds no client: everything it decides, it decides from what it is
// given, so the compiler keeps it pure.
package registration

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
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/vcluster"
)

// Sources are the host-cluster objects of one vcluster.
type Sources struct {
	// Workload is the vcluster's StatefulSet or Deployment; only its
	// metadata is read.
	Workload metav1.Object
	// Kind is "StatefulSet" or "Deployment".
	Kind string
	// Namespace is the vcluster's Namespace: its annotations are defaults
	// for the workload's (namespaceDefaults), its labels may be propagated.
	// nil reads as a Namespace without either.
	Namespace        *corev1.Namespace
	Service          *corev1.Service
	KubeconfigSecret *corev1.Secret
	// Token is the ServiceAccount token the identity step obtained inside
	// the vcluster; with api.IdentityServiceAccount the registration carries it
	// instead of the kubeconfig Secret's credentials, and nil registers
	// nothing.
	Token *ServiceAccountToken
}

// ServiceAccountToken is a token of the registrar's ServiceAccount inside a
// vcluster, and what decides when it is renewed.
type ServiceAccountToken struct {
	Token string
	// RenewAfter is when the token is to be replaced.
	RenewAfter time.Time
	// Rotation is the value of api.RotateTokenAnnotation it was issued for.
	Rotation string
	// Scope is IdentityScope.String() of the bindings it was issued with.
	Scope string
}

// BuildOptions are the registrar-wide settings of a build.
type BuildOptions struct {
	// ArgoCDNamespace is where the Argo CD cluster Secret goes.
	ArgoCDNamespace string
	// ClusterName renders the Argo CD cluster name from a NameData, unless
	// the workload sets api.ClusterNameAnnotation.
	ClusterName *template.Template
	// PropagateLabels lists the workload label keys copied onto the Argo CD
	// cluster Secret, for ApplicationSet cluster generators.
	PropagateLabels []string
	// PropagateNamespaceLabels lists the label keys of the vcluster's
	// Namespace copied onto the Argo CD cluster Secret; a workload label of
	// the same key wins.
	PropagateNamespaceLabels []string
	// PropagateAnnotations lists the workload annotation keys copied onto
	// the Argo CD cluster Secret, which ApplicationSet templates read as
	// metadata.annotations.
	PropagateAnnotations []string
	// Identity is the identity of a vcluster that sets no
	// api.IdentityAnnotation: api.IdentityAdmin when empty.
	Identity string
}

// NameData is what a cluster name template sees.
type NameData struct {
	Namespace string
	Name      string
}

// DefaultClusterNameTemplate names a cluster after its namespace and name,
// which together are unique in the host cluster.
const DefaultClusterNameTemplate = "{{.Namespace}}-{{.Name}}"

// Build computes the Argo CD cluster Secret for a vcluster. It is a pure
// function of its inputs; an *api.InputError says what in them is wrong.
func Build(src Sources, opts BuildOptions) (*corev1.Secret, error) {
	w := src.Workload
	ns, name := w.GetNamespace(), w.GetName()
	if errs := validation.IsValidLabelValue(name); len(errs) > 0 {
		return nil, api.InputErrorf(api.ReasonBadName,
			"%s %s/%s: its name cannot be a label value (%s); rename the vcluster", src.Kind, ns, name, strings.Join(errs, "; "))
	}
	conn, err := ConnectionOf(src)
	if err != nil {
		return nil, err
	}
	server, creds := conn.Server, conn.Creds
	identity, err := IdentityOf(src, opts.Identity)
	if err != nil {
		return nil, err
	}
	if identity == api.IdentityServiceAccount {
		// Never the admin credentials, not even as a fallback: without a
		// token from the identity step there is nothing to register.
		if src.Token == nil || src.Token.Token == "" {
			return nil, fmt.Errorf("%s %s/%s has identity %s but no ServiceAccount token was obtained", src.Kind, ns, name, identity)
		}
		creds = vcluster.Credentials{CAData: creds.CAData, Token: src.Token.Token}
	}
	clusterName, err := renderClusterName(w, opts.ClusterName)
	if err != nil {
		return nil, err
	}

	if server == InClusterServer || clusterName == InClusterName {
		return nil, api.InputErrorf(api.ReasonConflict,
			"%s %s/%s would register as Argo CD's own cluster (server %s, name %q); rename it or set annotation %s",
			src.Kind, ns, name, server, clusterName, api.ClusterNameAnnotation)
	}

	cfg := ClusterConfig{TLSClientConfig: tlsClientConfig{
		ServerName: conn.ServerName,
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
	if s, ok := src.setting(api.ProjectAnnotation); ok {
		if errs := validation.IsDNS1123Subdomain(s.value); len(errs) > 0 {
			return nil, s.invalid("the name of an Argo CD AppProject")
		}
		data[ArgoCDProjectKey] = []byte(s.value)
	}
	if s, ok := src.setting(api.NamespacesAnnotation); ok {
		list, err := namespaceList(s.value)
		if err != nil {
			return nil, s.invalid("a comma-separated list of namespace names")
		}
		data[ArgoCDNamespacesKey] = []byte(list)
	}
	if s, ok := src.setting(api.ClusterResourcesAnnotation); ok {
		b, err := strconv.ParseBool(s.value)
		if err != nil {
			return nil, s.invalid(`"true" or "false"`)
		}
		data[ArgoCDClusterResources] = []byte(strconv.FormatBool(b))
	}
	if s, ok := src.setting(api.ShardAnnotation); ok {
		// Argo CD reads the shard with strconv.Atoi and ignores what does
		// not parse; a negative one matches no controller.
		n, err := strconv.ParseUint(s.value, 10, 31)
		if err != nil {
			return nil, s.invalid("a non-negative integer, the Argo CD application controller shard")
		}
		data[ArgoCDShardKey] = []byte(strconv.FormatUint(n, 10))
	}

	var nsLabels map[string]string
	if src.Namespace != nil {
		nsLabels = src.Namespace.Labels
	}
	labels := map[string]string{}
	propagate(labels, nsLabels, opts.PropagateNamespaceLabels)
	propagate(labels, w.GetLabels(), opts.PropagateLabels) // the workload's own wins
	annotations := map[string]string{}
	propagate(annotations, w.GetAnnotations(), opts.PropagateAnnotations)
	// Our own labels and annotations go last, so no propagated one could
	// override them even if propagate let it through.
	labels[ArgoCDSecretTypeLabel] = ArgoCDSecretTypeValue
	labels[api.ManagedByLabel] = api.ManagedByValue
	labels[api.SourceNamespaceLabel] = ns
	labels[api.SourceNameLabel] = name

	secret := &corev1.Secret{Type: corev1.SecretTypeOpaque, Data: data}
	secret.Namespace = opts.ArgoCDNamespace
	secret.Name = SecretName(ns, name)
	secret.Labels = labels
	annotations[api.SourceKindAnnotation] = src.Kind
	annotations[api.SourceUIDAnnotation] = string(w.GetUID())
	// Which Secret the credentials came from: its deletion, unlike a
	// missing Secret newly named by annotation, deregisters the vcluster.
	annotations[api.KubeconfigSecretAnnotation] = src.KubeconfigSecret.Name
	if notAfter, ok := credentialsNotAfter(creds); ok {
		annotations[api.CredentialsNotAfterAnnotation] = notAfter.UTC().Format(time.RFC3339)
	}
	if identity == api.IdentityServiceAccount {
		annotations[api.IdentityAnnotation] = api.IdentityServiceAccount
		annotations[api.TokenRenewAfterAnnotation] = src.Token.RenewAfter.UTC().Format(time.RFC3339)
		annotations[api.IdentityScopeAnnotation] = src.Token.Scope
		if src.Token.Rotation != "" {
			annotations[api.TokenRotationAnnotation] = src.Token.Rotation
		}
	}
	secret.Annotations = annotations
	secret.Annotations[api.ContentHashAnnotation] = contentHash(secret)
	return secret, nil
}

// propagate copies the entries of from whose keys are listed in keys into
// to, except those never propagated (neverPropagated).
func propagate(to, from map[string]string, keys []string) {
	for _, k := range keys {
		if v, ok := from[k]; ok && !neverPropagated(k) {
			to[k] = v
		}
	}
}

// neverPropagated says whether a label or annotation key is one no
// propagation may copy onto an Argo CD cluster Secret, even if listed:
// the registrar's own keys (which mark and describe what it owns, and
// which later steps may write), Argo CD's cluster-Secret marker, Argo CD's
// tracking label and annotation (an Application that installed the
// vcluster would take the Secret for its own and prune it), and
// last-applied-configuration (GHSA-fwr2-64vr-xv9m).
func neverPropagated(key string) bool {
	switch key {
	case api.ManagedByLabel, ArgoCDSecretTypeLabel, ArgoCDTrackingLabel, ArgoCDTrackingAnnotation, corev1.LastAppliedConfigAnnotation:
		return true
	}
	return strings.HasPrefix(key, api.Prefix)
}

// NeverPropagated returns the keys of keys that no propagation copies,
// so that the command can say it ignores them.
func NeverPropagated(keys []string) []string {
	var out []string
	for _, k := range keys {
		if neverPropagated(k) {
			out = append(out, k)
		}
	}
	return out
}

// serverURL is the vcluster's private service URL. The port is omitted when
// it is 443, so that the same vcluster always has the same URL, which is how
// Argo CD identifies a cluster.
func serverURL(svc *corev1.Service) (string, error) {
	port, ok := apiPort(svc)
	if !ok {
		return "", api.InputErrorf(api.ReasonNoServicePort,
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

func renderClusterName(w metav1.Object, tmpl *template.Template) (string, error) {
	if v, ok := w.GetAnnotations()[api.ClusterNameAnnotation]; ok {
		if strings.TrimSpace(v) == "" {
			return "", api.InputErrorf(api.ReasonBadAnnotation,
				"annotation %s on %s/%s is empty; set a cluster name or remove it", api.ClusterNameAnnotation, w.GetNamespace(), w.GetName())
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
		if k != api.ContentHashAnnotation {
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
