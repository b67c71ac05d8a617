package oidcauth

import (
	"context"
	"encoding/json"
)

// ctxKey is the context key under which the middleware puts the login.
type ctxKey struct{}

// Claims are the standard claims of the logged-in user (OpenID Connect Core
// 2 and 5.1). Claims the provider did not send are zero.
//
// Claims decodes with encoding/json as providers send them: aud as a string
// or an array ([Audience]), times as numbers ([NumericDate]), booleans also
// as "true"/"false" strings ([Bool]). Each field's type reads its own forms,
// so an application's struct can embed Claims beside its own claims and
// decode both with [DecodeClaims]:
//
//	var c struct {
//		oidcauth.Claims
//		Groups []string `json:"groups"`
//	}
//	err := oidcauth.DecodeClaims(r.Context(), &c)
type Claims struct {
	Issuer              string      `json:"iss"`
	Subject             string      `json:"sub"`
	Audience            Audience    `json:"aud"`
	Expiry              NumericDate `json:"exp"`
	IssuedAt            NumericDate `json:"iat"`
	AuthTime            NumericDate `json:"auth_time"`
	AuthorizedParty     string      `json:"azp"`
	SessionID           string      `json:"sid"`
	ACR                 string      `json:"acr"`
	AMR                 []string    `json:"amr"`
	Name                string      `json:"name"`
	GivenName           string      `json:"given_name"`
	FamilyName          string      `json:"family_name"`
	MiddleName          string      `json:"middle_name"`
	Nickname            string      `json:"nickname"`
	PreferredUsername   string      `json:"preferred_username"`
	Profile             string      `json:"profile"`
	Picture             string      `json:"picture"`
	Website             string      `json:"website"`
	Email               string      `json:"email"`
	EmailVerified       Bool        `json:"email_verified"`
	Gender              string      `json:"gender"`
	Birthdate           string      `json:"birthdate"`
	ZoneInfo            string      `json:"zoneinfo"`
	Locale              string      `json:"locale"`
	PhoneNumber         string      `json:"phone_number"`
	PhoneNumberVerified Bool        `json:"phone_number_verified"`
}

// ClaimsFromContext returns the standard claims of the logged-in user. They
// are parsed once per login and cached, so reading them costs a handler
// next to nothing. ok is false for an anonymous request. The result is
// shared: do not modify it.
func ClaimsFromContext(ctx context.Context) (c *Claims, ok bool) {
	if e := contextClaims(ctx); e != nil {
		return e.claims, true
	}
	return nil, false
}

// RawClaimsFromContext returns the logged-in user's claims as JSON, as the
// provider sent them (merged with userinfo when that option is on).
func RawClaimsFromContext(ctx context.Context) (json.RawMessage, bool) {
	if e := contextClaims(ctx); e != nil {
		return e.raw, true
	}
	return nil, false
}

// contextClaims returns the claims of the login in ctx, or nil.
func contextClaims(ctx context.Context) *claimsEntry {
	l, _ := ctx.Value(ctxKey{}).(*login)
	if l == nil {
		return nil
	}
	e, err := l.claims(ctx)
	if err != nil {
		return nil
	}
	return e
}

// DecodeClaims decodes the logged-in user's claims into v, the
// application's own struct, which may embed [Claims] (see there). It
// returns ErrNotLoggedIn for an anonymous request.
func DecodeClaims(ctx context.Context, v any) error {
	raw, ok := RawClaimsFromContext(ctx)
	if !ok {
		return ErrNotLoggedIn
	}
	return json.Unmarshal(raw, v)
}
