// Package oidcgin mounts oidcauth on the gin web framework
// (github.com/gin-gonic/gin).
//
// It is a thin adapter: every login, callback, logout and session decision
// is made by the net/http handlers of [oidcauth.Auth]; this package only
// turns them into gin handlers, runs the rest of gin's chain from inside
// them, and answers errors in gin's style.
//
//	r := gin.New()
//	r.Use(oidcgin.LoadAndSave(auth)) // optional: one session load per request
//	r.GET("/callback", oidcgin.Callback(auth))
//	r.GET("/login", oidcgin.Login(auth))
//	r.POST("/logout", oidcgin.Logout(auth))
//	r.GET("/me", oidcgin.Require(auth), func(c *gin.Context) {
//		claims, _ := oidcgin.Claims(c)
//		c.JSON(http.StatusOK, gin.H{"sub": claims.Subject})
//	})
//
// # Errors
//
// Unless the application set its own handler with
// [oidcauth.WithErrorHandler] (which then answers every error), a failed
// request is answered like this:
//
//   - API requests ([oidcauth.Auth.IsAPIRequest]: any method but GET and
//     HEAD, a path under WithAPIPrefix, fetch/XHR, or JSON but not HTML
//     accepted) get c.AbortWithStatusJSON(status, gin.H{"error": code,
//     "error_description": description}), the shape of OAuth 2.0 errors;
//   - browser navigations (a failed callback, say) get oidcauth's minimal
//     HTML error page, since a person reads it and gin has no error page of
//     its own; the chain is aborted.
//
// Either way the error (an [*oidcauth.Error]) is also pushed to c.Errors,
// so gin's logger shows it. Code and description are safe to show; the
// cause inside the error is for logs only.
//
// # Sessions
//
// oidcauth keeps its state in an scs session. [Require], [Optional] and the
// handlers load it themselves when nothing has; [LoadAndSave] loads it once
// for the whole chain, which the application needs anyway if it uses the
// session manager ([oidcauth.Auth.SessionManager]) in its own handlers.
// While a session is loaded, c.Writer writes through scs, so the session
// cookie is set before the response's headers leave.
package oidcgin
