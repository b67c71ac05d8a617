package oidcgin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/oidcauth/oidcauth"
)

// Require returns middleware for routes that need a logged-in user; see
// [oidcauth.Auth.Require]. A logged-in request goes on down the chain with
// its claims in c.Request's context ([Claims]). An anonymous browser
// navigation is redirected to the provider and an API request gets 401; in
// both cases the chain is aborted.
func Require(auth *oidcauth.Auth) gin.HandlerFunc {
	return middleware(auth, auth.Require)
}

// Optional returns middleware for routes that serve everyone but greet a
// logged-in user; see [oidcauth.Auth.Optional]. [Claims] reports whether
// there is a login.
func Optional(auth *oidcauth.Auth) gin.HandlerFunc {
	return middleware(auth, auth.Optional)
}

// LoadAndSave returns middleware that loads the scs session once for the rest
// of the chain and saves it at the end ([oidcauth.Auth.LoadAndSave]). It is
// optional for oidcauth, and needed when the application's own handlers use
// the session manager.
func LoadAndSave(auth *oidcauth.Auth) gin.HandlerFunc {
	return middleware(auth, auth.LoadAndSave)
}

// Callback returns the handler for the redirect URI; mount it with GET at
// the path of the redirect URL. See [oidcauth.Auth.CallbackHandler].
func Callback(auth *oidcauth.Auth) gin.HandlerFunc {
	return handler(auth, auth.CallbackHandler())
}

// Login returns a handler that starts a login and comes back to the
// same-origin path in its return_to parameter; mount it with GET. See
// [oidcauth.Auth.LoginHandler].
func Login(auth *oidcauth.Auth) gin.HandlerFunc {
	return handler(auth, auth.LoginHandler())
}

// Logout returns the logout handler; mount it with POST. It refuses
// cross-origin requests. See [oidcauth.Auth.LogoutHandler].
func Logout(auth *oidcauth.Auth) gin.HandlerFunc {
	return handler(auth, auth.LogoutHandler())
}

// BackchannelLogout returns the OpenID Connect Back-Channel Logout endpoint;
// mount it with POST at the URI registered at the provider. See
// [oidcauth.Auth.BackchannelLogoutHandler].
func BackchannelLogout(auth *oidcauth.Auth) gin.HandlerFunc {
	return handler(auth, auth.BackchannelLogoutHandler())
}

// Claims returns the logged-in user's claims, or false for an anonymous
// request. It reads what [Require] or [Optional] put in c.Request's context.
func Claims(c *gin.Context) (*oidcauth.Claims, bool) {
	return oidcauth.ClaimsFromContext(c.Request.Context())
}

// RawClaims returns the logged-in user's claims as the provider sent them.
func RawClaims(c *gin.Context) (json.RawMessage, bool) {
	return oidcauth.RawClaimsFromContext(c.Request.Context())
}

// DecodeClaims decodes the logged-in user's claims into v, the application's
// own struct. It returns an error wrapping [oidcauth.ErrNotLoggedIn] for an
// anonymous request.
func DecodeClaims(c *gin.Context, v any) error {
	return oidcauth.DecodeClaims(c.Request.Context(), v)
}

// state is what one request through the adapter carries in its context, so
// that handlers built once can reach the request's gin.Context.
type state struct {
	c      *gin.Context
	auth   *oidcauth.Auth
	passed bool // the core called the next handler
}

type stateKey struct{}

// middleware adapts one of the core's middlewares. The core's next handler,
// built once, runs the rest of gin's chain; when the core answers the
// request itself the chain is aborted.
func middleware(auth *oidcauth.Auth, mw func(http.Handler) http.Handler) gin.HandlerFunc {
	h := mw(http.HandlerFunc(proceed))
	return func(c *gin.Context) { serve(c, auth, h) }
}

// handler adapts one of the core's handlers.
func handler(auth *oidcauth.Auth, h http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) { serve(c, auth, h) }
}

func serve(c *gin.Context, auth *oidcauth.Auth, h http.Handler) {
	st := &state{c: c, auth: auth}
	ctx := context.WithValue(c.Request.Context(), stateKey{}, st)
	ctx = oidcauth.ContextWithErrorHandler(ctx, st.fail)
	h.ServeHTTP(c.Writer, c.Request.WithContext(ctx))
	if !st.passed {
		c.Abort()
	}
}

// proceed is the core's next handler: it runs the rest of the chain with the
// request the core passes on (session and claims in its context) and, while
// it runs, a c.Writer that writes through w. c.Request keeps that request
// afterwards, so outer middleware can still read the claims.
func proceed(w http.ResponseWriter, r *http.Request) {
	st := r.Context().Value(stateKey{}).(*state)
	st.passed = true
	c := st.c
	c.Request = r
	prev := c.Writer
	c.Writer = writerFor(prev, w)
	defer func() { c.Writer = prev }()
	c.Next()
}

// fail is the ErrorHandler the adapter puts in each request's context; an
// ErrorHandler set with oidcauth.WithErrorHandler takes precedence.
func (st *state) fail(w http.ResponseWriter, r *http.Request, status int, err error) {
	c := st.c
	_ = c.Error(err)
	if status != http.StatusUnauthorized && !st.auth.IsAPIRequest(r) {
		c.Abort()
		oidcauth.DefaultErrorHandler(w, r, status, err)
		return
	}
	code, desc := describe(err)
	prev := c.Writer
	c.Writer = writerFor(prev, w)
	c.AbortWithStatusJSON(status, gin.H{"error": code, "error_description": desc})
	c.Writer = prev
}

// describe returns the code and description of err that are safe to show.
func describe(err error) (code, description string) {
	var e *oidcauth.Error
	if errors.As(err, &e) {
		return e.Code, e.Description
	}
	return "server_error", "Something went wrong."
}
