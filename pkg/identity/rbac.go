package identity

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/registration"
)

// managerClusterRules and managerNamespaceRules are the rules `argocd
// cluster add` grants, cluster-wide and with --namespace
// (ArgoCDManagerClusterPolicyRules and ArgoCDManagerNamespacePolicyRules in
// argo-cd's util/clusterauth/clusterauth.go, v3.5.7). A unit test compares
// them with Argo CD's own.
var (
	managerClusterRules = []rbacv1.PolicyRule{
		{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}},
		{NonResourceURLs: []string{"*"}, Verbs: []string{"*"}},
	}
	managerNamespaceRules = []rbacv1.PolicyRule{
		{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}},
	}
)

// managerSubject is the registrar's ServiceAccount as a binding's subject.
var managerSubject = rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: registration.ManagerServiceAccount, Namespace: registration.ManagerNamespace}

func managed(name, namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{api.ManagedByLabel: api.ManagedByValue}}
}

// desiredRBAC is what the ServiceAccount identity of scope consists of
// inside the vcluster, besides the ServiceAccount: the roles the registrar
// creates and the bindings.
type desiredRBAC struct {
	clusterRole        *rbacv1.ClusterRole        // nil when an existing one is bound
	clusterRoleBinding *rbacv1.ClusterRoleBinding // nil when namespace-scoped
	roles              []*rbacv1.Role
	roleBindings       []*rbacv1.RoleBinding
}

func rbacFor(sc registration.IdentityScope) desiredRBAC {
	var d desiredRBAC
	if len(sc.Namespaces) == 0 {
		if sc.ClusterRole == "" {
			d.clusterRole = &rbacv1.ClusterRole{ObjectMeta: managed(registration.ManagerRole, ""), Rules: managerClusterRules}
		}
		d.clusterRoleBinding = &rbacv1.ClusterRoleBinding{
			ObjectMeta: managed(registration.ManagerRoleBinding, ""),
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: sc.Role()},
			Subjects:   []rbacv1.Subject{managerSubject},
		}
		return d
	}
	for _, ns := range sc.Namespaces {
		ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: sc.ClusterRole}
		if sc.ClusterRole == "" {
			d.roles = append(d.roles, &rbacv1.Role{ObjectMeta: managed(registration.ManagerRole, ns), Rules: managerNamespaceRules})
			ref = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: registration.ManagerRole}
		}
		d.roleBindings = append(d.roleBindings, &rbacv1.RoleBinding{
			ObjectMeta: managed(registration.ManagerRoleBinding, ns), RoleRef: ref, Subjects: []rbacv1.Subject{managerSubject},
		})
	}
	return d
}

// EnsureRBAC brings the ServiceAccount, roles and bindings of scope in line
// inside the vcluster, restoring what was deleted or edited there, and
// removes the roles and bindings of ours that scope no longer wants.
// saCreated says that the ServiceAccount was (re)created: tokens issued
// before are void.
func (in *Client) EnsureRBAC(ctx context.Context, sc registration.IdentityScope) (saCreated bool, err error) {
	c := in.c
	sa := &corev1.ServiceAccount{ObjectMeta: managed(registration.ManagerServiceAccount, registration.ManagerNamespace)}
	if saCreated, err = ensure(ctx, c, sa, &corev1.ServiceAccount{},
		func(_, _ *corev1.ServiceAccount) bool { return true }, nil); err != nil {
		return false, err
	}
	if sc.ClusterRole != "" {
		var cr rbacv1.ClusterRole
		if err := c.Get(ctx, client.ObjectKey{Name: sc.ClusterRole}, &cr); apierrors.IsNotFound(err) {
			return saCreated, fmt.Errorf("ClusterRole %s, named by annotation %s, does not exist in the vcluster; create it there or remove the annotation",
				sc.ClusterRole, api.IdentityClusterRoleAnnotation)
		} else if err != nil {
			return saCreated, fmt.Errorf("reading ClusterRole %s in the vcluster: %w", sc.ClusterRole, err)
		}
	}
	for _, ns := range sc.Namespaces {
		var n corev1.Namespace
		if err := c.Get(ctx, client.ObjectKey{Name: ns}, &n); apierrors.IsNotFound(err) {
			return saCreated, fmt.Errorf("namespace %s, listed in annotation %s, does not exist in the vcluster; create it there or remove it from the list",
				ns, api.NamespacesAnnotation)
		} else if err != nil {
			return saCreated, fmt.Errorf("reading namespace %s in the vcluster: %w", ns, err)
		}
	}
	d := rbacFor(sc)
	if d.clusterRole != nil {
		if _, err := ensure(ctx, c, d.clusterRole, &rbacv1.ClusterRole{}, sameRules, nil); err != nil {
			return saCreated, err
		}
	}
	if d.clusterRoleBinding != nil {
		if _, err := ensure(ctx, c, d.clusterRoleBinding, &rbacv1.ClusterRoleBinding{}, sameClusterBinding, clusterRoleRefChanged); err != nil {
			return saCreated, err
		}
	}
	for _, r := range d.roles {
		if _, err := ensure(ctx, c, r, &rbacv1.Role{}, sameRules, nil); err != nil {
			return saCreated, err
		}
	}
	for _, b := range d.roleBindings {
		if _, err := ensure(ctx, c, b, &rbacv1.RoleBinding{}, sameBinding, roleRefChanged); err != nil {
			return saCreated, err
		}
	}
	_, err = in.prune(ctx, d, sc)
	return saCreated, err
}

