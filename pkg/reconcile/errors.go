package reconcile

import (
	"errors"
	"fmt"
)

// Reasons a vcluster cannot be registered as it is. Each is the reason of the
// Warning event on the workload and a value of the error metric's label.
const (
	ReasonKubeconfigSecretMissing = "KubeconfigSecretMissing"
	ReasonBadKubeconfig           = "InvalidKubeconfig"
	ReasonUnsupportedKubeconfig   = "UnsupportedKubeconfig"
	ReasonMissingCredentials      = "MissingCredentials"
	ReasonBadCertificate          = "InvalidCertificate"
	ReasonServiceMissing          = "ServiceMissing"
	ReasonNoServicePort           = "NoServicePort"
	ReasonBadAnnotation           = "InvalidAnnotation"
	ReasonBadName                 = "InvalidName"
)

// errorReasons are the values of the error metric's reason label, each
// exported from the start at 0 so that an alert on its rate sees the first
// refusal.
var errorReasons = []string{
	ReasonKubeconfigSecretMissing, ReasonBadKubeconfig, ReasonUnsupportedKubeconfig,
	ReasonMissingCredentials, ReasonBadCertificate, ReasonServiceMissing,
	ReasonNoServicePort, ReasonBadAnnotation, ReasonBadName, ReasonConflict,
}

// inputError says that a vcluster's objects are not fit to register: user
// input is wrong or missing, and retrying will not help until it changes. The
// message says what is wrong and what to do, and never holds secret content.
type inputError struct {
	Reason  string
	Message string
}

func (e *inputError) Error() string { return e.Message }

func inputErrorf(reason, format string, args ...any) error {
	return &inputError{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// asInputError returns the InputError in err's chain, if any.
func asInputError(err error) (*inputError, bool) {
	var ie *inputError
	ok := errors.As(err, &ie)
	return ie, ok
}
