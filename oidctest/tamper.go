package oidctest

import "time"

// Tamper makes the provider misbehave, for negative tests. The zero value
// misbehaves in no way.
type Tamper struct {
	// IDTokenClaims edits the claims of every id_token before it is signed
	// (delete "sub", set "iss", "aud", "nonce", "exp"...).
	IDTokenClaims func(claims map[string]any)
	// Alg signs id_tokens with another algorithm: "none" (unsigned) or
	// "HS256" (an HMAC keyed with the public key, the algorithm-confusion
	// attack).
	Alg string
	// BadSignature corrupts the id_token's signature.
	BadSignature bool
	// NoKeyID leaves kid out of the id_token's header.
	NoKeyID bool
	// UnknownKey signs id_tokens with a key that is not in the JWKS.
	UnknownKey bool
	// NoIDToken leaves id_token out of token responses.
	NoIDToken bool
	// TokenStatus and TokenBody replace the token endpoint's answer when
	// TokenStatus is not zero.
	TokenStatus int
	TokenBody   string
	// TokenDelay delays the token endpoint's answer.
	TokenDelay time.Duration
	// JWKSStatus and JWKSBody replace the JWKS endpoint's answer when
	// JWKSStatus is not zero.
	JWKSStatus int
	JWKSBody   string
	// UserInfoClaims edits the userinfo response.
	UserInfoClaims func(claims map[string]any)
	// AuthorizeError makes the authorization endpoint answer with this error
	// code (access_denied, login_required...) and AuthorizeErrorDescription.
	AuthorizeError            string
	AuthorizeErrorDescription string
	// Iss, when set, is the iss parameter sent on authorization responses
	// instead of the issuer (RFC 9207 mix-up tests).
	Iss string
	// DPoPTokenType replaces the token_type of token responses, e.g.
	// "Bearer" for a DPoP-bound token.
	DPoPTokenType string
	// RotateDPoPNonce makes a new DPoP nonce for every response
	// (Config.DPoPNonce), so no proof ever carries the current one.
	RotateDPoPNonce bool
	// Metadata edits the discovery document.
	Metadata func(doc map[string]any)
	// PARStatus and PARBody replace the pushed authorization endpoint's
	// answer when PARStatus is not zero; PARDelay delays it.
	PARStatus int
	PARBody   string
	PARDelay  time.Duration
}
