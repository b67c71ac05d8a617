package oidcauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"
)

// tokenState is what Auth keeps for the token accessors.
type tokenState struct {
	leeway       time.Duration
	refreshAhead bool
	// raceGrace is how long a refresh refused with invalid_grant waits for
	// another instance sharing the store to write the token set it won; zero
	// when the store is oidcauth's own memory store, which nobody shares.
	raceGrace time.Duration
	// flights makes concurrent refreshes of one login a single one.
	flights singleflight.Group
	// noLease refreshes without the lease: with oidcauth's own memory
	// store, which no other process shares (tests also set it).
	noLease bool
}

// maxRaceGrace bounds tokenState.raceGrace.
const maxRaceGrace = 2 * time.Second

// errLoginGone ends a login whose provider the Auth no longer has: its
// tokens cannot be refreshed, used or revoked there.
var errLoginGone = newError(ErrNotLoggedIn, "login_expired", "Your login has expired. Please log in again.",
	fmt.Errorf("%w: the login's provider is not configured any more", errLoginEnded))

// errLoginEnded marks the errors after which the login is over: its token
// record is deleted and the session forgets it.
var errLoginEnded = errors.New("the login has ended")

// needsRefresh reports whether ts must be refreshed before use: its access
// token is refused (the one a resource server refused), or it expires within
// the leeway. For a token living less than twice the leeway, the leeway is
// half its life, so short-lived tokens are not refreshed on every request.
// A token of unknown expiry is used until a resource server refuses it.
func (a *Auth) needsRefresh(ts *tokenSet, refused string, now time.Time) bool {
	if ts.AccessToken == "" || (refused != "" && ts.AccessToken == refused) {
		return true
	}
	if ts.Expiry.IsZero() {
		return false
	}
	leeway := a.tokens.leeway
	if !ts.Obtained.IsZero() {
		leeway = min(leeway, ts.Expiry.Sub(ts.Obtained)/2)
	}
	return !now.Add(leeway).Before(ts.Expiry)
}

// requestTokens returns the token set of the request's login, refreshed
// when needed, and the session's login (updated when the token set carries
// a newer id_token). refused, when not empty, is an access token a resource
// server refused: a set still holding it is refreshed.
func (a *Auth) requestTokens(ctx context.Context, refused string) (*tokenSet, *login, error) {
	l, loaded := a.sessionLogin(ctx)
	if !loaded {
		return nil, nil, newError(ErrSession, "server_error", "The request could not be completed.",
			errors.New("no session is loaded: wrap the handler with Require, Optional or LoadAndSave"))
	}
	if l == nil {
		return nil, nil, loginRequired(nil)
	}
	return a.loginTokens(ctx, l, refused)
}

// loginTokens is requestTokens for the session's login l. When the login
// has ended it removes it from the session, so the middleware sends the
// next request to log in.
func (a *Auth) loginTokens(ctx context.Context, l *login, refused string) (*tokenSet, *login, error) {
	ts, err := a.freshTokens(ctx, l, refused)
	if err != nil {
		if errors.Is(err, ErrNotLoggedIn) || errors.Is(err, errLoginEnded) {
			a.sm.Remove(ctx, sessionKey)
		}
		return nil, nil, err
	}
	return ts, a.followIDToken(ctx, l, ts), nil
}

// freshTokens loads the token set of l and refreshes it when needed, once
// per login however many requests ask at the same time.
func (a *Auth) freshTokens(ctx context.Context, l *login, refused string) (*tokenSet, error) {
	p := a.providerOf(l)
	if p == nil {
		return nil, errLoginGone
	}
	ts, err := a.loadTokens(ctx, l)
	if err != nil {
		return nil, asTokenError(err)
	}
	// Two rounds at most: a caller with a refused token may have joined a
	// flight that found the set fresh (and so still holding that token).
	for range 2 {
		if !a.needsRefresh(ts, refused, time.Now()) {
			return ts, nil
		}
		ch := a.tokens.flights.DoChan(l.ID, func() (any, error) {
			// The flight serves every waiter: it must not end with the
			// context of the request that happened to start it.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshBound(a.timeout, a.tokens.raceGrace))
			defer cancel()
			return a.observeRefresh(fctx, p, l, refused)
		})
		select {
		case res := <-ch:
			if res.Err != nil {
				return nil, res.Err
			}
			ts = res.Val.(*tokenSet)
		case <-ctx.Done():
			return nil, refreshError(fmt.Errorf("gave up waiting for the refresh: %w", ctx.Err()))
		}
	}
	if a.needsRefresh(ts, refused, time.Now()) {
		return nil, refreshError(errors.New("the refreshed access token is already stale"))
	}
	return ts, nil
}

