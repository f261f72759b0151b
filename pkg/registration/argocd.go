package registration

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
)

// Argo CD's declarative cluster Secret: the label that makes Argo CD read a
// Secret as a cluster (common.LabelKeySecretType and common.LabelValueSecretTypeCluster
// in argo-cd's common/common.go) and the data keys its util/db/cluster.go
// parses.
const (
	ArgoCDSecretTypeLabel  = "argocd.argoproj.io/secret-type"
	ArgoCDSecretTypeValue  = "cluster"
	ArgoCDNameKey          = "name"
	ArgoCDServerKey        = "server"
	ArgoCDConfigKey        = "config"
	ArgoCDProjectKey       = "project"
	ArgoCDNamespacesKey    = "namespaces"
	ArgoCDClusterResources = "clusterResources"
	// ArgoCDShardKey assigns the cluster to one application controller
	// shard: clusterToSecret and SecretToCluster in argo-cd's
	// util/db/cluster.go write and read data key "shard" as a decimal
	// integer (strconv.Itoa / strconv.Atoi).
	ArgoCDShardKey = "shard"
)

// Argo CD's tracking label and annotation, by which it tells that a
// resource belongs to an Application (common.LabelKeyAppInstance and
// common.AnnotationKeyAppInstance in argo-cd's common/common.go; the label
// key is argocd-cm's application.instanceLabelKey, this by default). A
// cluster Secret carrying either, copied from a vcluster that an
// Application installed, would count as part of that Application and be
// pruned by it, so neither is ever propagated.
const (
	ArgoCDTrackingLabel      = "app.kubernetes.io/instance"
	ArgoCDTrackingAnnotation = "argocd.argoproj.io/tracking-id"
)

// Argo CD's implicit entry for its own cluster, which exists without a
// Secret (KubernetesInternalAPIServerAddr and KubernetesInClusterName in
// argo-cd's pkg/apis/application/v1alpha1/application_defaults.go). No
// registration may take either: Applications aimed at Argo CD's own cluster
// would deploy into a vcluster instead.
const (
	InClusterServer = "https://kubernetes.default.svc"
	InClusterName   = "in-cluster"
)

// The objects of the ServiceAccount identity inside a vcluster: the names
// `argocd cluster add` uses (ArgoCDManagerServiceAccount,
// ArgoCDManagerClusterRole, ArgoCDManagerClusterRoleBinding in argo-cd's
// util/clusterauth/clusterauth.go, v3.5.7), so that Argo CD's documentation
// applies. In a namespace-scoped identity the Role and RoleBinding in each
// namespace carry the same names, as there.
const (
	ManagerServiceAccount = "argocd-manager"
	ManagerNamespace      = "kube-system"
	ManagerRole           = "argocd-manager-role"
	ManagerRoleBinding    = "argocd-manager-role-binding"
)

// ClusterConfig is the subset of Argo CD's ClusterConfig
// (pkg/apis/application/v1alpha1/types.go in argo-cd) the registrar writes,
// with the same JSON names. It is declared here rather than imported because
// importing Argo CD's API types grows the binary by some 80 MB; the tests
// parse every Secret built here with Argo CD's own util/db code instead.
type ClusterConfig struct {
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

// ConfigOf reads the config of an Argo CD cluster Secret.
func ConfigOf(s *corev1.Secret) (ClusterConfig, error) {
	var c ClusterConfig
	err := json.Unmarshal(s.Data[ArgoCDConfigKey], &c)
	return c, err
}
