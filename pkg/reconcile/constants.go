// Package reconcile registers vclusters of a host cluster in Argo CD.
//
// From each vcluster's workload (a StatefulSet, or a Deployment when the
// vcluster has no persistence), its Service and its kubeconfig Secret, it
// builds an Argo CD declarative cluster Secret whose server is the vcluster's
// private service DNS name, applies it, and removes it once the vcluster is
// definitely gone.
package reconcile

// Labels and annotations of the vcluster objects, as the vcluster chart
// writes them (chart/templates/statefulset.yaml and service.yaml in
// github.com/loft-sh/vcluster).
const (
	// VClusterAppLabel is "app"; its value on a vcluster's workload, Service
	// and (from v0.24, KubeConfigSecretLabelAppKey in
	// pkg/util/kubeconfig/kubeconfig.go) kubeconfig Secret is VClusterAppValue.
	// A separate etcd StatefulSet carries app=vcluster-etcd
	// (chart/templates/etcd-statefulset.yaml).
	VClusterAppLabel = "app"
	VClusterAppValue = "vcluster"
	// VClusterReleaseLabel carries the release name, which is also the name of
	// the workload and of its Service. A separate etcd StatefulSet
	// ("<release>-etcd") carries another name, so it is never taken for a
	// vcluster.
	VClusterReleaseLabel = "release"
	// KubeconfigSecretPrefix is DefaultSecretPrefix in vcluster's
	// pkg/util/kubeconfig/kubeconfig.go: the kubeconfig Secret is "vc-<name>".
	KubeconfigSecretPrefix = "vc-"
)