// refresh runs once per login at a time in this process (single-flight),
// and under the login's refresh lease across the instances sharing the
// Store (lease.go). It re-reads the token record first: another request or
// instance may have refreshed it meanwhile, and the refresh token it holds
// may have been rotated. It never sends a refresh token while another
// instance holds the lease: it waits for that instance's tokens, for at
// most the timeout plus the lease's life, and fails closed after that.
func (a *Auth) refresh(ctx context.Context, p *provider, l *login, refused string) (*tokenSet, error) {
	deadline := time.Now().Add(a.timeout + leaseTTL)
	for {
		cur, err := a.loadTokens(ctx, l)
		if err != nil {
			return nil, asTokenError(err)
		}
		if !a.needsRefresh(cur, refused, time.Now()) {
			return cur, nil
		}
		if cur.RefreshToken == "" {
			return nil, a.expireLogin(ctx, l, cur, errors.New("the access token expired and there is no refresh token"))
		}
		if a.tokens.noLease {
			return a.redeem(ctx, p, l, cur)
		}
		ls, err := a.takeLease(ctx, l.ID)
		if errors.Is(err, errLeaseHeld) {
			if err := a.awaitLease(ctx, l, cur, deadline); err != nil {
				return nil, err
			}
			continue // the holder stored new tokens, or gave up: look again
		}
		if err != nil {
			return nil, asTokenError(err)
		}
		ts, err := a.redeemUnderLease(ctx, p, l, refused)
		ls.release(ctx)
		return ts, err
	}
}

// redeemUnderLease refreshes while holding the lease, after reading the
// record once more: the previous holder may have stored new tokens just
// before this instance took the lease.
func (a *Auth) redeemUnderLease(ctx context.Context, p *provider, l *login, refused string) (*tokenSet, error) {
	cur, err := a.loadTokens(ctx, l)
	if err != nil {
		return nil, asTokenError(err)
	}
	if !a.needsRefresh(cur, refused, time.Now()) {
		return cur, nil
	}
	return a.redeem(ctx, p, l, cur)
}

// redeem sends cur's refresh token to the token endpoint of the login's
// provider p and stores what comes back.
func (a *Auth) redeem(ctx context.Context, p *provider, l *login, cur *tokenSet) (*tokenSet, error) {
	pctx, cancel := p.context(ctx)
	defer cancel()
	pctx, err := p.dpopRefresh(pctx, cur)
	if err != nil {
		return nil, a.expireLogin(ctx, l, cur, err)
	}
	tok, err := p.oauth.TokenSource(pctx, &oauth2.Token{RefreshToken: cur.RefreshToken}).Token()
	now := time.Now()
	if err != nil {
		if refreshTokenRefused(err) {
			// Another instance sharing the store may have used the same
			// refresh token first and be about to store what it got.
			if newer := a.awaitNewer(ctx, l, cur); newer != nil {
				a.log.DebugContext(ctx, "oidcauth: another instance refreshed the tokens first", "sub", l.Subject)
				return newer, nil
			}
			return nil, a.expireLogin(ctx, l, cur, fmt.Errorf("the provider refused the refresh token: %w", tokenError(err)))
		}
		a.log.WarnContext(ctx, "oidcauth: refreshing the tokens failed", "sub", l.Subject, "err", tokenError(err))
		return nil, refreshError(tokenError(err))
	}
	next := &tokenSet{
		AccessToken:  tok.AccessToken,
		RefreshToken: cur.RefreshToken,
		TokenType:    tok.TokenType,
		Expiry:       tok.Expiry,
		Obtained:     now,
		IDToken:      cur.IDToken,
		Claims:       cur.Claims,
		DPoPKey:      cur.DPoPKey, // the refresh token is bound to it
		Version:      cur.Version + 1,
	}
	rotated := tok.RefreshToken != "" && tok.RefreshToken != cur.RefreshToken
	if rotated {
		next.RefreshToken = tok.RefreshToken
	}
	if raw, _ := tok.Extra("id_token").(string); raw != "" {
		if err := a.verifyRefreshedIDToken(ctx, p, l, raw, tok.AccessToken); err != nil {
			a.expireLogin(ctx, l, cur, err)
			// A provider failure to the request (502), and the login is over.
			return nil, newError(ErrIDToken, "invalid_id_token", "The provider's answer could not be verified. Please log in again.",
				fmt.Errorf("%w: the refreshed id_token: %v", errLoginEnded, err)).withStatus(http.StatusBadGateway)
		}
		next.IDToken = raw
		if cur.Claims != nil {
			merged, err := remergeClaims(cur.Claims, raw)
			if err != nil {
				a.log.WarnContext(ctx, "oidcauth: merging the refreshed id_token's claims failed; keeping the previous claims", "sub", l.Subject, "err", err)
				merged = cur.Claims
			}
			next.Claims = merged
		}
	}
	stored, err := a.saveRefreshed(ctx, l, cur, next)
	if err != nil {
		return nil, asTokenError(err)
	}
	if stored != next {
		return stored, nil
	}
	a.log.DebugContext(ctx, "oidcauth: tokens refreshed", "sub", l.Subject, "rotated", rotated, "id_token", next.IDToken != cur.IDToken)
	return next, nil
}

