package oidcauth

import (
	"net/http"
	"slices"
	"strings"
)

// Silent login (WithSilentLogin): an anonymous browser navigation to an
// Optional page tries a login without interaction (prompt=none) once per
// browser session, so that a user already logged in at the provider is
// greeted without a click. The try is marked by a cookie that lasts as
// long as the browser session; no server-side record is made for an
// anonymous visitor. When the provider needs the user (login_required,
// interaction_required, consent_required, account_selection_required),
// the browser comes back to the page anonymous: no error page, and no
// second try while the cookie lasts. The callback checks the state as for
// any login first: a forged or replayed one is still refused.

// silentErrors are the provider's answers to prompt=none that mean "not
// without the user" (OpenID Connect Core 3.1.2.6).
var silentErrors = []string{"login_required", "interaction_required", "consent_required", "account_selection_required"}

// WithSilentLogin makes [Auth.Optional] try a silent login (prompt=none)
// once per browser session for an anonymous navigation (a GET that is not
// an API request or a prefetch). Off by default.
func WithSilentLogin() Option {
	return func(c *config) error {
		c.silentLogin = true
		return nil
	}
}

// trySilentLogin starts a silent login for r when it is the browser
// session's first anonymous navigation, and reports whether it did.
func (a *Auth) trySilentLogin(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet || a.IsAPIRequest(r) || isPrefetch(r) {
		return false
	}
	if _, err := r.Cookie(a.silentCookie); err == nil {
		return false
	}
	http.SetCookie(w, &http.Cookie{
		Name: a.silentCookie, Value: "1", Path: "/",
		HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode,
	})
	// With several providers, New's: a silent login cannot ask which.
	a.startLoginWith(w, r, SafeReturnTo(r.URL.RequestURI()), loginRequest{prompt: "none", silent: true, provider: a.primary()})
	return true
}

// isPrefetch reports whether r is a speculative load, which must not use up
// the one try.
func isPrefetch(r *http.Request) bool {
	for _, h := range []string{"Sec-Purpose", "Purpose"} {
		if strings.Contains(r.Header.Get(h), "prefetch") {
			return true
		}
	}
	return false
}

// silentFailure reports whether a provider error answers a silent login
// with "not without the user".
func silentFailure(p *pendingLogin, code string) bool {
	return p.Silent && slices.Contains(silentErrors, code)
}
