package oidcauth

import (
	"net/http"
	"time"
)

// confirmLive checks, at most once per liveness interval per session, that
// the login's token record still exists (a session ended elsewhere can be
// written back by a request that was under way; SECURITY.md, "Ending
// sessions"). Without the record the login is over: the session forgets it
// and the request goes on anonymous. Between checks the cost is one clock
// read; a check is one store read and marks the session for saving. A store
// error fails closed.
//
// It returns the login, or nil when the request is now anonymous; answered
// reports that it answered the request (a store failure).
func (a *Auth) confirmLive(w http.ResponseWriter, r *http.Request, l *login) (_ *login, answered bool) {
	now := time.Now()
	if now.Sub(l.Checked) < a.liveness {
		return l, false
	}
	ctx := r.Context()
	_, found, err := a.storeFind(ctx, tokensKey(l.ID))
	if err != nil {
		a.SessionError(w, r, err)
		return nil, true
	}
	if !found {
		a.claims.forget(l.ID)
		a.sm.Remove(ctx, sessionKey)
		a.log.Info("oidcauth: login ended elsewhere; removed from a session that outlived it", "sub", l.Subject, "sid", l.SessionID)
		return nil, false
	}
	l.Checked = now
	a.sm.Put(ctx, sessionKey, l)
	return l, false
}
