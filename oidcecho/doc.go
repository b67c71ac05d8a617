// Package oidcecho mounts oidcauth on the Echo web framework, version 4
// (github.com/labstack/echo/v4). For Echo v5 use package oidcecho5.
//
// It is a thin adapter: every login, callback, logout and session decision
// is made by the net/http handlers of [oidcauth.Auth]; this package only
// turns them into Echo handlers and middleware, runs the rest of Echo's
// chain from inside them, and returns errors the Echo way.
//
//	e := echo.New()
//	e.Use(oidcecho.LoadAndSave(auth)) // optional: one session load per request
//	e.GET("/callback", oidcecho.Callback(auth))
//	e.GET("/login", oidcecho.Login(auth))
//	e.POST("/logout", oidcecho.Logout(auth))
//	e.GET("/me", func(c echo.Context) error {
//		claims, _ := oidcecho.Claims(c)
//		return c.JSON(http.StatusOK, map[string]string{"sub": claims.Subject})
//	}, oidcecho.Require(auth))
//
// # Errors
//
// Unless the application set its own handler with
// [oidcauth.WithErrorHandler] (which then answers every error itself), a
// failed request returns an [*echo.HTTPError] with oidcauth's status, the
// user-safe description as Message and the [*oidcauth.Error] as Internal.
// For an API request ([oidcauth.Auth.IsAPIRequest]) that is all, and the
// application's Echo HTTPErrorHandler renders it like any other error:
// Echo's default answers {"message": "You need to log in."}. A browser
// navigation (a failed callback, say) gets oidcauth's HTML error page
// ([oidcauth.DefaultErrorHandler]) before the error is returned, so people
// never see raw JSON; the HTTPErrorHandler still gets the error (to log it)
// but must write nothing when c.Response().Committed, as Echo's default
// does. A handler that wants oidcauth's machine-readable code finds it with
// errors.As(err, &oe) for an *oidcauth.Error oe. The 401 of [Require] keeps
// its WWW-Authenticate header. Anonymous browser navigations are still
// redirected to the provider, which is not an error.
//
// # Sessions
//
// oidcauth keeps its state in an scs session. [Require], [Optional] and the
// handlers load it themselves when nothing has; [LoadAndSave] loads it once
// for the whole chain, which the application needs anyway if it uses the
// session manager ([oidcauth.Auth.SessionManager]) in its own handlers.
// While a session is loaded, c.Response() writes through scs, so the session
// cookie is set before the response's headers leave.
package oidcecho
