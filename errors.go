package oidcauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
)

// Sentinel errors. Every error oidcauth hands to an [ErrorHandler] or returns
// from a constructor or accessor wraps one of them, so errors.Is tells the
// kind of failure.
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
	// ErrNotLoggedIn means the request has no logged-in session, or its
	// login has ended (the provider refused the refresh token, or there is
	// none to refresh with).
	ErrNotLoggedIn = errors.New("oidcauth: not logged in")
	// ErrSession means the session store failed; oidcauth fails closed.
	ErrSession = errors.New("oidcauth: session store failed")
	// ErrBadRequest means the request itself is malformed (repeated or
	// oversized parameters, wrong method, a cross-origin logout).
	ErrBadRequest = errors.New("oidcauth: bad request")
	// ErrRefresh means the access token needed a refresh and the provider
	// could not be reached, did not answer within the timeout, or answered
	// with an error other than invalid_grant. The login stays; a later
	// request may succeed. The expired token is never returned instead.
	ErrRefresh = errors.New("oidcauth: token refresh failed")
	// ErrUserInfo means the userinfo endpoint is missing, failed, or answered
	// something unusable, such as claims about another subject.
	ErrUserInfo = errors.New("oidcauth: userinfo request failed")
	// ErrPushedAuthorization means a login could not be started because the
	// pushed authorization request (RFC 9126) failed: the provider could not
	// be reached or answered an error or something unusable.
	ErrPushedAuthorization = errors.New("oidcauth: pushed authorization request failed")
	// ErrInsufficientAuthentication means the user's authentication is not
	// what a route, the application or a resource server asks for: the
	// wrong acr, or an auth_time too old or missing (policy.go,
	// stepup.go). A login that comes back without it is refused with 403;
	// an API request of a session without it gets 401 (RFC 9470).
	ErrInsufficientAuthentication = errors.New("oidcauth: insufficient user authentication")
	// ErrForbidden means a logged-in user is refused by a policy: a claim
	// check (RequireClaim, RequireCheck) or the login hook (WithLoginHook).
	ErrForbidden = errors.New("oidcauth: access denied")
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
	// API reports that the failed request is an API request (see
	// [Auth.IsAPIRequest]: not GET or HEAD, under an API prefix, JSON
	// only, fetch or XHR), which wants JSON rather than a page. oidcauth
	// sets it before it calls the [ErrorHandler], so a handler given with
	// WithErrorHandler can render its own pages and leave APIs to
	// [DefaultErrorHandler] without a reference to the Auth.
	API bool
	// LoginURL, set on an insufficient_user_authentication error of an API
	// request, is a same-origin URL that starts the login that meets it
	// ([Auth.HandleError]); [DefaultErrorHandler] writes it as login_url.
	LoginURL string

	// status overrides the status of Kind (see statusOf); 0 keeps it.
	status int
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

// withStatus sets the HTTP status of e, for the few errors whose status is
// not their kind's.
func (e *Error) withStatus(status int) *Error {
	e.status = status
	return e
}

// withDescription sets the sentence the user sees.
func (e *Error) withDescription(d string) *Error {
	e.Description = d
	return e
}

// The errors written in many places.

func sessionError(description string, cause error) *Error {
	return newError(ErrSession, "session_unavailable", description, cause)
}

func loginRequired(cause error) *Error {
	return newError(ErrNotLoggedIn, "login_required", "You need to log in.", cause)
}

func badRequest(code, description string, cause error) *Error {
	return newError(ErrBadRequest, code, description, cause)
}

func stateMismatch(why string) *Error {
	return newError(ErrStateMismatch, "state_mismatch",
		"This login link is invalid, expired or already used. Please start again.", errors.New(why))
}

func idTokenError(cause error) *Error {
	return newError(ErrIDToken, "invalid_id_token", "The provider's answer could not be verified.", cause)
}

func refreshError(cause error) *Error {
	return newError(ErrRefresh, "refresh_failed", "The login could not be renewed with the provider. Please try again later.", cause)
}

func userInfoError(cause error) *Error {
	return newError(ErrUserInfo, "userinfo_failed", "The user's details could not be fetched from the provider.", cause)
}

func optionError(option, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidOption, option, fmt.Sprintf(format, args...))
}

