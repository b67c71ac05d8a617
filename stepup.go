package oidcauth

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A login may ask more of the user's authentication than the application
// always does: an acr among a set (step-up), an authentication at most so
// old (max_age), a fresh login (prompt=login), a login hint, no interaction
// at all (prompt=none, silent.go). What it asked travels in its pending
// login (pending.go), and its callback checks the id_token against that,
// not against a setting of the moment: a login started by /admin's step-up
// must come back with /admin's acr.

// loginRequest are the parameters of one login beyond the application's
// fixed ones (WithAuthParam). The zero value asks nothing more.
type loginRequest struct {
	acr       []string      // acr_values; they replace the application's
	maxAge    time.Duration // with hasMaxAge; the stricter of it and the application's is sent
	hasMaxAge bool
	prompt    string // "login" or "none"
	loginHint string
	silent    bool // prompt=none from WithSilentLogin: errors return anonymous
	// provider is where the login goes; nil: the only one, or the
	// session's, or else the login chooser asks (start.go).
	provider *provider
}

// loginRequirements records in p what the login asks of the
// authentication (the application's acr_values and max_age unless req
// replaces them) and returns the authorization parameters that replace the
// application's fixed ones for this login; nil when it asks nothing more.
func (prov *provider) loginRequirements(p *pendingLogin, req loginRequest) url.Values {
	acr := prov.acrValues
	if len(req.acr) > 0 {
		acr = req.acr
	}
	maxAge := prov.maxAge // -1: none
	if req.hasMaxAge && (maxAge < 0 || req.maxAge < maxAge) {
		maxAge = req.maxAge
	}
	p.ACR = acr
	if maxAge >= 0 {
		s := int64(maxAge / time.Second)
		p.MaxAge = &s
	}
	p.Silent = req.silent
	if len(req.acr) == 0 && !req.hasMaxAge && req.prompt == "" && req.loginHint == "" {
		return nil
	}
	q := url.Values{}
	if len(acr) > 0 {
		q.Set("acr_values", strings.Join(acr, " "))
	}
	if p.MaxAge != nil {
		q.Set("max_age", strconv.FormatInt(*p.MaxAge, 10))
	}
	if req.prompt != "" {
		q.Set("prompt", req.prompt)
	}
	if req.loginHint != "" {
		q.Set("login_hint", req.loginHint)
	}
	return q
}

// checkAuthentication enforces what the login asked of the user's
// authentication (OpenID Connect Core 3.1.3.7, 11-12): with max_age,
// auth_time must be present and recent enough; with acr_values, acr must
// be one of them. A login sealed without them is held to the
// application's (WithAuthParam).
func (a *Auth) checkAuthentication(prov *provider, extra *idTokenExtra, p *pendingLogin) error {
	maxAge, acr := prov.maxAge, prov.acrValues
	if p.MaxAge != nil {
		maxAge = time.Duration(*p.MaxAge) * time.Second
	}
	if len(p.ACR) > 0 {
		acr = p.ACR
	}
	if maxAge >= 0 {
		at := extra.AuthTime.time()
		if at.IsZero() {
			return insufficientAuthentication(fmt.Errorf("max_age was requested but the id_token has no auth_time"))
		}
		if age := time.Since(at); age > maxAge+a.clockSkew {
			return insufficientAuthentication(fmt.Errorf("the user authenticated %v ago (auth_time), more than max_age %v", age.Round(time.Second), maxAge))
		}
	}
	if len(acr) > 0 && !slices.Contains(acr, extra.ACR) {
		return insufficientAuthentication(fmt.Errorf("the id_token's acr %q is none of the requested acr_values %q", printable(extra.ACR, 100), acr))
	}
	return nil
}

// insufficientAuthentication is the error of a login whose authentication
// is not what it asked for: 403, the session as it was.
func insufficientAuthentication(cause error) *Error {
	return newError(ErrInsufficientAuthentication, "insufficient_user_authentication",
		"Your login did not meet the authentication this page requires.", cause)
}

// stepUp answers a logged-in request whose authentication is not enough
// for the route: a browser navigation starts a login that asks for req and
// comes back to returnTo; an API request gets 401 with the RFC 9470
// challenge naming what is needed, and loginURL (when not empty) in the
// JSON body.
func (a *Auth) stepUp(w http.ResponseWriter, r *http.Request, req loginRequest, returnTo, loginURL string, why error) {
	if !a.IsAPIRequest(r) {
		a.log.Info("oidcauth: step-up login", "path", r.URL.Path, "why", why)
		a.startLoginWith(w, r, returnTo, req)
		return
	}
	w.Header().Set("WWW-Authenticate", stepUpChallenge(a.primary().issuer, req))
	e := newError(ErrInsufficientAuthentication, "insufficient_user_authentication",
		"A stronger or more recent authentication is required.", why).withStatus(http.StatusUnauthorized)
	e.LoginURL = loginURL
	a.fail(w, r, e)
}

// stepUpChallenge is the WWW-Authenticate value of RFC 9470 section 3.
func stepUpChallenge(realm string, req loginRequest) string {
	var b strings.Builder
	b.WriteString("Bearer realm=" + quoteString(realm) + `, error="insufficient_user_authentication"`)
	b.WriteString(`, error_description="A stronger or more recent authentication is required"`)
	if len(req.acr) > 0 {
		b.WriteString(", acr_values=" + quoteString(strings.Join(req.acr, " ")))
	}
	if req.hasMaxAge {
		b.WriteString(", max_age=" + strconv.FormatInt(int64(req.maxAge/time.Second), 10))
	}
	return b.String()
}
