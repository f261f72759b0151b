package api

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

// Event reasons of the ServiceAccount identity.
const (
	// ReasonIdentityFailed: the identity could not be set up, renewed or
	// revoked; nothing with admin credentials was written instead.
	ReasonIdentityFailed = "IdentityFailed"
	// ReasonIdentityRevoked: the ServiceAccount and what the registrar
	// bound to it were deleted inside the vcluster.
	ReasonIdentityRevoked = "IdentityRevoked"
)
