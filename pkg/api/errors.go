package api

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

// InputError says that a vcluster's objects are not fit to register: user
// input is wrong or missing, and retrying will not help until it changes. The
// message says what is wrong and what to do, and never holds secret content.
type InputError struct {
	Reason  string
	Message string
}

func (e *InputError) Error() string { return e.Message }

// InputErrorf returns an InputError of reason with a formatted message.
func InputErrorf(reason, format string, args ...any) error {
	return &InputError{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// AsInputError returns the InputError in err's chain, if any.
func AsInputError(err error) (*InputError, bool) {
	var ie *InputError
	ok := errors.As(err, &ie)
	return ie, ok
}
