package oidcauth

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// LoginHandler returns a handler that starts a login and then returns to the
// same-origin path in its return_to parameter ("/" by default).
func (a *Auth) LoginHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.requireMethod(w, r, "Use GET to log in.", http.MethodGet, http.MethodHead) {
			return
		}
		q := r.URL.Query()
		a.startLoginWith(w, r, SafeReturnTo(q.Get("return_to")), a.queryLoginRequest(r.Context(), q))
	})
}

// startLogin seals a new login into a cookie of the browser and redirects
// it to the provider. returnTo must already be sanitized.
func (a *Auth) startLogin(w http.ResponseWriter, r *http.Request, returnTo string) {
	a.startLoginWith(w, r, returnTo, loginRequest{})
}

// startLoginWith is startLogin with the per-login parameters of req
// (stepup.go), which the pending login keeps for the callback to check.
func (a *Auth) startLoginWith(w http.ResponseWriter, r *http.Request, returnTo string, req loginRequest) {
	ctx, span := a.tel.startSpan(r.Context(), spanLoginStart)
	var err error
	defer func() { endSpan(span, err) }()
	a.tel.add(ctx, a.tel.loginStarted)
	a.warnOtherHost(r)
	state, nonce, verifier := random(32), random(32), oauth2.GenerateVerifier()
	now := time.Now()
	p := &pendingLogin{
		StateHash: hashString(state), Nonce: nonce, Verifier: verifier,
		ReturnTo: shortReturnTo(returnTo), Created: now.Unix(),
	}
	extra := a.loginRequirements(p, req)
	value, err := a.seal(ctx, p)
	if err != nil {
		a.fail(w, r, sessionError("The login could not be started. Please try again later.", err))
		return
	}
	// Before the cookie: a login that cannot be pushed (par.go) takes no slot.
	u, err := a.authorizationURL(ctx, url.Values{
		"state": {state}, "nonce": {nonce},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
	}, extra)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.tel.add(ctx, a.tel.pendingCreated)
	http.SetCookie(w, &http.Cookie{
		Name:  a.freeSlot(r),
		Value: value,
		// Path=/ (required by __Host-): the next login start must see the
		// slots in use.
		Path:     "/",
		MaxAge:   int(pendingTTL / time.Second),
		HttpOnly: true,
		Secure:   a.secure,
		// Lax: the provider's redirect back is a top-level GET navigation.
		SameSite: http.SameSiteLaxMode,
	})
	setNoStore(w.Header())
	http.Redirect(w, r, u, http.StatusFound)
}

// expireLoginCookie deletes the login cookie name from the browser.
func (a *Auth) expireLoginCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode,
	})
}

// authorizeBase returns the authorization endpoint with the parameters that
// are the same on every request, ready for state, nonce and code_challenge.
func authorizeBase(endpoint string, cfg config) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("%w: authorization_endpoint: %v", ErrDiscovery, err)
	}
	q := u.Query()
	for k, vs := range authorizeParams(cfg) {
		q[k] = append(q[k], vs...)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// authorizeParams are the parameters of every authorization request.
func authorizeParams(cfg config) url.Values {
	q := url.Values{}
	for k, vs := range cfg.authParams {
		q[k] = append(q[k], vs...)
	}
	q.Set("response_type", "code")
	q.Set("client_id", cfg.clientID)
	q.Set("redirect_uri", cfg.redirectURL)
	q.Set("scope", strings.Join(cfg.scopes, " "))
	return q
}
