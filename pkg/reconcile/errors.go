package reconcile

import "github.com/registrar-dev/registrar/pkg/api"

// errorReasons are the values of the error metric's reason label, each
// exported from the start at 0 so that an alert on its rate sees the first
// refusal.
var errorReasons = []string{
	api.ReasonKubeconfigSecretMissing, api.ReasonBadKubeconfig, api.ReasonUnsupportedKubeconfig,
	api.ReasonMissingCredentials, api.ReasonBadCertificate, api.ReasonServiceMissing,
	api.ReasonNoServicePort, api.ReasonBadAnnotation, api.ReasonBadName, api.ReasonConflict,
}
