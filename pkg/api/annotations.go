// Package api is the registrar's contract with the people and programs
// around it: the registrar.dev/* annotations and labels users set and read,
// the labels of the Argo CD cluster Secrets it owns, the field owners of its
// writes, the Event reasons and connection states it reports, and the typed
// error that says a vcluster's input is wrong. Everything here is read by
// users, dashboards, alerts or the docs; it imports nothing of the project.
package api

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
	// ConnectionPaused: the vcluster is paused (vcluster.PausedBy); it is not probed.
	ConnectionPaused = "Paused"
)

// Annotations a user sets on a vcluster's workload. IgnoreAnnotation, and
// the keys listed in namespaceDefaults (pkg/registration/defaults.go), may also be set on
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