// statusOf is the HTTP status of a failed request: the error's own when it
// has one, else its kind's; 500 for an error of no known kind.
func statusOf(err error) int {
	var e *Error
	if errors.As(err, &e) && e.status != 0 {
		return e.status
	}
	switch {
	case errors.Is(err, ErrNotLoggedIn):
		return http.StatusUnauthorized
	case errors.Is(err, ErrSession):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrExchange), errors.Is(err, ErrRefresh), errors.Is(err, ErrUserInfo), errors.Is(err, ErrPushedAuthorization):
		return http.StatusBadGateway
	case errors.Is(err, ErrProvider), errors.Is(err, ErrForbidden), errors.Is(err, ErrInsufficientAuthentication):
		return http.StatusForbidden
	case errors.Is(err, ErrStateMismatch), errors.Is(err, ErrIssuerMismatch), errors.Is(err, ErrIDToken), errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// ErrorHandler answers a request that failed. status is the HTTP status
// oidcauth chose; err wraps one of the sentinel errors and is usually an
// [*Error].
type ErrorHandler func(w http.ResponseWriter, r *http.Request, status int, err error)

// fail logs why a request failed and hands it to the error handler with the
// status of err.
func (a *Auth) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	level := slog.LevelWarn
	if status >= 500 {
		level = slog.LevelError
	}
	recordFailure(r.Context(), err)
	a.log.Log(r.Context(), level, "oidcauth: request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	var e *Error
	if !errors.As(err, &e) {
		e = newError(ErrSession, "server_error", "The request could not be completed.", err)
	}
	// A copy: the same *Error may answer several requests at once (a
	// shared refresh).
	ce := *e
	ce.API = a.IsAPIRequest(r)
	a.errorHandler(r)(w, r, status, &ce)
}

// SessionError answers a request whose session could not be loaded or
// saved: it logs the cause and answers 503 through the error handler, JSON
// for APIs. oidcauth's own session manager uses it; set it as the ErrorFunc
// of a manager you give with WithSessionManager to get the same.
func (a *Auth) SessionError(w http.ResponseWriter, r *http.Request, err error) {
	a.fail(w, r, sessionError("Your session could not be loaded. Please try again later.", err))
}

type errorHandlerKey struct{}

// ContextWithErrorHandler returns a copy of ctx in which h answers the
// failed requests that carry it; an ErrorHandler given with
// WithErrorHandler takes precedence.
//
// It is meant for framework adapters (oidcgin, oidcecho), which use it to
// answer in their framework's style; applications rarely need it.
func ContextWithErrorHandler(ctx context.Context, h ErrorHandler) context.Context {
	return context.WithValue(ctx, errorHandlerKey{}, h)
}

// errorHandler picks the application's handler, else the request's, else
// the default.
func (a *Auth) errorHandler(r *http.Request) ErrorHandler {
	if a.onError != nil {
		return a.onError
	}
	if h, ok := r.Context().Value(errorHandlerKey{}).(ErrorHandler); ok && h != nil {
		return h
	}
	return DefaultErrorHandler
}

// DefaultErrorHandler answers a failed request with a minimal page: JSON
// {"error", "error_description"} for API requests (the [Error]'s API field,
// a 401, a method other than GET or HEAD, or an Accept header that names
// JSON but not HTML), HTML otherwise. A custom ErrorHandler can call it for
// the requests it leaves to oidcauth, such as those with API set. It shows
// only the [Error]'s Code and Description, escaped, never the cause. The
// page cannot be cached, framed or leak a referrer.
func DefaultErrorHandler(w http.ResponseWriter, r *http.Request, status int, err error) {
	code, desc, api, loginURL := "server_error", "Something went wrong.", false, ""
	var e *Error
	if errors.As(err, &e) {
		code, desc, api, loginURL = e.Code, e.Description, e.API, e.LoginURL
	}
	h := w.Header()
	setNoStore(h)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	// 401 comes only from API requests (browsers are redirected to log in).
	if api || status == http.StatusUnauthorized || wantsJSON(r) || r.Method != http.MethodGet && r.Method != http.MethodHead {
		if loginURL != "" {
			writeJSON(w, status, struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
				LoginURL    string `json:"login_url"`
			}{code, desc, loginURL})
			return
		}
		writeJSONError(w, status, code, desc)
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	// Escaped by hand, not with html/template: see chooserHead.
	title := html.EscapeString(http.StatusText(status))
	io.WriteString(w, `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>`+title+`</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}code{color:#666}</style>
</head><body><h1>`+title+`</h1><p>`+html.EscapeString(desc)+`</p><p><code>`+html.EscapeString(code)+`</code></p>
<p><a href="/">Back to the start page</a></p></body></html>
`)
}

// writeJSONError writes the OAuth-style error body {"error",
// "error_description"}.
func writeJSONError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{code, description})
}

// writeJSON writes v as the JSON body of a response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// setNoStore marks a response that must not be cached or leak a referrer:
// the callback, login redirects, logout and error pages.
func setNoStore(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
}

// requireMethod answers 405 unless r's method is one of methods, and
// reports whether it is.
func (a *Auth) requireMethod(w http.ResponseWriter, r *http.Request, description string, methods ...string) bool {
	if slices.Contains(methods, r.Method) {
		return true
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	a.fail(w, r, badRequest("method_not_allowed", description, nil).withStatus(http.StatusMethodNotAllowed))
	return false
}
