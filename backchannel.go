package oidcauth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

const (
	// backchannelLogoutEvent is the member of a logout token's events claim
	// that makes it a logout token.
	backchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"
	// maxLogoutRequest caps the body of a back-channel logout request.
	maxLogoutRequest = 64 << 10
	// logoutTokenMaxAge is how long after its iat a logout token without exp
	// is accepted (the final spec requires exp; older providers omit it).
	logoutTokenMaxAge = 5 * time.Minute
	// logoutTokenMaxLife is how long after its iat any logout token is
	// accepted, whatever its exp: its jti is remembered that long at most,
	// and an exp years ahead cannot keep a record alive for years.
	logoutTokenMaxLife = time.Hour
	// maxJTI bounds the jti accepted.
	maxJTI = 512
)

// BackchannelLogoutHandler returns the handler for the client's back-channel
// logout URI (OpenID Connect Back-Channel Logout 1.0). Mount it for POST at
// the backchannel_logout_uri registered at the provider; with
// WithBackchannelLogoutSessionRequired also register
// backchannel_logout_session_required=true.
//
// The provider posts a logout token (form parameter logout_token). The
// handler verifies it like an id_token (signature with the provider's key
// set and accepted algorithms, iss, aud, azp, iat, exp when present), then as
// a logout token: typ logout+jwt when present, the back-channel logout event,
// no nonce, sid or sub, a jti not seen before (remembered in the session
// Store, so on every instance). It then ends, on every instance sharing the
// Store, the sessions that logged in with the token's sid (which must belong
// to its sub, when it has one), or every session of its sub when it has no
// sid, and answers 200, also when no session matched. Anything else gets 400
// with a JSON error {"error", "error_description"}; the description never
// repeats the request. The sessions' tokens are not revoked: the provider
// ended them.
//
// The handler needs no session and no cookie, and must not sit behind CSRF
// protection that refuses requests without an Origin (the provider's request
// has none; http.CrossOriginProtection lets such requests through).
func (a *Auth) BackchannelLogoutHandler() http.Handler {
	for _, p := range a.providers {
		if p.meta.BackchannelLogoutSupported && a.sidRequired && !p.meta.BackchannelLogoutSessionSupported {
			a.log.Warn("oidcauth: back-channel logout requires sid, but the provider does not advertise backchannel_logout_session_supported: its logout tokens may all be refused", "provider", p.name)
		}
	}
	return a.observeLogout(spanBackchannelLogout, logoutBackchannel, http.HandlerFunc(a.handleBackchannelLogout))
}

// newLogoutTokenVerifier is go-oidc's verifier of p's logout tokens. It
// checks the signature, algorithm, iss and aud; exp is optional for logout
// tokens and checked with the other claims (verifyLogoutToken). go-oidc's
// VerifyLogout is not used: it requires exp, and checks neither typ nor
// that the event is an object (SECURITY.md, "Back-channel logout").
func newLogoutTokenVerifier(p *provider) *oidc.IDTokenVerifier {
	return oidc.NewVerifier(p.issuer, p.keys, &oidc.Config{
		ClientID:             p.clientID,
		SupportedSigningAlgs: p.signingAlgs,
		SkipExpiryCheck:      true,
		SkipIssuerCheck:      p.tenancy != nil, // checked by tokenIssuer
	})
}

// logoutToken is a verified logout token.
type logoutToken struct {
	iss, jti, sub, sid string
	iat, exp           time.Time // exp is zero when absent
}

// logoutError is why a back-channel logout request is refused: public is
// for the provider, cause for the log.
type logoutError struct {
	public string
	cause  error
}

func (e *logoutError) Error() string {
	if e.cause == nil {
		return e.public
	}
	return e.public + ": " + e.cause.Error()
}

func refuse(public string, cause error) error { return &logoutError{public, cause} }

