package oidcauth

import (
	"encoding/gob"
	"encoding/json"
	"sync"
	"time"
)

// sessionKey is the scs key of the login; every key oidcauth uses starts
// with "oidcauth." so it never collides with the application's own.
const sessionKey = "oidcauth.login"

// login is what a session holds after a successful login: who the user is,
// nothing that changes on refresh (the tokens are in their own record, see
// tokenSet). It is stored through scs with gob, so its fields are exported;
// the type is not. It is kept small: scs decodes it on every request.
type login struct {
	// ID names the login's token record; random, fixed for the login's life.
	ID string
	// IDToken is the raw, verified id_token of the login: the claims are
	// its payload, and it is the id_token_hint at logout.
	IDToken string
	// Claims holds the raw claims when they are not the id_token's payload
	// (merged with userinfo); usually nil, to keep sessions small.
	Claims    []byte
	Subject   string
	SessionID string
	LoginTime time.Time
	// Checked is when the middleware last found the login's token record
	// (see alive).
	Checked time.Time

	// Per request, never stored: scs decodes a fresh login on every request.
	cache   *claimsCache // set by the middleware
	rawOnce sync.Once
	raw     []byte
	rawErr  error
	stdOnce sync.Once
	std     *Claims
	stdErr  error
}

func init() {
	gob.Register(&login{})
}

// rawClaims returns the claims as JSON, decoding the id_token's payload at
// most once per request and only when asked.
func (l *login) rawClaims() ([]byte, error) {
	if l.Claims != nil {
		return l.Claims, nil
	}
	l.rawOnce.Do(func() { l.raw, l.rawErr = jwtPayload(l.IDToken) })
	return l.raw, l.rawErr
}

// claims returns the parsed standard claims, from the Auth's cache when the
// middleware set one, at most once per request.
func (l *login) claims() (*Claims, error) {
	l.stdOnce.Do(func() {
		if l.cache != nil {
			l.std, l.stdErr = l.cache.get(l)
			return
		}
		l.std, l.stdErr = parseClaims(l)
	})
	return l.std, l.stdErr
}

func parseClaims(l *login) (*Claims, error) {
	raw, err := l.rawClaims()
	if err != nil {
		return nil, err
	}
	c := new(Claims)
	if err := json.Unmarshal(raw, c); err != nil {
		return nil, err
	}
	return c, nil
}
