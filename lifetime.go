package oidcauth

import (
	"context"
)

// sessionEndConfig holds the options about how sessions end: back-channel
// logout and lifetime caps.
type sessionEndConfig struct {
	// sidRequired rejects logout tokens without sid
	// (WithBackchannelLogoutSessionRequired).
	sidRequired bool
}

// sessionStarted runs at login, right after the session token is renewed
// and before anything is saved: it indexes the session so that back-channel
// logout and EndSessions can find it from any instance. An error fails the
// login: a session that could not be indexed could not be ended from the
// provider.
func (a *Auth) sessionStarted(ctx context.Context, l *login) error {
	return a.indexSession(ctx, l)
}
