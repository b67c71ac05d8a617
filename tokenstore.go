package oidcauth

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// tokenSet is a login's tokens. It is kept as its own record in the scs
// Store, keyed by the login's ID, not inside the session: scs saves a session
// whole at the end of each request, so a request that started before a
// refresh would otherwise write the rotated-away refresh token back.
type tokenSet struct {
	AccessToken  string    `json:"a,omitempty"`
	RefreshToken string    `json:"r,omitempty"`
	TokenType    string    `json:"t,omitempty"`
	Expiry       time.Time `json:"e,omitzero"` // of the access token; zero when unknown
	// Obtained is when the access token was issued, for its lifetime.
	Obtained time.Time `json:"o,omitzero"`
	// IDToken is the newest id_token, refreshed ones included: the source
	// of the claims, and the id_token_hint at logout.
	IDToken string `json:"i,omitempty"`
	// Claims are the claims merged with userinfo (WithUserInfoClaims), or
	// nil: the id_token's payload is the claims.
	Claims []byte `json:"c,omitempty"`
	// DPoPKey is the login's DPoP key pair as a private JWK (WithDPoP), the
	// same for the whole login: its tokens are bound to it.
	DPoPKey json.RawMessage `json:"k,omitempty"`
	// Version counts the writes, so a refresh can tell a newer set apart.
	Version int `json:"v"`

	// parsed are the claims of the id_token parsedFrom as the callback's
	// verification read them (not stored): newClaimsEntry's, while IDToken
	// is still that token and Claims is nil.
	parsed     *Claims
	parsedFrom string
}

// loadTokens reads the token set of l. A missing record means the login's
// tokens are gone (logged out elsewhere, or expired).
func (a *Auth) loadTokens(ctx context.Context, l *login) (*tokenSet, error) {
	b, found, err := a.storeFind(ctx, tokensKey(l.ID))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the tokens: %v", ErrSession, err)
	}
	if !found {
		return nil, fmt.Errorf("%w: the login's tokens are gone", ErrNotLoggedIn)
	}
	if b, err = a.openTokens(b); err != nil {
		return nil, fmt.Errorf("%w: the token record does not decrypt: %v", ErrSession, err)
	}
	var ts tokenSet
	if err := json.Unmarshal(b, &ts); err != nil {
		return nil, fmt.Errorf("%w: the token record is corrupt: %v", ErrSession, err)
	}
	return &ts, nil
}

// saveTokens writes the token set of l; it lives as long as the session can.
func (a *Auth) saveTokens(ctx context.Context, l *login, ts *tokenSet, expiry time.Time) error {
	b, err := json.Marshal(ts)
	if err != nil {
		return err
	}
	b = a.sealTokens(b)
	if err := a.storeCommit(ctx, tokensKey(l.ID), b, expiry); err != nil {
		return fmt.Errorf("%w: saving the tokens: %v", ErrSession, err)
	}
	return nil
}

// deleteTokens removes the token set of l.
func (a *Auth) deleteTokens(ctx context.Context, l *login) error {
	return a.storeDelete(ctx, tokensKey(l.ID))
}

// sealedTokens starts a token record encrypted with WithTokenEncryption; a
// plain record is JSON and starts with '{'.
const sealedTokens = 'E'

// sealTokens encrypts a token record with the first key, when there is one.
func (a *Auth) sealTokens(plain []byte) []byte {
	if len(a.tokenAEADs) == 0 {
		return plain
	}
	aead := a.tokenAEADs[0]
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plain)+aead.Overhead())
	out[0] = sealedTokens
	rand.Read(out[1:])
	return aead.Seal(out, out[1:], plain, nil)
}

// openTokens decrypts a token record with any of the keys; a plain record
// (written before WithTokenEncryption) is returned as it is.
func (a *Auth) openTokens(b []byte) ([]byte, error) {
	if len(b) == 0 || b[0] != sealedTokens {
		return b, nil
	}
	for _, aead := range a.tokenAEADs {
		n := aead.NonceSize()
		if len(b) < 1+n+aead.Overhead() {
			break
		}
		if plain, err := aead.Open(nil, b[1:1+n], b[1+n:], nil); err == nil {
			return plain, nil
		}
	}
	return nil, errors.New("no key of WithTokenEncryption opens it")
}
