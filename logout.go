package oidcauth

import (
	"net/http"
	"net/url"
)

// maxIDTokenHint is the longest id_token sent as id_token_hint: a longer
// one would make the logout URL too long for common server limits (8 KiB),
// so the provider gets only client_id.
const maxIDTokenHint = 6 << 10

// LogoutHandler returns the logout handler. It takes POST only and refuses
// cross-origin requests: a Sec-Fetch-Site other than same-origin or none,
// or an Origin other than the redirect URL's origin (compared with the
// configured origin, not the request's Host, so that it holds behind a
// reverse proxy that rewrites Host). It destroys the session so its cookie
// no longer authenticates anywhere, and, when the provider has an
// end_session_endpoint, redirects there (RP-Initiated Logout 1.0) with
// id_token_hint, client_id, post_logout_redirect_uri and state, the state
// also in a cookie that [Auth.PostLogoutHandler] checks when the provider
// sends the browser back; else it redirects to the landing path
// (WithPostLogoutLanding, "/" by default), where [Auth.LoggedOut] reports
// the logout.
//
// With several providers (WithProvider) the session's provider is the one
// logged out at; an anonymous logout, whose provider is unknown, only
// lands.
func (a *Auth) LogoutHandler() http.Handler {
	return a.observeLogout(spanLogout, logoutLocal, http.HandlerFunc(a.handleLogout))
}

func (a *Auth) handleLogout(w http.ResponseWriter, r *http.Request) {
	setNoStore(w.Header())
	if !a.requireMethod(w, r, "Log out with POST.", http.MethodPost) {
		return
	}
	if err := a.checkSameOrigin(r); err != nil {
		a.fail(w, r, badRequest("cross_origin", "The request came from another site and was refused.", err).withStatus(http.StatusForbidden))
		return
	}
	a.withSession(func(w http.ResponseWriter, r *http.Request) {
		target, state, err := a.endRequestSession(r)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		switch {
		case state != "":
			a.setLogoutCookie(w, state, logoutTTL) // postlogout.go: the provider's redirect back
		case target == a.logoutLanding:
			a.setLogoutCookie(w, loggedOutMark, loggedOutTTL) // logged out here and now
		}
		http.Redirect(w, r, target, http.StatusFound)
	}).ServeHTTP(w, r)
}

// endRequestSession ends the request's session and returns where to send
// the browser next: the provider's end_session_endpoint, or the landing
// path when it has none. state is the state sent to the provider when it
// will send the browser back (a post-logout redirect URL is set).
func (a *Auth) endRequestSession(r *http.Request) (target, state string, err error) {
	ctx := r.Context()
	l, _ := a.sessionLogin(ctx)
	p := a.loginProvider(r) // the session's, or the only one
	if p != nil {
		observeProvider(ctx, p)
		if p.meta.EndSessionEndpoint != "" {
			observeLogoutKind(ctx, logoutRPInitiated)
		}
	}
	// The tokens, read before they are deleted: to revoke them, and the
	// id_token as the hint.
	var ts *tokenSet
	if l != nil && p != nil && (p.meta.RevocationEndpoint != "" || p.meta.EndSessionEndpoint != "") {
		var err error
		if ts, err = a.loadTokens(ctx, l); err != nil {
			a.log.DebugContext(ctx, "oidcauth: the tokens of the login are gone at logout", "err", err)
		}
	}
	var ended []string
	if token := a.sm.Token(ctx); token != "" {
		ended = append(ended, a.sessionStoreKey(token))
	}
	if l != nil {
		ended = append(ended, tokensKey(l.ID))
		a.claims.forget(l.ID)
		if err := a.deleteTokens(ctx, l); err != nil {
			return "", "", sessionError("The logout could not be completed. Please try again.", err)
		}
	}
	if err := a.sm.Destroy(ctx); err != nil {
		return "", "", sessionError("The logout could not be completed. Please try again.", err)
	}
	// A request of this session under way elsewhere would write it back.
	a.redeleteLater(ended)
	if l != nil {
		a.log.InfoContext(ctx, "oidcauth: logout", "sub", l.Subject, "sid", l.SessionID)
		if a.logoutHook != nil {
			a.logoutHook(ctx, l.Subject, l.SessionID)
		}
	}
	if ts != nil {
		a.revokeTokenSets(ctx, p, []*tokenSet{ts})
	}
	if p == nil || p.meta.EndSessionEndpoint == "" {
		return a.logoutLanding, "", nil
	}
	u, err := url.Parse(p.meta.EndSessionEndpoint)
	if err != nil {
		return a.logoutLanding, "", nil
	}
	q := u.Query()
	q.Set("client_id", p.clientID)
	state = random(16)
	q.Set("state", state)
	if ts != nil && len(ts.IDToken) <= maxIDTokenHint {
		q.Set("id_token_hint", ts.IDToken)
	}
	if p.postLogout != "" {
		q.Set("post_logout_redirect_uri", p.postLogout)
	} else {
		state = "" // nothing comes back to check it against
	}
	u.RawQuery = q.Encode()
	return u.String(), state, nil
}
