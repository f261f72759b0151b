package identity

import (
	"testing"

	"github.com/argoproj/argo-cd/v3/util/clusterauth"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/registration"
)

// The names and rules of the identity inside a vcluster are Argo CD's own,
// so that Argo CD's documentation of `argocd cluster add` applies.
func TestIdentityObjectsAreArgoCDs(t *testing.T) {
	if registration.ManagerServiceAccount != clusterauth.ArgoCDManagerServiceAccount || registration.ManagerRole != clusterauth.ArgoCDManagerClusterRole ||
		registration.ManagerRoleBinding != clusterauth.ArgoCDManagerClusterRoleBinding {
		t.Errorf("names %s, %s, %s differ from Argo CD's", registration.ManagerServiceAccount, registration.ManagerRole, registration.ManagerRoleBinding)
	}
	if !equality.Semantic.DeepEqual(managerClusterRules, clusterauth.ArgoCDManagerClusterPolicyRules) {
		t.Errorf("cluster rules %v, Argo CD grants %v", managerClusterRules, clusterauth.ArgoCDManagerClusterPolicyRules)
	}
	if !equality.Semantic.DeepEqual(managerNamespaceRules, clusterauth.ArgoCDManagerNamespacePolicyRules) {
		t.Errorf("namespace rules %v, Argo CD grants %v", managerNamespaceRules, clusterauth.ArgoCDManagerNamespacePolicyRules)
	}
}

func TestRBACForScope(t *testing.T) {
	d := rbacFor(registration.IdentityScope{})
	if d.clusterRole == nil || d.clusterRoleBinding == nil || d.clusterRoleBinding.RoleRef.Name != registration.ManagerRole || len(d.roles)+len(d.roleBindings) != 0 {
		t.Errorf("cluster-wide: %+v", d)
	}
	d = rbacFor(registration.IdentityScope{ClusterRole: "view"})
	if d.clusterRole != nil || d.clusterRoleBinding.RoleRef != (rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"}) {
		t.Errorf("existing ClusterRole: %+v", d)
	}
	d = rbacFor(registration.IdentityScope{Namespaces: []string{"a", "b"}})
	if d.clusterRole != nil || d.clusterRoleBinding != nil || len(d.roles) != 2 || len(d.roleBindings) != 2 ||
		d.roles[1].Namespace != "b" || d.roleBindings[0].RoleRef.Kind != "Role" || d.roleBindings[0].Subjects[0] != managerSubject {
		t.Errorf("namespaced: %+v", d)
	}
	d = rbacFor(registration.IdentityScope{ClusterRole: "edit", Namespaces: []string{"a"}})
	if len(d.roles) != 0 || d.roleBindings[0].RoleRef.Kind != "ClusterRole" || d.roleBindings[0].RoleRef.Name != "edit" {
		t.Errorf("namespaced, existing ClusterRole: %+v", d)
	}
	for _, obj := range []metav1.Object{d.roleBindings[0], rbacFor(registration.IdentityScope{}).clusterRole} {
		if obj.GetLabels()[api.ManagedByLabel] != api.ManagedByValue {
			t.Errorf("%s carries no managed-by label", obj.GetName())
		}
	}
}
