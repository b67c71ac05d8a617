package oidcauth

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// sessionEndConfig holds the options about how sessions end: back-channel
// logout and lifetime caps.
type sessionEndConfig struct {
	// sidRequired rejects logout tokens without sid
	// (WithBackchannelLogoutSessionRequired).
	sidRequired bool
	// capByIDToken caps a session at its id_token's exp
	// (WithSessionCappedByIDToken).
	capByIDToken bool
}

// sessionStarted runs at login, right after the session token is renewed
// and before anything is saved: it caps the session's deadline when asked,
// then indexes the session so that back-channel logout and EndSessions can
// find it from any instance. An error fails the login: a session that could
// not be indexed could not be ended from the provider.
func (a *Auth) sessionStarted(ctx context.Context, l *login) error {
	if a.sessionEnd.capByIDToken {
		if err := a.capDeadline(ctx, l); err != nil {
			return err
		}
	}
	return a.indexSession(ctx, l)
}

// capDeadline moves the session's absolute deadline to the id_token's exp
// when that comes first. scs stores the deadline with the session and expires
// the record with it, so requests pay nothing for the cap.
func (a *Auth) capDeadline(ctx context.Context, l *login) error {
	payload, err := jwtPayload(l.IDToken)
	if err != nil {
		return fmt.Errorf("reading the id_token's exp: %w", err)
	}
	var c struct {
		Exp json.Number `json:"exp"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return fmt.Errorf("reading the id_token's exp: %v", err)
	}
	f, err := c.Exp.Float64()
	if err != nil {
		return fmt.Errorf("the id_token's exp is not a number: %v", err)
	}
	exp := time.Unix(int64(f), 0)
	// The verifier accepted exp up to the clock skew in the past; a session
	// ending at once would send the browser straight back to the provider.
	if floor := time.Now().Add(a.clockSkew); exp.Before(floor) {
		exp = floor
	}
	if exp.Before(a.sm.Deadline(ctx)) {
		a.sm.SetDeadline(ctx, exp.UTC())
	}
	return nil
}
