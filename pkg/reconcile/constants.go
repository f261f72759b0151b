// Package reconcile registers vclusters of a host cluster in Argo CD.
//
// From each vcluster's workload (a StatefulSet, or a Deployment when the
// vcluster has no persistence), its Service and its kubeconfig Secret, it
// builds an Argo CD declarative cluster Secret whose server is the vcluster's
// private service DNS name, applies it, and removes it once the vcluster is
// definitely gone.
package reconcile

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
