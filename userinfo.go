package oidcauth

import (
	"encoding/json"
	"slices"
)

// idTokenOnlyClaims are the claims about the token and the authentication,
// not the user: merged claims always take them from the id_token.
var idTokenOnlyClaims = []string{
	"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "auth_time", "nonce",
	"acr", "amr", "azp", "sid", "at_hash", "c_hash", "s_hash",
}

// mergeClaims returns the id_token's claims with the user claims of other
// (userinfo, or earlier merged claims) laid over them.
func mergeClaims(idToken []byte, other map[string]json.RawMessage) ([]byte, error) {
	var merged map[string]json.RawMessage
	if err := json.Unmarshal(idToken, &merged); err != nil {
		return nil, err
	}
	for k, v := range other {
		if !slices.Contains(idTokenOnlyClaims, k) {
			merged[k] = v
		}
	}
	return json.Marshal(merged)
}

// remergeClaims merges the claims of a refreshed id_token with the user
// claims of a login's merged claims: userinfo's values, fetched at login,
// still win over the id_token's.
func remergeClaims(merged []byte, idToken string) ([]byte, error) {
	payload, err := jwtPayload(idToken)
	if err != nil {
		return nil, err
	}
	var old map[string]json.RawMessage
	if err := json.Unmarshal(merged, &old); err != nil {
		return nil, err
	}
	return mergeClaims(payload, old)
}