// prune removes the roles and bindings of ours that d does not hold (all
// of them when d is empty), bindings first. It returns what it removed.
func (in *Client) prune(ctx context.Context, d desiredRBAC, sc registration.IdentityScope) ([]string, error) {
	c := in.c
	var removed []string
	drop := func(obj client.Object) error {
		ok, err := remove(ctx, c, obj)
		if ok {
			removed = append(removed, describe(obj))
		}
		return err
	}
	if d.clusterRoleBinding == nil {
		if err := drop(&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: registration.ManagerRoleBinding}}); err != nil {
			return removed, err
		}
	}
	var bindings rbacv1.RoleBindingList
	if err := c.List(ctx, &bindings, client.MatchingLabels{api.ManagedByLabel: api.ManagedByValue}); err != nil {
		return removed, fmt.Errorf("listing RoleBindings in the vcluster: %w", err)
	}
	for i := range bindings.Items {
		b := &bindings.Items[i]
		if b.Name == registration.ManagerRoleBinding && !slices.ContainsFunc(d.roleBindings, func(w *rbacv1.RoleBinding) bool { return w.Namespace == b.Namespace }) {
			if err := drop(b); err != nil {
				return removed, err
			}
		}
	}
	if d.clusterRole == nil && sc.ClusterRole != registration.ManagerRole {
		if err := drop(&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: registration.ManagerRole}}); err != nil {
			return removed, err
		}
	}
	var roles rbacv1.RoleList
	if err := c.List(ctx, &roles, client.MatchingLabels{api.ManagedByLabel: api.ManagedByValue}); err != nil {
		return removed, fmt.Errorf("listing Roles in the vcluster: %w", err)
	}
	for i := range roles.Items {
		r := &roles.Items[i]
		if r.Name == registration.ManagerRole && !slices.ContainsFunc(d.roles, func(w *rbacv1.Role) bool { return w.Namespace == r.Namespace }) {
			if err := drop(r); err != nil {
				return removed, err
			}
		}
	}
	return removed, nil
}

// Revoke deletes, inside the vcluster, the bindings and roles of ours and
// then the ServiceAccount, which voids every token issued for it. Objects
// not carrying our label are left alone. It returns what it removed.
func (in *Client) Revoke(ctx context.Context) ([]string, error) {
	removed, err := in.prune(ctx, desiredRBAC{}, registration.IdentityScope{})
	if err != nil {
		return removed, err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: registration.ManagerServiceAccount, Namespace: registration.ManagerNamespace}}
	ok, err := remove(ctx, in.c, sa)
	if ok {
		removed = append(removed, describe(sa))
	}
	return removed, err
}

func sameClusterBinding(have, want *rbacv1.ClusterRoleBinding) bool {
	return have.RoleRef == want.RoleRef && equality.Semantic.DeepEqual(have.Subjects, want.Subjects)
}

func clusterRoleRefChanged(have, want *rbacv1.ClusterRoleBinding) bool {
	return have.RoleRef != want.RoleRef
}

func sameBinding(have, want *rbacv1.RoleBinding) bool {
	return have.RoleRef == want.RoleRef && equality.Semantic.DeepEqual(have.Subjects, want.Subjects)
}

func roleRefChanged(have, want *rbacv1.RoleBinding) bool { return have.RoleRef != want.RoleRef }
