package oidcauth

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error oidcauth hands to an [ErrorHandler] or returns
// from a constructor wraps one of them, so errors.Is tells the kind of failure.
var (
	// ErrInvalidOption is wrapped by New when an option is missing or wrong;
	// the message names the option.
	ErrInvalidOption = errors.New("oidcauth: invalid option")
	// ErrDiscovery is wrapped by New when the provider's discovery document
	// or key set cannot be fetched or is unusable.
	ErrDiscovery = errors.New("oidcauth: provider discovery failed")
	// ErrStateMismatch means the callback's state is missing, unknown,
	// expired, already used, or not bound to this browser.
	ErrStateMismatch = errors.New("oidcauth: state mismatch")
	// ErrProvider means the provider answered the authorization request with
	// an error (access_denied, login_required, ...).
	ErrProvider = errors.New("oidcauth: provider returned an error")
	// ErrIssuerMismatch means the callback's iss parameter is missing or names
	// another issuer (RFC 9207, mix-up defense).
	ErrIssuerMismatch = errors.New("oidcauth: issuer mismatch")
	// ErrExchange means the token endpoint refused the code or could not be
	// reached.
	ErrExchange = errors.New("oidcauth: code exchange failed")
	// ErrIDToken means the id_token is missing or failed verification.
	ErrIDToken = errors.New("oidcauth: id_token invalid")
	// ErrNotLoggedIn means the request has no logged-in session.
	ErrNotLoggedIn = errors.New("oidcauth: not logged in")
	// ErrSession means the session store failed; oidcauth fails closed.
	ErrSession = errors.New("oidcauth: session store failed")
	// ErrBadRequest means the request itself is malformed (repeated or
	// oversized parameters, wrong method).
	ErrBadRequest = errors.New("oidcauth: bad request")
)

// Error is the error oidcauth passes to an [ErrorHandler] for a failed request.
// Code and Description are safe to show to the user; Err is the cause, for
// logs only.
type Error struct {
	// Kind is one of the sentinel errors above.
	Kind error
	// Code is a short machine-readable code, such as "state_mismatch" or the
	// provider's own error code.
	Code string
	// Description is a sentence for the user. It never contains a token,
	// a code, a secret or unescaped input.
	Description string
	// Err is the underlying cause, or nil.
	Err error
}

// Error returns the kind, the code and the cause.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%v (%s): %v", e.Kind, e.Code, e.Err)
	}
	return fmt.Sprintf("%v (%s)", e.Kind, e.Code)
}

// Unwrap lets errors.Is and errors.As see both the kind and the cause.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

func newError(kind error, code, description string, cause error) *Error {
	return &Error{Kind: kind, Code: code, Description: description, Err: cause}
}

func optionError(option, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidOption, option, fmt.Sprintf(format, args...))
}