// refreshTokenRefused reports whether the token endpoint refused the
// refresh token itself, which no retry fixes: invalid_grant (RFC 6749
// 5.2), or a 400 invalid_request, which Dex answers for a refresh token that
// is expired, revoked or already used. Other errors (invalid_client, 5xx,
// timeouts) leave the login for a later try.
func refreshTokenRefused(err error) bool {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return false
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	return re.ErrorCode == "invalid_grant" || re.ErrorCode == "invalid_request" && status == http.StatusBadRequest
}

// awaitNewer looks for a token set newer than cur, for up to the race grace.
func (a *Auth) awaitNewer(ctx context.Context, l *login, cur *tokenSet) *tokenSet {
	deadline := time.Now().Add(a.tokens.raceGrace)
	for {
		ts, err := a.loadTokens(ctx, l)
		if err != nil {
			return nil
		}
		if ts.Version != cur.Version || ts.RefreshToken != cur.RefreshToken {
			return ts
		}
		if !time.Now().Before(deadline) {
			return nil
		}
		select {
		case <-time.After(25 * time.Millisecond):
		case <-ctx.Done():
			return nil
		}
	}
}

// expireLogin deletes the token record of l (unless another instance has
// written a newer one since cur) and returns the error that makes the
// session forget the login.
func (a *Auth) expireLogin(ctx context.Context, l *login, cur *tokenSet, cause error) error {
	a.claims.forget(l.ID)
	if ts, err := a.loadTokens(ctx, l); err == nil && ts.Version == cur.Version {
		if err := a.deleteTokens(ctx, l); err != nil {
			a.log.WarnContext(ctx, "oidcauth: deleting the tokens of an ended login failed", "sub", l.Subject, "err", err)
		}
	}
	a.log.InfoContext(ctx, "oidcauth: login ended: its tokens cannot be refreshed", "sub", l.Subject, "sid", l.SessionID, "why", cause)
	return newError(ErrNotLoggedIn, "login_expired", "Your login has expired. Please log in again.",
		fmt.Errorf("%w: %v", errLoginEnded, cause))
}

// verifyRefreshedIDToken checks an id_token from a refresh (OpenID Connect
// Core 12.2): everything verifyIDToken checks (signature, the same iss, aud,
// exp, iat, azp, at_hash, and claims that parse, since they become the
// login's) and the same sub as the login. A nonce is not required and not
// checked.
func (a *Auth) verifyRefreshedIDToken(ctx context.Context, p *provider, l *login, raw, accessToken string) error {
	idt, extra, err := a.verifyIDToken(ctx, p, raw, accessToken)
	if err != nil {
		return err
	}
	if extra.Issuer != a.issuerOf(l) {
		return fmt.Errorf("the refreshed id_token is from the issuer %q, the login from %q", printable(extra.Issuer, 200), a.issuerOf(l))
	}
	if idt.Subject != l.Subject {
		return fmt.Errorf("the refreshed id_token is about sub %q, the login about %q", printable(idt.Subject, 100), printable(l.Subject, 100))
	}
	return nil
}

// followIDToken makes the session's login carry the tag of the token set's
// id_token when it is newer (a refresh brought one), so that the claims
// follow it. It returns the login to use for the rest of the request. A
// request that began before the refresh may write the older login back
// (package doc, "Sessions and records"); its claims are then read from the
// token record once.
func (a *Auth) followIDToken(ctx context.Context, l *login, ts *tokenSet) *login {
	if ts.IDToken == "" || claimsTag(ts.IDToken) == l.Tag {
		return l
	}
	nl := &login{
		ID:        l.ID,
		Subject:   l.Subject,
		SessionID: l.SessionID,
		Issuer:    l.Issuer,
		LoginTime: l.LoginTime,
		Tag:       claimsTag(ts.IDToken),
		Seen:      l.Seen,
		auth:      a,
	}
	a.sm.Put(ctx, sessionKey, nl)
	return nl
}

// refreshAhead is the middleware's step with WithRefreshAhead: it refreshes
// the login's tokens when they are about to expire. It returns the login to
// put in the context; nil means the request was answered (Require) or is
// anonymous (Optional): the login ended, or, for Require, the provider
// failed.
func (a *Auth) refreshAhead(w http.ResponseWriter, r *http.Request, l *login, require bool) *login {
	_, nl, err := a.loginTokens(r.Context(), l, "")
	if err == nil {
		return nl
	}
	if !require {
		if !errors.Is(err, ErrNotLoggedIn) {
			a.log.WarnContext(r.Context(), "oidcauth: refresh ahead failed; serving the request as anonymous", "path", r.URL.Path, "err", err)
		}
		return nil
	}
	a.HandleError(w, r, err)
	return nil
}

// asTokenError makes the errors of the token store *Errors.
func asTokenError(err error) error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return err
	case errors.Is(err, ErrNotLoggedIn):
		return loginRequired(err)
	}
	return sessionError("The session store failed. Please try again later.", err)
}
