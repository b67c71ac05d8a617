package oidcauth

import (
	"errors"
	"net/http"
	"time"
)

// confirmLive checks, at most once per liveness interval per login in this
// process, that the login's token record still exists (a session ended
// elsewhere can be written back by a request that was under way;
// SECURITY.md, "Ending sessions"). Without the record the login is over:
// the session forgets it and the request goes on anonymous. Between checks
// the cost is a cache lookup and a clock read, with no store read or write;
// a check is one store read, which also refreshes the cached claims. A
// store error fails closed.
//
// It returns the login, or nil when the request is now anonymous; answered
// reports that it answered the request (a store failure).
func (a *Auth) confirmLive(w http.ResponseWriter, r *http.Request, l *login, now time.Time) (_ *login, answered bool) {
	e := a.claims.get(l.ID, l.Tag)
	if e != nil && now.UnixNano()-e.checked.Load() < int64(a.liveness) {
		return l, false
	}
	ctx := r.Context()
	if a.providerOf(l) == nil {
		// Its provider was removed from the configuration: fail closed.
		a.claims.forget(l.ID)
		a.sm.Remove(ctx, sessionKey)
		a.log.InfoContext(ctx, "oidcauth: login ended: its provider is not configured any more", "sub", l.Subject, "iss", printable(l.Issuer, 200))
		return nil, false
	}
	ts, err := a.loadTokens(ctx, l)
	switch {
	case errors.Is(err, ErrNotLoggedIn):
		a.claims.forget(l.ID)
		a.sm.Remove(ctx, sessionKey)
		a.log.InfoContext(ctx, "oidcauth: login ended elsewhere; removed from a session that outlived it", "sub", l.Subject, "sid", l.SessionID)
		return nil, false
	case err != nil:
		a.SessionError(w, r, err)
		return nil, true
	}
	if e == nil || e.tag != claimsTag(ts.IDToken) {
		if e, err = newClaimsEntry(ts); err != nil {
			a.fail(w, r, idTokenError(err))
			return nil, true
		}
		a.claims.put(l.ID, e)
	}
	e.checked.Store(now.UnixNano())
	return l, false
}
