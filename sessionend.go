package oidcauth

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Ending sessions. A session ends when its record and its login's token
// record are deleted from the Store: its cookie then authenticates on no
// instance. The package doc has the vocabulary (end, expire, forget,
// delete).

// redeleteAfter are the delays after which ended sessions are deleted
// again. A request of the session that is under way when it ends (loaded
// before the delete, answering after it) writes the session back, since scs
// saves a session on every request when there is an idle timeout; deleting
// it again closes that window for every request shorter than the last delay.
var redeleteAfter = [...]time.Duration{2 * time.Second, 15 * time.Second}

// endSessionsIn ends the sessions of list: it deletes them and their token
// records from the Store, so their cookies no longer authenticate on any
// instance, and deletes them again later (see redeleteAfter).
func (a *Auth) endSessionsIn(ctx context.Context, list []indexEntry) error {
	var errs []error
	for _, x := range list {
		a.claims.forget(x.Login)
		if err := a.storeDelete(ctx, x.Key); err != nil {
			errs = append(errs, err)
		}
		if err := a.storeDelete(ctx, tokensKey(x.Login)); err != nil {
			errs = append(errs, err)
		}
	}
	if len(list) > 0 {
		keys := make([]string, 0, 2*len(list))
		for _, x := range list {
			keys = append(keys, x.Key, tokensKey(x.Login))
		}
		a.redeleteLater(keys)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: deleting sessions: %v", ErrSession, err)
	}
	return nil
}

// redeleteLater deletes keys again after each delay of redeleteAfter.
func (a *Auth) redeleteLater(keys []string) {
	if len(keys) == 0 {
		return // nothing ended: no timers
	}
	a.index.redeletes.Add(1)
	for _, d := range a.index.redeleteAfter {
		time.AfterFunc(d, func() { a.redelete(keys) })
	}
}

// redelete deletes keys, in the background: no request waits for it.
func (a *Auth) redelete(keys []string) {
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	for _, k := range keys {
		if err := a.storeDelete(ctx, k); err != nil {
			a.log.Warn("oidcauth: deleting an ended session again failed", "err", err)
			return
		}
	}
}

// EndSessions ends every session of the user whose sub is subject, on every
// instance that shares the session Store: their cookies no longer
// authenticate, and their tokens are revoked at the provider when it has a
// revocation endpoint (best effort, within the timeout). Use it when an
// administrator disables a user. It does not stop new logins: refuse the
// user in the application, or disable them at the provider too.
//
// It finds the sessions that logged in since this version of oidcauth
// indexes them. An empty subject is an error wrapping [ErrBadRequest]; a
// store failure one wrapping [ErrSession], after which some sessions may
// have ended. A sub is an issuer's: with WithMultiTenantIssuer or several
// providers (WithProvider), name the issuer with [Auth.EndIssuerSessions];
// EndSessions is then an error wrapping [ErrBadRequest].
func (a *Auth) EndSessions(ctx context.Context, subject string) error {
	p := a.primary()
	switch {
	case p.tenancy != nil:
		return fmt.Errorf("%w: EndSessions: with a multi-tenant issuer, name the tenant's issuer with EndIssuerSessions", ErrBadRequest)
	case a.several():
		return fmt.Errorf("%w: EndSessions: with several providers, name the user's issuer with EndIssuerSessions", ErrBadRequest)
	}
	return a.endSubjectSessions(ctx, p, p.issuer, subject)
}

// EndIssuerSessions is [Auth.EndSessions] for the user whose sub is subject
// at issuer: a provider's issuer, or with WithMultiTenantIssuer the issuer
// of one of its allowed tenants (the iss claim of the user's id_token).
// Another issuer is an error wrapping [ErrBadRequest].
func (a *Auth) EndIssuerSessions(ctx context.Context, issuer, subject string) error {
	p := a.providerOfIssuer(issuer)
	if p == nil {
		return fmt.Errorf("%w: EndIssuerSessions: %q is not a provider's issuer", ErrBadRequest, printable(issuer, 200))
	}
	return a.endSubjectSessions(ctx, p, issuer, subject)
}

// endSubjectSessions ends the sessions of subject at issuer, in a span
// oidcauth.end_sessions that counts them (oidcauth.sessions).
func (a *Auth) endSubjectSessions(ctx context.Context, p *provider, issuer, subject string) (err error) {
	ctx, span := p.tel.startSpan(ctx, spanEndSessions)
	defer func() { endSpan(span, err) }()
	if subject == "" {
		return fmt.Errorf("%w: EndSessions: the subject is empty", ErrBadRequest)
	}
	list, err := a.indexRead(ctx, subIndexKey(issuer, subject))
	if err != nil {
		return err
	}
	span.SetAttributes(attrSessions.Int(len(list)))
	if len(list) == 0 {
		return nil
	}
	// Read the tokens before deleting them, revoke after: the sessions end
	// at once, whatever the provider's speed.
	var sets []*tokenSet
	if p.meta.RevocationEndpoint != "" {
		for _, x := range list {
			if ts, err := a.loadTokens(ctx, &login{ID: x.Login}); err == nil {
				sets = append(sets, ts)
			}
		}
	}
	err = a.endSessionsIn(ctx, list)
	a.log.InfoContext(ctx, "oidcauth: ended the sessions of a user", "sub", subject, "sessions", len(list))
	a.revokeTokenSets(ctx, p, sets)
	return err
}
