package oidcauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Hooks let an application take part in a login and a logout without
// wrapping oidcauth's handlers.

// LoginHook runs after a login is verified (id_token, nonce, requested
// authentication, userinfo when asked) and before its session is written.
// claims are the login's claims as JSON. It returns the claims to keep
// (nil keeps them as they are), which must be a JSON object with the same
// iss and sub; or an error, which refuses the login: the user gets a 403
// page (JSON for APIs) and keeps the session they had. [RefuseLogin] makes
// an error whose reason the user sees; any other error's text is only
// logged.
type LoginHook func(ctx context.Context, claims json.RawMessage) (json.RawMessage, error)

// LogoutHook runs after [Auth.LogoutHandler] has ended a session, with the
// subject and sid (possibly empty) of its login.
type LogoutHook func(ctx context.Context, subject, sessionID string)

// WithLoginHook sets the hook run on every login before its session is
// written.
func WithLoginHook(h LoginHook) Option {
	return func(c *config) error {
		if h == nil {
			return optionError("WithLoginHook", "the hook is nil")
		}
		c.loginHook = h
		return nil
	}
}

// WithLogoutHook sets the hook run after every logout by the logout handler.
func WithLogoutHook(h LogoutHook) Option {
	return func(c *config) error {
		if h == nil {
			return optionError("WithLogoutHook", "the hook is nil")
		}
		c.logoutHook = h
		return nil
	}
}

// RefuseLogin returns the error a [LoginHook] returns to refuse a login;
// reason is shown to the user (escaped) and logged.
func RefuseLogin(reason string) error {
	return newError(ErrForbidden, "access_denied", reason, errors.New("the login hook refused the login: "+reason))
}

// runLoginHook runs the login hook on the claims of ts and keeps what it
// returns as the login's claims.
func (a *Auth) runLoginHook(ctx context.Context, ts *tokenSet) error {
	if a.loginHook == nil {
		return nil
	}
	raw := ts.Claims
	if raw == nil {
		var err error
		if raw, err = jwtPayload(ts.IDToken); err != nil {
			return idTokenError(err)
		}
	}
	out, err := a.loginHook(ctx, bytes.Clone(raw))
	if err != nil {
		var e *Error
		if errors.As(err, &e) && errors.Is(e.Kind, ErrForbidden) {
			return e
		}
		return forbidden(fmt.Errorf("the login hook refused the login: %w", err)).withDescription("Your login was refused.")
	}
	if out == nil {
		return nil
	}
	if err := sameIdentity(raw, out); err != nil {
		return newError(ErrSession, "server_error", "The login could not be completed.", fmt.Errorf("the login hook's claims: %w", err))
	}
	if len(out) > a.maxClaims {
		return newError(ErrSession, "server_error", "The login could not be completed.",
			fmt.Errorf("the login hook's claims are %d bytes, more than the %d this application stores (WithMaxClaimsSize)", len(out), a.maxClaims))
	}
	ts.Claims = out
	return nil
}

// sameIdentity checks that claims b are a JSON object with the iss and sub
// of claims a.
func sameIdentity(a, b []byte) error {
	type id struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
	}
	var x, y id
	if err := json.Unmarshal(a, &x); err != nil {
		return err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return errors.New("not a JSON object")
	}
	if err := json.Unmarshal(b, &y); err != nil {
		return err
	}
	if x != y {
		return errors.New("iss or sub changed")
	}
	return nil
}
