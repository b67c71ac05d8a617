package oidcauth

import (
	"net/http"
	"time"
)

// DefaultLivenessInterval is how often, per session, the middleware checks
// that a login has not been ended elsewhere.
const DefaultLivenessInterval = 10 * time.Second

// alive checks, at most once per interval per session, that the login's
// token record still exists. Logout, back-channel logout and EndSessions
// delete it; a request of the session that was under way when they ran
// writes the session back at its end (scs saves a session whole, on every
// request when there is an idle timeout), and a request can last longer
// than any grace period. Without the record the login is over: it is removed
// from the session and the request goes on anonymous. Between checks the
// cost is one clock read; a check is one store read and marks the session
// for saving, which the idle timeout does anyway. A store error fails closed.
//
// It returns the login, or nil when the request is now anonymous; answered
// reports that it answered the request (a store failure).
func (a *Auth) alive(w http.ResponseWriter, r *http.Request, l *login) (_ *login, answered bool) {
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
