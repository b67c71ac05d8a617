package oidcauth

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"sync"
	"time"
)

// sessionKey is the scs key of the login; every key oidcauth uses starts
// with "oidcauth." so it never collides with the application's own.
const sessionKey = "oidcauth.login"

// login is what a session holds after a successful login: who the user is,
// and a tag of the claims' source. It is decoded on every request, so it is
// small (a few dozen bytes, whatever the id_token's size): the id_token and
// merged claims live in the login's token record (tokenSet), and the
// parsed claims in the Auth's claims cache. Through scs's gob codec its
// fields are exported; the type is not.
type login struct {
	// ID names the login's token record; random, fixed for the login's life.
	ID        string
	Subject   string
	SessionID string
	// Issuer is the iss of the login's id_token; "" for New's provider's
	// own issuer (issuerOf), which keeps those sessions as small.
	Issuer    string
	LoginTime time.Time
	// Tag tells the claims' source apart: the end of the newest id_token's
	// signature (claimsTag). A refresh that brings a new id_token changes it.
	Tag string
	// Seen is when the session was last touched, for oidcauth's own
	// manager's idle timeout (touch.go); zero with an application's manager.
	Seen time.Time

	// Per request, never stored: a fresh login is decoded on every request.
	auth    *Auth // set by the middleware
	once    sync.Once
	entry   *claimsEntry
	loadErr error
}

func init() {
	gob.Register(&login{})
}

// issuerOf is the issuer l logged in at: its id_token's iss. It is kept
// in the login only when it is not New's provider's issuer (another
// provider's, or a tenant's of a multi-tenant issuer).
func (a *Auth) issuerOf(l *login) string {
	if l.Issuer == "" {
		return a.primary().issuer
	}
	return l.Issuer
}

// claimsTag is the tag of the claims of idToken: the end of its signature.
func claimsTag(idToken string) string {
	return idToken[max(0, len(idToken)-signatureTailLen):]
}

// errNoClaims means a login reached a handler without the middleware.
var errNoClaims = errors.New("oidcauth: the login's claims are read through Require, Optional or an accessor")

// claims returns the login's claims, raw and parsed, from the Auth's cache,
// or from its token record when the cache does not have them; at most once
// per request.
func (l *login) claims(ctx context.Context) (*claimsEntry, error) {
	l.once.Do(func() {
		if l.auth == nil {
			l.loadErr = errNoClaims
			return
		}
		l.entry, l.loadErr = l.auth.loginClaims(ctx, l)
	})
	return l.entry, l.loadErr
}

// loginClaims returns the claims of l: cached when the cache has the same
// source, else read from the token record, parsed and cached.
func (a *Auth) loginClaims(ctx context.Context, l *login) (*claimsEntry, error) {
	if e := a.claims.get(l.ID, l.Tag); e != nil {
		return e, nil
	}
	ts, err := a.loadTokens(ctx, l)
	if err != nil {
		return nil, err
	}
	e, err := newClaimsEntry(ts)
	if err != nil {
		return nil, fmt.Errorf("%w: the login's claims do not parse: %v", ErrIDToken, err)
	}
	a.claims.put(l.ID, e)
	return e, nil
}
