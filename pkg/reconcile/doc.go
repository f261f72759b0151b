// Package reconcile registers vclusters of a host cluster in Argo CD.
//
// From each vcluster's workload (a StatefulSet, or a Deployment when the
// vcluster has no persistence), its Service and its kubeconfig Secret, it
// builds an Argo CD declarative cluster Secret whose server is the vcluster's
// private service DNS name, applies it, and removes it once the vcluster is
// definitely gone.
package reconcile
