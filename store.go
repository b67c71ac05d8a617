package oidcauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"time"

	"github.com/alexedwards/scs/v2"
)

// oidcauth's own records live in the session manager's scs Store, beside
// the sessions, so that every instance sharing the Store sees them. Their
// keys all start with keyPrefix and are built only here:
//
//	oidcauth\pending.<hash of state>     a login under way (start.go)
//	oidcauth\tokens.<login ID>           a login's tokens (tokenstore.go)
//	oidcauth\lease.<login ID>            the refresh lease of a login (lease.go)
//	oidcauth\sid.<hash of issuer, sid>   the sessions of a provider session (sessionindex.go)
//	oidcauth\sub.<hash of issuer, sub>   the sessions of a user (sessionindex.go)
//	oidcauth\jti.<hash of issuer, jti>   a logout token already used (backchannel.go)
//
// The issuer in these keys is the token's own iss: the Auth's issuer, or
// with WithMultiTenantIssuer the tenant's (tenant.go), so that two tenants'
// or providers' equal sid, sub or jti never meet. For an Auth of one issuer
// the keys are those of every earlier version: existing index entries are
// found as they are, nothing to migrate (TestIndexKeysUnchanged).
//
// A session itself is stored under its token, or the token's hash with
// HashTokenInStore (sessionStoreKey). scs looks a session up by its cookie's
// value, so no cookie may name one of these records: the backslash of
// keyPrefix is a byte no cookie value can carry (RFC 6265 4.1.1's
// cookie-octet excludes it, and net/http drops a cookie that has one), and a
// hashed token is base64url. SECURITY.md, "Session cookies cannot name
// oidcauth's records".

// keyPrefix starts every key of oidcauth's own records.
const keyPrefix = "oidcauth\\"

// The kinds of record, each a prefix of its keys.
const (
	usedPrefix   = keyPrefix + "used."
	tokensPrefix = keyPrefix + "tokens."
	leasePrefix  = keyPrefix + "lease."
	sidPrefix    = keyPrefix + "sid."
	subPrefix    = keyPrefix + "sub."
	jtiPrefix    = keyPrefix + "jti."
	endedPrefix  = keyPrefix + "ended."
)

// loginKeyKey names the key that seals logins under way.
const loginKeyKey = keyPrefix + "key.login"

func usedStateKey(stateHash string) string { return usedPrefix + stateHash }

func tokensKey(loginID string) string { return tokensPrefix + loginID }

func leaseKey(loginID string) string { return leasePrefix + loginID }

func sidIndexKey(issuer, sid string) string { return sidPrefix + hashString(issuer+"\x00"+sid) }

func subIndexKey(issuer, sub string) string { return subPrefix + hashString(issuer+"\x00"+sub) }

func jtiKey(issuer, jti string) string { return jtiPrefix + hashString(issuer+"\x00"+jti) }

// endedKey names the record of a back-channel logout of a provider session
// (claim "sid") or of a user (claim "sub").
func endedKey(issuer, claim, value string) string {
	return endedPrefix + claim + "." + hashString(issuer+"\x00"+value)
}

// sessionStoreKey is the key under which scs stores the session of token:
// with HashTokenInStore, scs stores it under base64url(SHA-256(token)).
func (a *Auth) sessionStoreKey(token string) string {
	if a.sm.HashTokenInStore {
		return hashString(token)
	}
	return token
}

// hashString is base64url(SHA-256(s)), the form of every hash in a key.
func hashString(s string) string {
	h := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// storeFind, storeCommit and storeDelete read and write oidcauth's records
// in the session manager's Store (read at each call: an application may
// swap it), with the request's context when the Store takes one.

func (a *Auth) storeFind(ctx context.Context, key string) ([]byte, bool, error) {
	if s, ok := a.sm.Store.(scs.CtxStore); ok {
		return s.FindCtx(ctx, key)
	}
	return a.sm.Store.Find(key)
}

func (a *Auth) storeCommit(ctx context.Context, key string, b []byte, expiry time.Time) error {
	if s, ok := a.sm.Store.(scs.CtxStore); ok {
		return s.CommitCtx(ctx, key, b, expiry)
	}
	return a.sm.Store.Commit(key, b, expiry)
}

func (a *Auth) storeDelete(ctx context.Context, key string) error {
	if s, ok := a.sm.Store.(scs.CtxStore); ok {
		return s.DeleteCtx(ctx, key)
	}
	return a.sm.Store.Delete(key)
}