func (a *Auth) handleBackchannelLogout(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		a.backchannelError(w, r, http.StatusMethodNotAllowed, "invalid_request", refuse("the back-channel logout takes POST", nil))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLogoutRequest)
	if err := r.ParseForm(); err != nil {
		a.backchannelError(w, r, http.StatusBadRequest, "invalid_request", refuse("the request body is malformed or too large", err))
		return
	}
	raw := r.PostForm["logout_token"]
	if len(raw) != 1 || raw[0] == "" {
		a.backchannelError(w, r, http.StatusBadRequest, "invalid_request",
			refuse("the request must have one logout_token form parameter", nil))
		return
	}
	ctx := r.Context()
	lt, err := a.verifyLogoutToken(ctx, raw[0])
	if err != nil {
		a.backchannelError(w, r, http.StatusBadRequest, "invalid_request", err)
		return
	}
	jti := jtiKey(lt.iss, lt.jti)
	_, seen, err := a.storeFind(ctx, jti)
	if err != nil {
		a.backchannelError(w, r, http.StatusBadRequest, "server_error", refuse("the logout could not be completed", err))
		return
	}
	if seen {
		a.backchannelError(w, r, http.StatusBadRequest, "invalid_request", refuse("the logout token was already used (jti)", nil))
		return
	}
	n, err := a.endLogoutTokenSessions(ctx, lt)
	if err != nil {
		var le *logoutError
		if errors.As(err, &le) {
			a.backchannelError(w, r, http.StatusBadRequest, "invalid_request", err)
		} else {
			a.backchannelError(w, r, http.StatusBadRequest, "server_error", refuse("the logout could not be completed", err))
		}
		return
	}
	// Remember the jti once the logout is done, so that a provider retrying
	// after a failure is not refused. Two deliveries of one token at the
	// same instant may both pass; they end the same sessions.
	until := lt.iat.Add(logoutTokenMaxLife)
	if lt.exp.IsZero() {
		until = lt.iat.Add(logoutTokenMaxAge)
	} else if lt.exp.Before(until) {
		until = lt.exp
	}
	if err := a.storeCommit(ctx, jti, []byte{1}, until.Add(a.clockSkew)); err != nil {
		a.log.ErrorContext(ctx, "oidcauth: back-channel logout: remembering the jti failed; the token could be replayed", "err", err)
	}
	if err := a.rememberLogout(ctx, lt); err != nil {
		a.log.ErrorContext(ctx, "oidcauth: back-channel logout: remembering the logout failed; a login under way may complete", "err", err)
	}
	a.log.InfoContext(ctx, "oidcauth: back-channel logout", "sub", lt.sub, "sid", lt.sid, "sessions", n)
	w.WriteHeader(http.StatusOK)
}

// logoutTokenProvider is the provider whose issuer the unverified iss of
// the logout token raw names: the one whose keys and client the token is
// then verified against. With one provider, it is that one (its verifier
// refuses another iss).
func (a *Auth) logoutTokenProvider(raw string) (*provider, error) {
	if !a.several() {
		return a.primary(), nil
	}
	payload, err := jwtPayload(raw)
	var c struct {
		Issuer string `json:"iss"`
	}
	if err == nil {
		err = json.Unmarshal(payload, &c)
	}
	if err != nil {
		return nil, refuse("the logout token is malformed", err)
	}
	p := a.providerOfIssuer(c.Issuer)
	if p == nil {
		return nil, refuse("the logout token is from an unknown issuer", fmt.Errorf("iss %q", printable(c.Issuer, 200)))
	}
	return p, nil
}

// backchannelError answers a refused back-channel logout with the JSON error
// of the spec (section 2.8), and logs why.
func (a *Auth) backchannelError(w http.ResponseWriter, r *http.Request, status int, code string, err error) {
	public := "the logout request was refused"
	var le *logoutError
	if errors.As(err, &le) {
		public = le.public
	}
	recordFailure(r.Context(), newError(ErrBadRequest, code, public, err))
	if code == "server_error" {
		a.log.ErrorContext(r.Context(), "oidcauth: back-channel logout failed", "status", status, "err", err)
	} else {
		a.log.WarnContext(r.Context(), "oidcauth: back-channel logout refused", "status", status, "err", err)
	}
	writeJSONError(w, status, code, public)
}

