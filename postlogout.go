package oidcauth

import (
	"crypto/subtle"
	"net/http"
	"time"
)

// After logout the browser lands on the application again: from the
// provider's end_session_endpoint, through [Auth.PostLogoutHandler], or
// straight from the logout handler when the provider has no such endpoint.
// One cookie carries the logout through: at logout it holds the state sent
// to the provider, which binds the provider's redirect back to this
// browser; once that comes back with the same state (or at once, without an
// end_session_endpoint) it holds the logged-out mark that
// [Auth.LoggedOut] reads and forgets.

const (
	// logoutTTL is how long a logout at the provider may take.
	logoutTTL = 10 * time.Minute
	// loggedOutTTL is how long the landing page has to read the mark.
	loggedOutTTL = time.Minute
	// loggedOutMark is the cookie's value once the logout is confirmed.
	loggedOutMark = "done"
	// maxLogoutState bounds the state accepted back from the provider.
	maxLogoutState = 64
)

func (a *Auth) logoutCookieName() string { return cookieName("oidcauth_logout", a.secure) }

// setLogoutCookie sets the logout cookie to value for ttl; a negative ttl
// deletes it. Lax: the provider's redirect back is a top-level GET
// navigation from another site.
func (a *Auth) setLogoutCookie(w http.ResponseWriter, value string, ttl time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: a.logoutCookieName(), Value: value, Path: "/", MaxAge: int(ttl / time.Second),
		HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode,
	})
}

// PostLogoutHandler returns the handler for the post-logout redirect URI
// (WithPostLogoutRedirectURL), where the provider sends the browser after
// RP-initiated logout with the state the logout sent. Mount it with GET at
// that URL's path. It never answers with an error page: it checks the
// state against the one this browser's logout sent (a cookie the logout
// set, single use, 10 minutes), and redirects to the landing path
// (WithPostLogoutLanding, "/" by default), without the state; only when the
// state matched does [Auth.LoggedOut] then report the logout to the landing
// page. A missing, wrong, reused or expired state lands on the same path,
// unmarked.
//
// When the post-logout redirect URI is the landing page itself (the
// application's home page, say), that page's handler passes the requests
// that carry a state to this handler, and serves the others:
//
//	if r.URL.Query().Has("state") {
//		postLogout.ServeHTTP(w, r) // redirects to the same page, without the state
//		return
//	}
func (a *Auth) PostLogoutHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setNoStore(w.Header())
		if !a.requireMethod(w, r, "The post-logout redirect takes GET.", http.MethodGet, http.MethodHead) {
			return
		}
		state := r.URL.Query().Get("state")
		c, err := r.Cookie(a.logoutCookieName())
		switch {
		case err == nil && c.Value != loggedOutMark && state != "" && len(state) <= maxLogoutState &&
			subtle.ConstantTimeCompare([]byte(state), []byte(c.Value)) == 1:
			a.setLogoutCookie(w, loggedOutMark, loggedOutTTL)
		case err == nil:
			a.setLogoutCookie(w, "", -1)
			a.log.InfoContext(r.Context(), "oidcauth: back from logout with a state that is not this browser's logout's; landing unmarked", "has_state", state != "")
		default:
			a.log.InfoContext(r.Context(), "oidcauth: back from logout without a logout under way in this browser; landing unmarked", "has_state", state != "")
		}
		http.Redirect(w, r, a.logoutLanding, http.StatusFound)
	})
}

// LoggedOut reports whether the browser has just logged out: it lands on
// the landing path from a logout whose state came back right (or from a
// logout at a provider without end_session_endpoint). It reports it once:
// it deletes the mark, so a reload does not say it again, which is why it
// needs w; call it before writing the body. The mark is a cookie of this
// browser that only oidcauth sets; show a message with it, decide nothing
// on it.
func (a *Auth) LoggedOut(w http.ResponseWriter, r *http.Request) bool {
	c, err := r.Cookie(a.logoutCookieName())
	if err != nil || c.Value != loggedOutMark {
		return false
	}
	a.setLogoutCookie(w, "", -1)
	return true
}
