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
// same-origin path in its return_to parameter ("/" by default). With
// several providers (WithProvider) its provider parameter names the
// provider; without one, a logged-in user logs in again at their own
// provider and anyone else gets the login chooser (WithLoginChooser). An
// unknown provider is a 400.
func (a *Auth) LoginHandler() http.Handler {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.requireMethod(w, r, "Use GET to log in.", http.MethodGet, http.MethodHead) {
			return
		}
		q := r.URL.Query()
		returnTo := SafeReturnTo(q.Get("return_to"))
		req := a.queryLoginRequest(r.Context(), q)
		if vs, ok := q["provider"]; ok {
			if len(vs) == 1 {
				req.provider = a.providerNamed(vs[0])
			}
			if req.provider == nil {
				a.fail(w, r, badRequest("invalid_request", "There is no such login provider.",
					fmt.Errorf("the login names the provider %q, which is none of %q", printable(strings.Join(vs, ","), 64), a.Providers())))
				return
			}
		}
		if req.provider == nil && a.loginProvider(r) == nil {
			a.showChooser(w, r, returnTo)
			return
		}
		a.startLoginWith(w, r, returnTo, req)
	})
	if a.several() {
		return a.withSession(h) // the session tells a logged-in user's provider
	}
	return h
}

// loginProvider is the provider a login without a named one goes to: the
// only one; with several, the session's; nil when the login chooser must
// ask.
func (a *Auth) loginProvider(r *http.Request) *provider {
	if !a.several() {
		return a.primary()
	}
	if l, _ := a.sessionLogin(r.Context()); l != nil {
		return a.providerOf(l)
	}
	return nil
}

// startLogin seals a new login into a cookie of the browser and redirects
// it to the provider (with several and none to pick, to the login
// chooser). returnTo must already be sanitized.
func (a *Auth) startLogin(w http.ResponseWriter, r *http.Request, returnTo string) {
	a.startLoginWith(w, r, returnTo, loginRequest{})
}

// startLoginWith is startLogin with the per-login parameters of req
// (stepup.go), which the pending login keeps for the callback to check.
func (a *Auth) startLoginWith(w http.ResponseWriter, r *http.Request, returnTo string, req loginRequest) {
	prov := req.provider
	if prov == nil {
		prov = a.loginProvider(r)
	}
	if prov == nil {
		a.toChooser(w, r, returnTo)
		return
	}
	ctx, span := prov.tel.startSpan(r.Context(), spanLoginStart)
	var err error
	defer func() { endSpan(span, err) }()
	prov.tel.add(ctx, prov.tel.loginStarted)
	a.warnOtherHost(r)
	state, nonce, verifier := random(32), random(32), oauth2.GenerateVerifier()
	now := time.Now()
	p := &pendingLogin{
		StateHash: hashString(state), Nonce: nonce, Verifier: verifier,
		ReturnTo: shortReturnTo(returnTo), Created: now.Unix(),
	}
	if prov != a.primary() {
		p.Provider = prov.name // New's provider's logins keep the cookie as it was
	}
	extra := prov.loginRequirements(p, req)
	value, err := a.seal(ctx, p)
	if err != nil {
		a.fail(w, r, sessionError("The login could not be started. Please try again later.", err))
		return
	}
	// Before the cookie: a login that cannot be pushed (par.go) takes no slot.
	u, err := prov.authorizationURL(ctx, url.Values{
		"state": {state}, "nonce": {nonce},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
	}, extra)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	prov.tel.add(ctx, prov.tel.pendingCreated)
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