// verifyLogoutToken checks raw as section 2.6 of the spec asks, against
// the provider its iss names: its keys, its issuer and its client.
func (a *Auth) verifyLogoutToken(ctx context.Context, raw string) (*logoutToken, error) {
	p, err := a.logoutTokenProvider(raw)
	if err != nil {
		return nil, err
	}
	observeProvider(ctx, p)
	// Signature (with a key of the provider's set), algorithm (never none,
	// never an HMAC), iss and aud containing the client ID.
	idt, err := p.logoutTokens.Verify(ctx, raw)
	if err != nil {
		return nil, refuse("the logout token's signature, algorithm, issuer or audience is invalid", err)
	}
	if err := checkLogoutTyp(raw); err != nil {
		return nil, err
	}
	var c map[string]json.RawMessage
	if err := idt.Claims(&c); err != nil {
		return nil, refuse("the logout token's claims are malformed", err)
	}
	now := time.Now()
	lt := &logoutToken{}
	// iss again, and a multi-tenant issuer's rules.
	tid, err := stringClaim(c, "tid")
	if err == nil {
		lt.iss, err = p.tokenIssuer(idt.Issuer, tid)
	}
	if err != nil {
		return nil, refuse("the logout token's issuer or tenant is invalid", err)
	}

	// iat: required, not in the future.
	iat, ok, err := claimTime(c, "iat")
	switch {
	case err != nil:
		return nil, refuse("the logout token's iat is not a number", err)
	case !ok:
		return nil, refuse("the logout token has no iat", nil)
	case iat.After(now.Add(a.clockSkew)):
		return nil, refuse("the logout token was issued in the future (iat)", fmt.Errorf("iat %v", iat))
	}
	lt.iat = iat
	// exp: when present, not passed; when absent, the token must be recent.
	exp, ok, err := claimTime(c, "exp")
	switch {
	case err != nil:
		return nil, refuse("the logout token's exp is not a number", err)
	case ok && exp.Before(now.Add(-a.clockSkew)):
		return nil, refuse("the logout token has expired (exp)", fmt.Errorf("exp %v", exp))
	case !ok && iat.Before(now.Add(-logoutTokenMaxAge-a.clockSkew)):
		return nil, refuse("the logout token has no exp and is too old (iat)", fmt.Errorf("iat %v", iat))
	case iat.Before(now.Add(-logoutTokenMaxLife - a.clockSkew)):
		return nil, refuse("the logout token is too old (iat)", fmt.Errorf("iat %v", iat))
	}
	lt.exp = exp
	if nbf, ok, err := claimTime(c, "nbf"); err != nil || ok && nbf.After(now.Add(a.clockSkew)) {
		return nil, refuse("the logout token is not valid yet (nbf)", err)
	}
	// azp as for id_tokens.
	azp, err := stringClaim(c, "azp")
	if err != nil || azp != "" && azp != p.clientID {
		return nil, refuse("the logout token was issued to another client (azp)", err)
	}
	if len(idt.Audience) > 1 && azp == "" {
		return nil, refuse("the logout token has several audiences and no azp", nil)
	}
	// events: an object with the back-channel logout event, itself an object.
	var events map[string]json.RawMessage
	if json.Unmarshal(c["events"], &events) != nil {
		return nil, refuse("the logout token has no events object", nil)
	}
	if !isJSONObject(events[backchannelLogoutEvent]) {
		return nil, refuse("the logout token's events lack the back-channel logout event", nil)
	}
	// nonce: forbidden, so that an id_token cannot pass for a logout token
	// and a logout token cannot pass for an id_token.
	if _, ok := c["nonce"]; ok {
		return nil, refuse("the logout token must not have a nonce", nil)
	}
	// jti: required, for replay detection.
	if lt.jti, err = stringClaim(c, "jti"); err != nil || lt.jti == "" || len(lt.jti) > maxJTI {
		return nil, refuse("the logout token has no valid jti", err)
	}
	// sub, sid: at least one; sid when the client requires it.
	if lt.sub, err = stringClaim(c, "sub"); err != nil {
		return nil, refuse("the logout token's sub is not a string", err)
	}
	if lt.sid, err = stringClaim(c, "sid"); err != nil {
		return nil, refuse("the logout token's sid is not a string", err)
	}
	if lt.sub == "" && lt.sid == "" {
		return nil, refuse("the logout token has neither sub nor sid", nil)
	}
	if lt.sid == "" && a.sidRequired {
		return nil, refuse("the logout token has no sid, which this client requires", nil)
	}
	return lt, nil
}

