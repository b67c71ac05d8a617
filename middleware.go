package oidcauth

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// Require is the middleware for pages and APIs that need a logged-in user.
// A logged-in request reaches next with its claims in the context. An
// anonymous browser navigation (GET or HEAD) is redirected to the provider
// and comes back to the same URL after login; an API request gets 401 with
// a JSON body and WWW-Authenticate, never a redirect.
//
// It costs one session lookup, one clock read and one context value per
// request; claims are decoded only when a handler asks for them, and once
// per interval a store read checks that the login was not ended elsewhere.
func (a *Auth) Require(next http.Handler) http.Handler { return a.withLogin(next, true) }

// Optional is the middleware for pages that serve everyone but greet a
// logged-in user: it puts the claims in the context when there is a login
// and lets anonymous requests through unchanged.
func (a *Auth) Optional(next http.Handler) http.Handler { return a.withLogin(next, false) }

// withLogin is Require (required) and Optional. A request without a loaded
// session goes through the manager's LoadAndSave, which comes back here.
func (a *Auth) withLogin(next http.Handler, required bool) http.Handler {
	var loading http.Handler
	self := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l, loaded := a.sessionLogin(r.Context())
		if !loaded {
			loading.ServeHTTP(w, r)
			return
		}
		now := time.Now()
		if l != nil {
			l = a.touch(r.Context(), l, now)
		}
		if l != nil {
			var answered bool
			if l, answered = a.confirmLive(w, r, l, now); answered {
				return
			}
		}
		if l != nil && a.tokens.refreshAhead {
			// nil: Require has answered, Optional serves an anonymous request.
			if l = a.refreshAhead(w, r, l, required); l == nil && required {
				return
			}
		}
		if l == nil {
			if required {
				a.challenge(w, r)
				return
			}
			if a.silentLogin && a.trySilentLogin(w, r) {
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		l.auth = a
		// A page for a logged-in user stays out of caches (ASVS 14.3.2);
		// a handler may set its own Cache-Control.
		w.Header()["Cache-Control"] = noStore
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, l)))
	})
	loading = a.sm.LoadAndSave(self)
	return self
}

// noStore is the Cache-Control of authenticated responses, shared so that
// setting it allocates nothing; Header.Set and Add replace or copy it.
var noStore = []string{"no-store"}

// challenge answers an anonymous request: a redirect to the provider for a
// browser navigation, 401 for everything else.
func (a *Auth) challenge(w http.ResponseWriter, r *http.Request) {
	if a.IsAPIRequest(r) {
		a.unauthorized(w, r)
		return
	}
	a.startLogin(w, r, SafeReturnTo(r.URL.RequestURI()))
}

// unauthorized answers 401 through the error handler, with the Bearer
// challenge of RFC 6750 section 3 (no error code: the request had no
// credentials), realm the issuer.
func (a *Auth) unauthorized(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", "Bearer realm="+quoteString(a.primary().issuer))
	e := loginRequired(nil)
	e.API = true // only API requests are answered 401
	a.errorHandler(r)(w, r, http.StatusUnauthorized, e)
}

// IsAPIRequest reports whether r gets a 401 rather than a redirect to the
// provider: any method but GET and HEAD, a path under an API prefix
// (WithAPIPrefix), a request that accepts JSON but not HTML, or a browser
// request that is not a navigation (fetch, XHR).
//
// It is meant for framework adapters and custom error handlers, which
// answer API requests in their own style.
func (a *Auth) IsAPIRequest(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return true
	}
	for _, p := range a.apiPrefixes {
		if strings.HasPrefix(r.URL.Path, p) {
			return true
		}
	}
	if mode := r.Header.Get("Sec-Fetch-Mode"); mode != "" && mode != "navigate" {
		return true
	}
	if r.Header.Get("X-Requested-With") != "" {
		return true
	}
	return wantsJSON(r)
}

// wantsJSON reports whether the Accept header names JSON and not HTML.
func wantsJSON(r *http.Request) bool {
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "json") && !strings.Contains(accept, "text/html")
}

// quoteString is s as an HTTP quoted-string (RFC 9110 5.6.4).
func quoteString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
