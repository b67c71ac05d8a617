package oidcecho

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/oidcauth/oidcauth"
)

// Require returns middleware for routes that need a logged-in user; see
// [oidcauth.Auth.Require]. A logged-in request goes on to the next handler
// with its claims in c.Request()'s context ([Claims]). An anonymous browser
// navigation is redirected to the provider; an API request gets an
// *echo.HTTPError with status 401.
func Require(auth *oidcauth.Auth) echo.MiddlewareFunc {
	return middleware(auth, auth.Require)
}

// Optional returns middleware for routes that serve everyone but greet a
// logged-in user; see [oidcauth.Auth.Optional]. [Claims] reports whether
// there is a login.
func Optional(auth *oidcauth.Auth) echo.MiddlewareFunc {
	return middleware(auth, auth.Optional)
}

// LoadAndSave returns middleware that loads the scs session once for the rest
// of the chain and saves it at the end ([oidcauth.Auth.LoadAndSave]). It is
// optional for oidcauth, and needed when the application's own handlers use
// the session manager.
func LoadAndSave(auth *oidcauth.Auth) echo.MiddlewareFunc {
	return middleware(auth, auth.LoadAndSave)
}

// Callback returns the handler for the redirect URI; mount it with GET at
// the path of the redirect URL. See [oidcauth.Auth.CallbackHandler].
func Callback(auth *oidcauth.Auth) echo.HandlerFunc {
	return handler(auth, auth.CallbackHandler())
}

// Login returns a handler that starts a login and comes back to the
// same-origin path in its return_to parameter; mount it with GET. See
// [oidcauth.Auth.LoginHandler].
func Login(auth *oidcauth.Auth) echo.HandlerFunc {
	return handler(auth, auth.LoginHandler())
}

// Logout returns the logout handler; mount it with POST. It refuses
// cross-origin requests. See [oidcauth.Auth.LogoutHandler].
func Logout(auth *oidcauth.Auth) echo.HandlerFunc {
	return handler(auth, auth.LogoutHandler())
}

// BackchannelLogout returns the OpenID Connect Back-Channel Logout endpoint;
// mount it with POST at the URI registered at the provider. See
// [oidcauth.Auth.BackchannelLogoutHandler].
func BackchannelLogout(auth *oidcauth.Auth) echo.HandlerFunc {
	return handler(auth, auth.BackchannelLogoutHandler())
}

// Claims returns the logged-in user's claims, or false for an anonymous
// request. It reads what [Require] or [Optional] put in c.Request()'s
// context.
func Claims(c echo.Context) (*oidcauth.Claims, bool) {
	return oidcauth.ClaimsFromContext(c.Request().Context())
}

// RawClaims returns the logged-in user's claims as the provider sent them.
func RawClaims(c echo.Context) (json.RawMessage, bool) {
	return oidcauth.RawClaimsFromContext(c.Request().Context())
}

// DecodeClaims decodes the logged-in user's claims into v, the application's
// own struct. It returns an error wrapping [oidcauth.ErrNotLoggedIn] for an
// anonymous request.
func DecodeClaims(c echo.Context, v any) error {
	return oidcauth.DecodeClaims(c.Request().Context(), v)
}

// state is what one request through the adapter carries in its context, so
// that handlers built once can reach the request's echo.Context.
type state struct {
	auth    *oidcauth.Auth
	c       echo.Context
	next    echo.HandlerFunc
	passed  bool  // the core called the next handler
	err     error // the core's error, as an *echo.HTTPError
	nextErr error // what next returned
}

type stateKey struct{}

// middleware adapts one of the core's middlewares. The core's next handler,
// built once, calls Echo's next handler; when the core answers the request
// itself, its error (if any) is returned.
func middleware(auth *oidcauth.Auth, mw func(http.Handler) http.Handler) echo.MiddlewareFunc {
	h := mw(http.HandlerFunc(proceed))
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			st := serve(c, auth, next, h)
			if st.passed {
				return st.nextErr
			}
			return st.err
		}
	}
}

// handler adapts one of the core's handlers.
func handler(auth *oidcauth.Auth, h http.Handler) echo.HandlerFunc {
	return func(c echo.Context) error {
		return serve(c, auth, nil, h).err
	}
}

func serve(c echo.Context, auth *oidcauth.Auth, next echo.HandlerFunc, h http.Handler) *state {
	st := &state{auth: auth, c: c, next: next}
	r := c.Request()
	ctx := context.WithValue(r.Context(), stateKey{}, st)
	ctx = oidcauth.ContextWithErrorHandler(ctx, st.fail)
	h.ServeHTTP(c.Response(), r.WithContext(ctx))
	return st
}

// proceed is the core's next handler: it calls Echo's next handler with the
// request the core passes on (session and claims in its context) and, while
// it runs, a response that writes through w. c.Request() keeps that request
// afterwards, so outer middleware and the HTTPErrorHandler can still read
// the claims.
func proceed(w http.ResponseWriter, r *http.Request) {
	st := r.Context().Value(stateKey{}).(*state)
	st.passed = true
	c := st.c
	c.SetRequest(r)
	if prev := c.Response(); w != http.ResponseWriter(prev) {
		c.SetResponse(echo.NewResponse(w, c.Echo()))
		defer c.SetResponse(prev)
	}
	st.nextErr = st.next(c)
}

// fail is the ErrorHandler the adapter puts in each request's context; an
// ErrorHandler set with oidcauth.WithErrorHandler takes precedence. A
// browser navigation gets oidcauth's HTML error page at once; the error is
// returned to Echo all the same, whose HTTPErrorHandler finds the response
// committed. For an API request it writes nothing: Echo's HTTPErrorHandler
// renders the error. Only a failure after the core passed the request on (a
// core handler used directly further down the chain) goes to the
// HTTPErrorHandler at once, as nothing would return it.
func (st *state) fail(w http.ResponseWriter, r *http.Request, status int, err error) {
	he := echo.NewHTTPError(status, description(err)).SetInternal(err)
	if status != http.StatusUnauthorized && !st.auth.IsAPIRequest(r) {
		oidcauth.DefaultErrorHandler(w, r, status, err)
	}
	if st.passed {
		st.c.Error(he)
		return
	}
	st.err = he
}

// description returns the description of err that is safe to show.
func description(err error) string {
	var e *oidcauth.Error
	if errors.As(err, &e) {
		return e.Description
	}
	return http.StatusText(http.StatusInternalServerError)
}
