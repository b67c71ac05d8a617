package oidcauth

import (
	"context"
	"encoding/json"
	"time"
)

// ctxKey is the context key under which the middleware puts the login.
type ctxKey struct{}

// Claims are the standard claims of the logged-in user (OpenID Connect Core
// 2 and 5.1). Claims the provider did not send are zero.
type Claims struct {
	Issuer              string    `json:"iss"`
	Subject             string    `json:"sub"`
	Audience            []string  `json:"aud"`
	Expiry              time.Time `json:"exp"`
	IssuedAt            time.Time `json:"iat"`
	AuthTime            time.Time `json:"auth_time"`
	AuthorizedParty     string    `json:"azp"`
	SessionID           string    `json:"sid"`
	ACR                 string    `json:"acr"`
	AMR                 []string  `json:"amr"`
	Name                string    `json:"name"`
	GivenName           string    `json:"given_name"`
	FamilyName          string    `json:"family_name"`
	MiddleName          string    `json:"middle_name"`
	Nickname            string    `json:"nickname"`
	PreferredUsername   string    `json:"preferred_username"`
	Profile             string    `json:"profile"`
	Picture             string    `json:"picture"`
	Website             string    `json:"website"`
	Email               string    `json:"email"`
	EmailVerified       bool      `json:"email_verified"`
	Gender              string    `json:"gender"`
	Birthdate           string    `json:"birthdate"`
	ZoneInfo            string    `json:"zoneinfo"`
	Locale              string    `json:"locale"`
	PhoneNumber         string    `json:"phone_number"`
	PhoneNumberVerified bool      `json:"phone_number_verified"`
}

// UnmarshalJSON reads claims as providers send them: aud as a string or an
// array, times as numbers, and booleans also as "true"/"false" strings.
func (c *Claims) UnmarshalJSON(b []byte) error {
	type plain Claims
	var v struct {
		*plain
		Audience            json.RawMessage `json:"aud"`
		Expiry              *jsonTime       `json:"exp"`
		IssuedAt            *jsonTime       `json:"iat"`
		AuthTime            *jsonTime       `json:"auth_time"`
		EmailVerified       json.RawMessage `json:"email_verified"`
		PhoneNumberVerified json.RawMessage `json:"phone_number_verified"`
	}
	v.plain = (*plain)(c)
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	c.Audience = nil
	if len(v.Audience) > 0 && v.Audience[0] == '"' {
		var s string
		if err := json.Unmarshal(v.Audience, &s); err != nil {
			return err
		}
		c.Audience = []string{s}
	} else if len(v.Audience) > 0 && string(v.Audience) != "null" {
		if err := json.Unmarshal(v.Audience, &c.Audience); err != nil {
			return err
		}
	}
	c.Expiry, c.IssuedAt, c.AuthTime = v.Expiry.time().UTC(), v.IssuedAt.time().UTC(), v.AuthTime.time().UTC()
	c.EmailVerified = looseBool(v.EmailVerified)
	c.PhoneNumberVerified = looseBool(v.PhoneNumberVerified)
	return nil
}

func looseBool(raw json.RawMessage) bool {
	s := string(raw)
	return s == "true" || s == `"true"`
}

// ClaimsFromContext returns the standard claims of the logged-in user. They
// are parsed once per login and cached, so reading them costs a handler
// next to nothing. ok is false for an anonymous request. The result is
// shared: do not modify it.
func ClaimsFromContext(ctx context.Context) (c *Claims, ok bool) {
	l, _ := ctx.Value(ctxKey{}).(*login)
	if l == nil {
		return nil, false
	}
	e, err := l.claims(ctx)
	if err != nil {
		return nil, false
	}
	return e.claims, true
}

// RawClaimsFromContext returns the logged-in user's claims as JSON, as the
// provider sent them (merged with userinfo when that option is on).
func RawClaimsFromContext(ctx context.Context) (json.RawMessage, bool) {
	l, _ := ctx.Value(ctxKey{}).(*login)
	if l == nil {
		return nil, false
	}
	e, err := l.claims(ctx)
	if err != nil {
		return nil, false
	}
	return e.raw, true
}

// DecodeClaims decodes the logged-in user's claims into v, the
// application's own struct. It returns ErrNotLoggedIn for an anonymous
// request.
func DecodeClaims(ctx context.Context, v any) error {
	raw, ok := RawClaimsFromContext(ctx)
	if !ok {
		return ErrNotLoggedIn
	}
	return json.Unmarshal(raw, v)
}