// checkLogoutTyp refuses a logout token explicitly typed as another kind of
// JWT (at+jwt, secevent+jwt, ...), against cross-JWT confusion. It accepts
// no typ, JWT (which some certified providers send) and logout+jwt; an
// id_token, typed JWT, is still refused by its missing event and its nonce.
// The signature was checked.
func checkLogoutTyp(raw string) error {
	h, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return refuse("the logout token's header is malformed", err)
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(b, &header); err != nil {
		return refuse("the logout token's header is malformed", err)
	}
	rawTyp, ok := header["typ"]
	if !ok {
		return nil
	}
	var typ string
	if err := json.Unmarshal(rawTyp, &typ); err != nil {
		return refuse("the logout token's typ is not a string", err)
	}
	// RFC 7515 4.1.9: compared case-insensitively, "application/" optional.
	if len(typ) > len("application/") && strings.EqualFold(typ[:len("application/")], "application/") {
		typ = typ[len("application/"):]
	}
	if !strings.EqualFold(typ, "logout+jwt") && !strings.EqualFold(typ, "JWT") {
		return refuse("the logout token's typ is neither logout+jwt nor JWT", fmt.Errorf("typ %q", printable(typ, 64)))
	}
	return nil
}

// claimTime reads the NumericDate claim name of c; ok is false when it is
// absent.
func claimTime(c map[string]json.RawMessage, name string) (t time.Time, ok bool, err error) {
	raw, ok := c[name]
	if !ok {
		return time.Time{}, false, nil
	}
	var j jsonTime
	if err := json.Unmarshal(raw, &j); err != nil {
		return time.Time{}, true, fmt.Errorf("%s is not a number", name)
	}
	return time.Time(j), true, nil
}

// stringClaim reads the string claim name of c; "" when absent.
func stringClaim(c map[string]json.RawMessage, name string) (string, error) {
	raw, ok := c[name]
	if !ok {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%s is not a string", name)
	}
	return s, nil
}

func isJSONObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// endLogoutTokenSessions ends the sessions a verified logout token names: those
// of its sid (which must belong to its sub, when it has one), else every
// session of its sub. It returns how many sessions it ended.
func (a *Auth) endLogoutTokenSessions(ctx context.Context, lt *logoutToken) (int, error) {
	if lt.sid == "" {
		list, err := a.indexRead(ctx, subIndexKey(lt.iss, lt.sub))
		if err != nil {
			return 0, err
		}
		return len(list), a.endSessionsIn(ctx, list)
	}
	key := sidIndexKey(lt.iss, lt.sid)
	list, err := a.indexRead(ctx, key)
	if err != nil {
		return 0, err
	}
	if sub := hashString(lt.sub); lt.sub != "" && slices.ContainsFunc(list, func(x indexEntry) bool { return x.Subject != sub }) {
		return 0, refuse("the logout token's sid belongs to another subject", nil)
	}
	if err := a.endSessionsIn(ctx, list); err != nil {
		return 0, err
	}
	// The provider session is over: no login will add to its list.
	if err := a.storeDelete(ctx, key); err != nil {
		a.log.WarnContext(ctx, "oidcauth: back-channel logout: deleting the sid index failed", "err", err)
	}
	return len(list), nil
}

// rememberLogout records when the provider session (or, without sid, the
// user) of lt was logged out, for as long as a session can live, so that a
// login under way at that moment cannot complete afterwards with an
// id_token issued before it (refuseLoggedOut).
func (a *Auth) rememberLogout(ctx context.Context, lt *logoutToken) error {
	key := endedKey(lt.iss, "sid", lt.sid)
	if lt.sid == "" {
		key = endedKey(lt.iss, "sub", lt.sub)
	}
	return a.storeCommit(ctx, key, strconv.AppendInt(nil, lt.iat.Unix(), 10), time.Now().Add(max(a.sm.Lifetime, pendingTTL)))
}

// refuseLoggedOut refuses a login whose id_token (issued at iat) predates a
// back-channel logout of its provider session or of its user.
func (a *Auth) refuseLoggedOut(ctx context.Context, l *login, iat time.Time) error {
	iss := a.issuerOf(l)
	keys := []string{endedKey(iss, "sub", l.Subject)}
	if l.SessionID != "" {
		keys = append(keys, endedKey(iss, "sid", l.SessionID))
	}
	for _, key := range keys {
		b, found, err := a.storeFind(ctx, key)
		if err != nil {
			return sessionError("The login could not be completed. Please try again later.", err)
		}
		if !found {
			continue
		}
		if ended, err := strconv.ParseInt(string(b), 10, 64); err != nil || !iat.After(time.Unix(ended, 0)) {
			return newError(ErrProvider, "login_ended", "The provider ended this login before it completed. Please log in again.",
				fmt.Errorf("the id_token (iat %v) predates a back-channel logout of its session or user", iat))
		}
	}
	return nil
}