// Data keys of vcluster's kubeconfig Secret (KubeconfigSecretKey,
// CADataSecretKey, CertificateSecretKey, CertificateKeySecretKey and, from
// v0.21, TokenSecretKey in pkg/util/kubeconfig/kubeconfig.go).
const (
	KubeconfigKey           = "config"
	CertificateAuthorityKey = "certificate-authority"
	ClientCertificateKey    = "client-certificate"
	ClientKeyKey            = "client-key"
	TokenKey                = "token"
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

// Prefix is the domain of every label and annotation the registrar reads or writes.
const Prefix = "registrar.dev/"

// Labels the registrar writes on the Argo CD cluster Secrets it owns. Only a
// Secret carrying ManagedByLabel=ManagedByValue is ever updated or deleted.
// The source labels let ApplicationSet cluster generators and the prune find
// a registration's vcluster.
const (
	ManagedByLabel       = "app.kubernetes.io/managed-by"
	ManagedByValue       = "registrar"
	SourceNamespaceLabel = Prefix + "source-namespace"
	SourceNameLabel      = Prefix + "source-name"
)

// Annotations the registrar writes on the Argo CD cluster Secrets it owns.
const (
	SourceKindAnnotation = Prefix + "source-kind"
	SourceUIDAnnotation  = Prefix + "source-uid"
	// ContentHashAnnotation is a hash of everything the registrar writes, so
	// that a reconcile with nothing new writes nothing.
	ContentHashAnnotation = Prefix + "content-hash"
	// CredentialsNotAfterAnnotation is when the registration's credentials
	// stop working (RFC 3339): the earliest NotAfter of its client
	// certificate and CA, or its bearer token's expiry. Absent when that is
	// unknown.
	CredentialsNotAfterAnnotation = Prefix + "credentials-not-after"
)

// Annotations the connection probe writes on the Argo CD cluster Secrets
// the registrar owns, under their own field owner, only when they change.
const (
	// ConnectionStateAnnotation is one of the Connection* states below.
	ConnectionStateAnnotation = Prefix + "connection-state"
	// ConnectionMessageAnnotation says in one line what the last probe saw.
	ConnectionMessageAnnotation = Prefix + "connection-message"
	// ConnectionSinceAnnotation is when the connection state last changed
	// (RFC 3339): how long a registration has failed, or been fine.
	ConnectionSinceAnnotation = Prefix + "connection-since"
	ConnectionSuccessful      = "Successful"
	ConnectionFailed          = "Failed"
	// ConnectionPending: a vcluster just registered, ready or resumed has
	// not answered yet, within the probe's grace period; no Warning.
	ConnectionPending = "Pending"
	// ConnectionPaused: the vcluster is paused (pausedBy); it is not probed.
	ConnectionPaused = "Paused"
)

// Annotations a user sets on a vcluster's workload. IgnoreAnnotation, and
// the keys listed in namespaceDefaults (defaults.go), may also be set on
// the vcluster's Namespace.
const (
	// IgnoreAnnotation="true" opts a vcluster, or every vcluster of a
	// namespace, out of registration; an existing registration is removed.
	IgnoreAnnotation = Prefix + "ignore"
	// KubeconfigSecretAnnotation names the kubeconfig Secret, in the
	// workload's namespace, when vcluster exports it under another name
	// (exportKubeConfig.secret in vcluster.yaml).
	KubeconfigSecretAnnotation = Prefix + "kubeconfig-secret"
	// ClusterNameAnnotation sets the Argo CD cluster name literally.
	ClusterNameAnnotation = Prefix + "cluster-name"
	// TLSServerNameAnnotation overrides the TLS server name checked against
	// the vcluster's serving certificate (default "<service>.<namespace>").
	TLSServerNameAnnotation = Prefix + "tls-server-name"
	// ProjectAnnotation, NamespacesAnnotation and ClusterResourcesAnnotation
	// set the Argo CD keys of the same meaning.
	ProjectAnnotation          = Prefix + "project"
	NamespacesAnnotation       = Prefix + "namespaces"
	ClusterResourcesAnnotation = Prefix + "cluster-resources"
	// ShardAnnotation sets Argo CD's "shard" key: a non-negative integer,
	// the application controller shard that manages the cluster.
	ShardAnnotation = Prefix + "shard"
	// ArgoCDNamespaceAnnotation names the namespace of the Argo CD instance
	// the vcluster is registered in; it must be one of
	// Options.ArgoCDNamespaces (--argocd-namespace).
	ArgoCDNamespaceAnnotation = Prefix + "argocd-namespace"
)

// FieldOwner is the server-side apply field manager of every write.
const FieldOwner = "registrar"

// ProbeFieldOwner is the field manager of the connection annotations, kept
// apart so that the registration's own apply neither removes nor owns them.
const ProbeFieldOwner = "registrar-probe"

// Event reasons, on the vcluster's workload.
const (
	ReasonRegistered   = "Registered"
	ReasonUpdated      = "Updated"
	ReasonDeregistered = "Deregistered"
	ReasonConflict     = "RegistrationConflict"
	ReasonUntrusted    = "UntrustedNamespace"
	// ReasonConnectionFailed, ReasonConnected and ReasonPaused report a
	// change of the connection probe's result; ReasonCredentialsExpiring
	// and ReasonCredentialsExpired a change of the credentials' expiry
	// state.
	ReasonConnectionFailed    = "ConnectionFailed"
	ReasonConnected           = "Connected"
	ReasonPaused              = "Paused"
	ReasonCredentialsExpiring = "CredentialsExpiring"
	ReasonCredentialsExpired  = "CredentialsExpired"
)

// Identity: what Argo CD authenticates to a vcluster as. IdentityAdmin
// hands Argo CD the admin credentials of the kubeconfig Secret;
// IdentityServiceAccount a token of a ServiceAccount the registrar keeps
// inside the vcluster, as `argocd cluster add` does.
const (
	IdentityAdmin          = "admin"
	IdentityServiceAccount = "serviceaccount"
)

// Annotations a user sets on a vcluster's workload (or, for
// IdentityAnnotation and IdentityClusterRoleAnnotation, its Namespace) to
// choose the identity Argo CD gets.
const (
	// IdentityAnnotation is IdentityAdmin or IdentityServiceAccount; it
	// overrides --identity for the vcluster.
	IdentityAnnotation = Prefix + "identity"
	// IdentityClusterRoleAnnotation names an existing ClusterRole of the
	// vcluster to bind the ServiceAccount to, instead of the one the
	// registrar creates.
	IdentityClusterRoleAnnotation = Prefix + "identity-cluster-role"
	// RotateTokenAnnotation: any change of its value has the registrar
	// issue a new token at once.
	RotateTokenAnnotation = Prefix + "rotate-token"
)

// Annotations the registrar writes on a registration that carries a
// ServiceAccount token, so that renewal survives restarts. The token's
// expiry itself is CredentialsNotAfterAnnotation.
const (
	// TokenRenewAfterAnnotation is when the token is renewed (RFC 3339):
	// two thirds into its lifetime, less a jitter that spreads a fleet's
	// renewals.
	TokenRenewAfterAnnotation = Prefix + "token-renew-after"
	// TokenRotationAnnotation is the value RotateTokenAnnotation had when
	// the token was issued.
	TokenRotationAnnotation = Prefix + "token-rotation"
	// IdentityScopeAnnotation says what the token's ServiceAccount is
	// bound to inside the vcluster ("cluster:<role>" or
	// "namespaces:<role>:<ns>,<ns>"), so that a change is applied inside
	// without waiting for the next renewal.
	IdentityScopeAnnotation = Prefix + "identity-scope"
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

// Event reasons of the ServiceAccount identity.
const (
	// ReasonIdentityFailed: the identity could not be set up, renewed or
	// revoked; nothing with admin credentials was written instead.
	ReasonIdentityFailed = "IdentityFailed"
	// ReasonIdentityRevoked: the ServiceAccount and what the registrar
	// bound to it were deleted inside the vcluster.
	ReasonIdentityRevoked = "IdentityRevoked"
)
