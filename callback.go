package oidcauth

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/oauth2"
)

// maxCallbackQuery bounds the callback's query string.
const maxCallbackQuery = 8 << 10

// CallbackHandler returns the handler for the redirect URI. It checks the
// state, exchanges the code with the PKCE verifier, verifies the id_token,
// renews the session token and sends the browser back to the page it first
// asked for. Mount it at the path of the redirect URL, for GET.
func (a *Auth) CallbackHandler() http.Handler {
	return a.withSession(a.handleCallback)
}

// LoginHandler returns a handler that starts a login and then returns to the
// same-origin path in its return_to parameter ("/" by default).
func (a *Auth) LoginHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.allow(w, r, "Use GET to log in.", http.MethodGet, http.MethodHead) {
			return
		}
		a.startLogin(w, r, SafeReturnTo(r.URL.Query().Get("return_to")))
	})
}

// callbackParams are the authorization response's parameters.
type callbackParams struct {
	state, code, iss, err, errDescription string
	hasIss                                bool
}

// parseCallback reads the query strictly: bounded, each parameter at most
// once, valid UTF-8.
func parseCallback(rawQuery string) (callbackParams, error) {
	var p callbackParams
	if len(rawQuery) > maxCallbackQuery {
		return p, fmt.Errorf("the query is %d bytes, more than %d", len(rawQuery), maxCallbackQuery)
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return p, fmt.Errorf("the query is malformed: %v", err)
	}
	one := func(name string) (string, bool, error) {
		vs, ok := q[name]
		if !ok {
			return "", false, nil
		}
		if len(vs) != 1 {
			return "", true, fmt.Errorf("the parameter %s is repeated", name)
		}
		if !utf8.ValidString(vs[0]) {
			return "", true, fmt.Errorf("the parameter %s is not UTF-8", name)
		}
		return vs[0], true, nil
	}
	for _, f := range []struct {
		name string
		dst  *string
		has  *bool
	}{
		{"state", &p.state, nil}, {"code", &p.code, nil}, {"iss", &p.iss, &p.hasIss},
		{"error", &p.err, nil}, {"error_description", &p.errDescription, nil},
	} {
		v, has, err := one(f.name)
		if err != nil {
			return p, err
		}
		*f.dst = v
		if f.has != nil {
			*f.has = has
		}
	}
	return p, nil
}

func (a *Auth) handleCallback(w http.ResponseWriter, r *http.Request) {
	private(w.Header())
	if !a.allow(w, r, "The callback takes GET.", http.MethodGet) {
		return
	}
	p, err := parseCallback(r.URL.RawQuery)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, newError(ErrBadRequest, "invalid_request", "The login response is malformed.", err))
		return
	}
	ctx := r.Context()
	pending, err := a.takePending(ctx, w, r, p.state)
	if err != nil {
		a.fail(w, r, statusOf(err), err)
		return
	}
	// RFC 9207: a present iss must be the issuer; an advertised one must be present.
	if (p.hasIss || a.meta.IssParameterSupported) && subtle.ConstantTimeCompare([]byte(p.iss), []byte(a.issuer)) != 1 {
		a.fail(w, r, http.StatusBadRequest, newError(ErrIssuerMismatch, "issuer_mismatch",
			"The login response came from an unexpected provider.", fmt.Errorf("iss parameter %q, want %q", printable(p.iss, 200), a.issuer)))
		return
	}
	if p.err != "" {
		code, desc := printable(p.err, 64), printable(p.errDescription, 300)
		msg := "The provider refused the login (" + code + ")."
		if desc != "" {
			msg = "The provider refused the login (" + code + "): " + desc
		}
		a.fail(w, r, http.StatusForbidden, newError(ErrProvider, code, msg, fmt.Errorf("provider error %q: %q", code, desc)))
		return
	}
	if p.code == "" {
		a.fail(w, r, http.StatusBadRequest, newError(ErrBadRequest, "invalid_request", "The login response has no code.", errors.New("no code parameter")))
		return
	}
	tok, err := a.exchange(r, p.code, pending.Verifier)
	if err != nil {
		a.fail(w, r, statusOf(err), err)
		return
	}
	l, ts, err := a.verifyTokens(r, tok, pending.Nonce)
	if err != nil {
		a.fail(w, r, statusOf(err), err)
		return
	}
	if err := a.loginUserInfo(ctx, l, ts); err != nil {
		a.fail(w, r, tokenStatus(err), err)
		return
	}
	// Parse the claims once, into the cache the requests to come read.
	if _, err := a.claims.get(l); err != nil {
		a.fail(w, r, http.StatusBadRequest, idTokenError(err))
		return
	}
	// A new session token after login: no session fixation.
	if err := a.sm.RenewToken(ctx); err != nil {
		a.fail(w, r, http.StatusServiceUnavailable, newError(ErrSession, "session_unavailable",
			"The login could not be saved. Please try again later.", err))
		return
	}
	if err := a.sessionStarted(ctx, l); err != nil {
		a.fail(w, r, http.StatusServiceUnavailable, newError(ErrSession, "session_unavailable",
			"The login could not be saved. Please try again later.", err))
		return
	}
	if err := a.saveTokens(ctx, l, ts, a.sm.Deadline(ctx)); err != nil {
		a.fail(w, r, http.StatusServiceUnavailable, newError(ErrSession, "session_unavailable",
			"The login could not be saved. Please try again later.", err))
		return
	}
	a.sm.Put(ctx, sessionKey, l)
	a.log.Info("oidcauth: login", "sub", l.Subject, "sid", l.SessionID)
	http.Redirect(w, r, pending.ReturnTo, http.StatusFound)
}

// exchange trades the code for tokens, with the PKCE verifier.
func (a *Auth) exchange(r *http.Request, code, verifier string) (*oauth2.Token, error) {
	ctx, cancel := a.providerContext(r.Context())
	defer cancel()
	tok, err := a.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, newError(ErrExchange, "exchange_failed", "The login could not be completed with the provider.", tokenError(err))
	}
	return tok, nil
}

// tokenError describes a token endpoint failure without its response body,
// which this package never logs.
func tokenError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		return fmt.Errorf("token endpoint answered %d: %q %q", status, printable(re.ErrorCode, 64), printable(re.ErrorDescription, 200))
	}
	return err
}

// statusOf maps an error kind to an HTTP status.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrSession):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrExchange):
		return http.StatusBadGateway
	case errors.Is(err, ErrNotLoggedIn):
		return http.StatusUnauthorized
	case errors.Is(err, ErrProvider):
		return http.StatusForbidden
	}
	return http.StatusBadRequest
}

// printable returns s cut to max runes with control characters removed:
// text from the provider that may reach a page or a log line.
func printable(s string, max int) string {
	var b strings.Builder
	n := 0
	for _, c := range s {
		if n == max {
			b.WriteString("…")
			break
		}
		if c == utf8.RuneError || unicode.IsControl(c) {
			continue
		}
		b.WriteRune(c)
		n++
	}
	return b.String()
}
