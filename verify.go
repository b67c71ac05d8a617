package oidcauth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// newIDTokenVerifier is go-oidc's verifier of the provider's id_tokens:
// signature with a key of keys and one of algs, iss, aud and exp. go-oidc
// has no leeway for exp: it checks it against a clock set back by skew.
// With a multi-tenant issuer it cannot check iss: verifyIDToken does
// (tokenIssuer).
func newIDTokenVerifier(issuer string, tenants bool, keys oidc.KeySet, clientID string, algs []string, skew time.Duration) *oidc.IDTokenVerifier {
	return oidc.NewVerifier(issuer, keys, &oidc.Config{
		ClientID:             clientID,
		SupportedSigningAlgs: algs,
		SkipIssuerCheck:      tenants,
		Now:                  func() time.Time { return time.Now().Add(-skew) },
	})
}

// verifyTokens checks the token response of a code exchange and returns the
// login and the tokens to store, against the login's provider p. nonce is
// the pending login's.
func (a *Auth) verifyTokens(r *http.Request, p *provider, tok *oauth2.Token, pending *pendingLogin) (_ *login, _ *tokenSet, err error) {
	ctx, span := p.tel.startSpan(r.Context(), spanIDTokenVerify)
	defer func() { endSpan(span, err) }()
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, nil, idTokenError(errors.New("the token response has no id_token"))
	}
	idt, extra, err := a.verifyIDToken(ctx, p, raw, tok.AccessToken)
	if err != nil {
		return nil, nil, idTokenError(err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(pending.Nonce)) != 1 {
		return nil, nil, idTokenError(errors.New("the nonce does not match the login's"))
	}
	if err := a.checkAuthentication(p, extra, pending); err != nil {
		return nil, nil, err
	}
	l := &login{
		ID:        random(24),
		Subject:   idt.Subject,
		SessionID: extra.SessionID,
		LoginTime: time.Now().UTC(),
		Tag:       claimsTag(raw),
		Seen:      time.Now(),
	}
	if extra.Issuer != a.primary().issuer {
		l.Issuer = extra.Issuer // else issuerOf knows it: sessions stay as small
	}
	ts := &tokenSet{
		AccessToken:  tok.AccessToken,
		RefreshToken: tok.RefreshToken,
		TokenType:    tok.TokenType,
		Expiry:       tok.Expiry,
		Obtained:     time.Now(),
		IDToken:      raw,
		Version:      1,
		parsed:       &extra.Claims,
		parsedFrom:   raw,
	}
	return l, ts, nil
}

// idTokenExtra are the claims go-oidc does not check or expose, read with
// the standard claims in one decoding: Claims as the request context gives
// them (azp, sid and acr among them), and the time claims this package
// checks as strict JSON numbers, whose iat and auth_time verifyIDToken
// copies into Claims.
type idTokenExtra struct {
	Claims
	IssuedAt  *jsonTime `json:"iat"`
	NotBefore *jsonTime `json:"nbf"`
	AuthTime  *jsonTime `json:"auth_time"`
	// TenantID is a multi-tenant issuer's tenant (tenant.go).
	TenantID string `json:"tid"`
	// Issuer is the token's iss, checked by tokenIssuer.
	Issuer string `json:"-"`
}

// verifyIDToken checks an id_token: go-oidc checks the signature against the
// key set with the accepted algorithms, iss, aud, exp (with leeway) and nbf;
// this adds what it lacks: claims that decode (the standard ones with their
// types, which become the login's), iss again and a multi-tenant issuer's
// rules (tokenIssuer), sub and iat present, iat not in the future, azp
// when present or when aud has several values, and at_hash when present.
// The nonce is the caller's to check (it differs for refreshed tokens).
func (a *Auth) verifyIDToken(ctx context.Context, p *provider, raw, accessToken string) (*oidc.IDToken, *idTokenExtra, error) {
	if len(raw) > a.maxClaims {
		return nil, nil, fmt.Errorf("the id_token is %d bytes, more than the %d this application stores (WithMaxClaimsSize)", len(raw), a.maxClaims)
	}
	idt, err := p.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, nil, err
	}
	var extra idTokenExtra
	if err := idt.Claims(&extra); err != nil {
		return nil, nil, err
	}
	if extra.IssuedAt != nil {
		extra.Claims.IssuedAt = NumericDate{extra.IssuedAt.time().UTC()}
	}
	if extra.AuthTime != nil {
		extra.Claims.AuthTime = NumericDate{extra.AuthTime.time().UTC()}
	}
	if extra.Issuer, err = p.tokenIssuer(idt.Issuer, extra.TenantID); err != nil {
		return nil, nil, err
	}
	if idt.Subject == "" {
		return nil, nil, errors.New("the id_token has no sub")
	}
	if extra.IssuedAt == nil || idt.IssuedAt.IsZero() {
		return nil, nil, errors.New("the id_token has no iat")
	}
	// go-oidc allows nbf five minutes ahead; the configured leeway is the rule.
	if nbf := extra.NotBefore.time(); !nbf.IsZero() && nbf.After(time.Now().Add(a.clockSkew)) {
		return nil, nil, fmt.Errorf("the id_token is not valid before %v (nbf)", nbf)
	}
	if idt.IssuedAt.After(time.Now().Add(a.clockSkew)) {
		return nil, nil, fmt.Errorf("the id_token was issued in the future (iat %v)", idt.IssuedAt)
	}
	if extra.AuthorizedParty != "" && extra.AuthorizedParty != p.clientID {
		return nil, nil, fmt.Errorf("the id_token's azp is %q, not this client", extra.AuthorizedParty)
	}
	if len(idt.Audience) > 1 && extra.AuthorizedParty == "" {
		return nil, nil, fmt.Errorf("the id_token has several audiences %q and no azp", idt.Audience)
	}
	if !slices.Contains(idt.Audience, p.clientID) {
		return nil, nil, fmt.Errorf("the id_token's aud %q does not include this client", idt.Audience)
	}
	if idt.AccessTokenHash != "" && accessToken != "" {
		if err := idt.VerifyAccessToken(accessToken); err != nil {
			return nil, nil, errors.New("the id_token's at_hash does not match the access token")
		}
	}
	return idt, &extra, nil
}
