// Package identity is the registrar's identity inside a vcluster: with the
// admin credentials of its kubeconfig Secret, it keeps ServiceAccount
// kube-system/argocd-manager and its role and bindings there, as `argocd
// cluster add` would, issues its tokens (TokenRequest) and revokes it. It
// knows nothing of the reconciler, which decides when.
package identity

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/connection"
	"github.com/registrar-dev/registrar/pkg/registration"
)

// Client is a client of one vcluster's API server, made with the admin
// credentials of its kubeconfig Secret, for the objects of the
// ServiceAccount identity.
type Client struct {
	c  client.Client
	hc *http.Client
}

// Connect connects to the vcluster as conn says. Close releases its
// connections. Its REST mapping is fixed, so that it asks the vcluster for
// no API discovery.
func Connect(conn registration.Connection, dial connection.DialFunc, timeout time.Duration) (*Client, error) {
	cfg := connection.RestConfig(conn, dial, timeout)
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("building a client for the vcluster: %w", err)
	}
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(corev1.SchemeGroupVersion.WithKind("ServiceAccount"), meta.RESTScopeNamespace)
	mapper.Add(corev1.SchemeGroupVersion.WithKind("Namespace"), meta.RESTScopeRoot)
	for _, k := range []string{"ClusterRole", "ClusterRoleBinding"} {
		mapper.Add(rbacv1.SchemeGroupVersion.WithKind(k), meta.RESTScopeRoot)
	}
	for _, k := range []string{"Role", "RoleBinding"} {
		mapper.Add(rbacv1.SchemeGroupVersion.WithKind(k), meta.RESTScopeNamespace)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme.Scheme, Mapper: mapper, HTTPClient: hc})
	if err != nil {
		return nil, fmt.Errorf("building a client for the vcluster: %w", err)
	}
	return &Client{c: c, hc: hc}, nil
}

func (in *Client) Close() { in.hc.CloseIdleConnections() }

// foreignError says that an object of a name the registrar uses exists in
// the vcluster without its label: it is not taken over.
type foreignError struct{ what string }

func (e *foreignError) Error() string {
	return fmt.Sprintf("%s exists in the vcluster and does not carry label %s=%s, so the registrar did not create it and leaves it alone; delete it inside the vcluster (or choose the admin identity) to let the registrar set up Argo CD's ServiceAccount",
		e.what, api.ManagedByLabel, api.ManagedByValue)
}

func IsForeign(err error) bool {
	var f *foreignError
	return errors.As(err, &f)
}

// describe names an object of the identity in messages.
func describe(obj client.Object) string {
	kind := fmt.Sprintf("%T", obj)
	switch obj.(type) {
	case *corev1.ServiceAccount:
		kind = "ServiceAccount"
	case *rbacv1.ClusterRole:
		kind = "ClusterRole"
	case *rbacv1.ClusterRoleBinding:
		kind = "ClusterRoleBinding"
	case *rbacv1.Role:
		kind = "Role"
	case *rbacv1.RoleBinding:
		kind = "RoleBinding"
	}
	if ns := obj.GetNamespace(); ns != "" {
		return kind + " " + ns + "/" + obj.GetName()
	}
	return kind + " " + obj.GetName()
}

func ours(obj client.Object) bool { return obj.GetLabels()[api.ManagedByLabel] == api.ManagedByValue }

// ensure makes the object desired exist as it says: created when missing,
// updated when one of ours differs (same says whether it does), replaced
// when immutable fields differ (replace says whether they do). An object
// of that name that is not ours is a foreignError. created is true when
// the object was created.
func ensure[T client.Object](ctx context.Context, c client.Client, desired, existing T, same, replace func(have, want T) bool) (created bool, err error) {
	what := describe(desired)
	err = c.Get(ctx, client.ObjectKeyFromObject(desired), existing)
	switch {
	case apierrors.IsNotFound(err):
		if err := c.Create(ctx, desired, client.FieldOwner(api.FieldOwner)); err != nil {
			return false, fmt.Errorf("creating %s in the vcluster: %w", what, err)
		}
		return true, nil
	case err != nil:
		return false, fmt.Errorf("reading %s in the vcluster: %w", what, err)
	case !ours(existing):
		return false, &foreignError{what: what}
	case same(existing, desired):
		return false, nil
	case replace != nil && replace(existing, desired):
		if err := c.Delete(ctx, existing, client.Preconditions{UID: ptr.To(existing.GetUID())}); err != nil && !apierrors.IsNotFound(err) {
			return false, fmt.Errorf("replacing %s in the vcluster: %w", what, err)
		}
		if err := c.Create(ctx, desired, client.FieldOwner(api.FieldOwner)); err != nil {
			return false, fmt.Errorf("replacing %s in the vcluster: %w", what, err)
		}
		return true, nil
	}
	desired.SetResourceVersion(existing.GetResourceVersion())
	if err := c.Update(ctx, desired, client.FieldOwner(api.FieldOwner)); err != nil {
		return false, fmt.Errorf("restoring %s in the vcluster: %w", what, err)
	}
	return false, nil
}

// remove deletes obj (its name and namespace set) if it is one of ours,
// conditional on the UID read, so that an object re-created meanwhile by
// someone else survives. removed is false when it was not there or not
// ours.
func remove(ctx context.Context, c client.Client, obj client.Object) (removed bool, err error) {
	what := describe(obj)
	if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); apierrors.IsNotFound(err) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("reading %s in the vcluster: %w", what, err)
	}
	if !ours(obj) {
		return false, nil
	}
	err = c.Delete(ctx, obj, client.Preconditions{UID: ptr.To(obj.GetUID())})
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("deleting %s in the vcluster: %w", what, err)
	}
	return true, nil
}

// IssueToken asks the TokenRequest API for a token of the registrar's
// ServiceAccount that expires after ttl. No audience is named, so the token
// is for the vcluster's API server itself, whatever its issuer.
func (in *Client) IssueToken(ctx context.Context, ttl time.Duration) (token string, expires time.Time, err error) {
	sa := &corev1.ServiceAccount{}
	sa.Namespace, sa.Name = registration.ManagerNamespace, registration.ManagerServiceAccount
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: ptr.To(int64(ttl / time.Second)),
	}}
	if err := in.c.SubResource("token").Create(ctx, sa, tr); err != nil {
		return "", time.Time{}, fmt.Errorf("requesting a token for ServiceAccount %s/%s in the vcluster: %w", sa.Namespace, sa.Name, err)
	}
	if tr.Status.Token == "" {
		return "", time.Time{}, fmt.Errorf("the vcluster answered the token request for ServiceAccount %s/%s without a token", sa.Namespace, sa.Name)
	}
	return tr.Status.Token, tr.Status.ExpirationTimestamp.Time, nil
}

// sameRules compares roles by their rules.
func sameRules[T interface {
	client.Object
	*rbacv1.ClusterRole | *rbacv1.Role
}](have, want T) bool {
	return equality.Semantic.DeepEqual(rulesOf(have), rulesOf(want))
}

func rulesOf(obj client.Object) []rbacv1.PolicyRule {
	switch o := obj.(type) {
	case *rbacv1.ClusterRole:
		return o.Rules
	case *rbacv1.Role:
		return o.Rules
	}
	return nil
}
