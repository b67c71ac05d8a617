package oidcauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/oauth2"
)

// maxCallbackQuery bounds the callback's query string.
const maxCallbackQuery = 8 << 10

// maxExchanges bounds the code exchanges under way at once per Auth; the
// default HTTP client keeps as many idle connections to the provider.
const maxExchanges = 32

// CallbackHandler returns the handler for the redirect URI. It checks the
// state, exchanges the code with the PKCE verifier, verifies the id_token,
// renews the session token and sends the browser back to the page it first
// asked for. Mount it at the path of the redirect URL, for GET. With
// several providers (WithProvider) it serves each provider's redirect URL
// and knows the provider by the request's path, which must be that URL's
// path: mount it at each, or under a prefix holding them all.
func (a *Auth) CallbackHandler() http.Handler {
	handlers := make(map[*provider]http.Handler, len(a.providers))
	for _, p := range a.providers {
		handlers[p] = p.observeCallback(a.withSession(func(w http.ResponseWriter, r *http.Request) {
			a.handleCallback(w, r, p)
		}))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := a.providerAtPath(r.URL.Path)
		if p == nil {
			setNoStore(w.Header())
			a.fail(w, r, badRequest("invalid_request", "The login response arrived at an unknown address.",
				fmt.Errorf("no provider's redirect URL has the path %q", printable(r.URL.Path, 200))).withStatus(http.StatusNotFound))
			return
		}
		handlers[p].ServeHTTP(w, r)
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

// handleCallback completes a login, in the order of RFC 9700 and OpenID
// Connect Core 3.1.3: the pending login of the state (bound to this
// browser, single use), the RFC 9207 iss parameter, the provider's error,
// then the code exchange with the PKCE verifier, the id_token (signature,
// claims, nonce, requested authentication), userinfo when asked, and last
// the session: a new token (no fixation), the deadline cap, the session
// index, the token record, and the login in the session. Any failure
// answers through the error handler and leaves no session behind. prov is
// the provider whose redirect URL the request arrived at.
func (a *Auth) handleCallback(w http.ResponseWriter, r *http.Request, prov *provider) {
	setNoStore(w.Header())
	if !a.requireMethod(w, r, "The callback takes GET.", http.MethodGet) {
		return
	}
	p, err := parseCallback(r.URL.RawQuery)
	if err != nil {
		a.fail(w, r, badRequest("invalid_request", "The login response is malformed.", err))
		return
	}
	ctx := r.Context()
	pending, err := a.takePending(ctx, w, r, p.state)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	// RFC 9700 4.4 (mix-up): the response must arrive at the redirect URL
	// of the provider the login was started at, before anything is sent to
	// any provider.
	if started := a.pendingProvider(pending); started != prov {
		a.fail(w, r, newError(ErrIssuerMismatch, "issuer_mismatch", "The login response came from an unexpected provider.",
			fmt.Errorf("the login was started at provider %q; its response arrived at the redirect URL of %q", printable(pending.Provider, 64), prov.name)))
		return
	}
	// RFC 9207: a present iss must be the issuer (with a multi-tenant one, an
	// allowed tenant's, which the id_token's must then equal); an advertised
	// one must be present.
	if (p.hasIss || prov.meta.IssParameterSupported) && !prov.acceptsIssuer(p.iss) {
		a.fail(w, r, newError(ErrIssuerMismatch, "issuer_mismatch",
			"The login response came from an unexpected provider.", fmt.Errorf("iss parameter %q, want %q", printable(p.iss, 200), prov.issuer)))
		return
	}
	if p.err != "" && silentFailure(pending, p.err) {
		// prompt=none and the provider needs the user: back anonymous.
		a.log.Debug("oidcauth: no silent login", "error", printable(p.err, 64))
		http.Redirect(w, r, pending.ReturnTo, http.StatusFound)
		return
	}
	if p.err != "" {
		code, desc := printable(p.err, 64), printable(p.errDescription, 300)
		msg := "The provider refused the login (" + code + ")."
		if desc != "" {
			msg = "The provider refused the login (" + code + "): " + desc
		}
		a.fail(w, r, newError(ErrProvider, code, msg, fmt.Errorf("provider error %q: %q", code, desc)))
		return
	}
	if p.code == "" {
		a.fail(w, r, badRequest("invalid_request", "The login response has no code.", errors.New("no code parameter")))
		return
	}
	// With DPoP, a new key for this login, bound to its tokens.
	xr, dk, err := prov.dpopLogin(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	tok, err := a.exchange(xr, prov, p.code, pending.Verifier)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	l, ts, err := a.verifyTokens(r, prov, tok, pending)
	if err == nil {
		err = ts.keepDPoPKey(dk)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if p.hasIss && a.issuerOf(l) != p.iss {
		a.fail(w, r, newError(ErrIssuerMismatch, "issuer_mismatch", "The login response came from an unexpected provider.",
			fmt.Errorf("the id_token's iss %q is not the iss parameter %q", a.issuerOf(l), printable(p.iss, 200))))
		return
	}
	if prov.userInfo {
		if err := a.loginUserInfo(ctx, prov, l, ts); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	if err := a.runLoginHook(ctx, ts); err != nil {
		a.fail(w, r, err)
		return
	}
	// Parse the claims once, into the cache the requests to come read.
	e, err := newClaimsEntry(ts)
	if err != nil {
		a.fail(w, r, idTokenError(err))
		return
	}
	if err := a.refuseLoggedOut(ctx, l, e.claims.IssuedAt.Time); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.saveLogin(ctx, l, ts); err != nil {
		a.fail(w, r, sessionError("The login could not be saved. Please try again later.", err))
		return
	}
	e.checked.Store(time.Now().UnixNano())
	a.claims.put(l.ID, e)
	a.log.LogAttrs(ctx, slog.LevelInfo, "oidcauth: login", slog.String("sub", l.Subject), slog.String("sid", l.SessionID))
	http.Redirect(w, r, pending.ReturnTo, http.StatusFound)
}

// saveLogin makes the request's session the login's: a new session token
// after login (no session fixation), the deadline capped when asked, the
// session indexed so that back-channel logout and EndSessions find it from
// any instance, the token record, and last the login itself. An error fails
// the login: a session that could not be indexed could not be ended from
// the provider.
func (a *Auth) saveLogin(ctx context.Context, l *login, ts *tokenSet) error {
	// A login of another user than the session's (a step-up answered by
	// another account) starts a new session: nothing of the earlier one's.
	if old, _ := a.sessionLogin(ctx); old != nil && old.Subject != l.Subject {
		a.log.Info("oidcauth: a login of another user replaces the session", "sub", l.Subject, "earlier_sub", old.Subject)
		a.claims.forget(old.ID)
		if err := a.sm.Clear(ctx); err != nil {
			return err
		}
	}
	if err := a.sm.RenewToken(ctx); err != nil {
		return err
	}
	if a.capByIDToken {
		if err := a.capDeadline(ctx, ts.IDToken); err != nil {
			return err
		}
	}
	if err := a.indexSession(ctx, l); err != nil {
		return err
	}
	if err := a.saveTokens(ctx, l, ts, a.sm.Deadline(ctx)); err != nil {
		return err
	}
	a.sm.Put(ctx, sessionKey, l)
	return nil
}

// takePending finds, checks and uses up the login of state: its cookie in
// this browser must hold it, sealed by this application, younger than
// pendingTTL, and the state must not have been used before (on any
// instance, with a LeaseStore). The cookie is expired either way.
func (a *Auth) takePending(ctx context.Context, w http.ResponseWriter, r *http.Request, state string) (*pendingLogin, error) {
	if state == "" {
		return nil, stateMismatch("the callback has no state")
	}
	if len(state) > maxStateLen {
		return nil, stateMismatch("the state is too long")
	}
	sh := hashString(state)
	p, cookie, err := a.findPending(ctx, r, sh)
	if err != nil {
		return nil, sessionError("The login could not be completed. Please try again later.", err)
	}
	if p == nil {
		return nil, a.noLoginCookie()
	}
	a.expireLoginCookie(w, cookie)
	created := time.Unix(p.Created, 0)
	if time.Since(time.Unix(p.Created, 0)) > pendingTTL {
		return nil, stateMismatch("the pending login expired")
	}
	fresh, err := a.useState(ctx, sh, created)
	if err != nil {
		return nil, sessionError("The login could not be completed. Please try again later.", err)
	}
	if !fresh {
		return nil, stateMismatch("the state was already used")
	}
	return p, nil
}

// exchange trades the code for tokens at p, with the PKCE verifier.
func (a *Auth) exchange(r *http.Request, p *provider, code, verifier string) (tok *oauth2.Token, err error) {
	ctx, span := p.tel.startSpan(r.Context(), spanCodeExchange)
	defer func() { endSpan(span, err) }()
	ctx, cancel := p.context(ctx)
	defer cancel()
	// Anyone can start a login and post its callback with a made-up code:
	// bound the client-authenticated token requests that can cause at once.
	select {
	case a.exchanges <- struct{}{}:
		defer func() { <-a.exchanges }()
	case <-ctx.Done():
		return nil, newError(ErrExchange, "temporarily_unavailable", "Too many logins are under way. Please try again in a moment.",
			errors.New("no code exchange slot freed within the timeout")).withStatus(http.StatusServiceUnavailable)
	}
	tok, err = p.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier))
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
