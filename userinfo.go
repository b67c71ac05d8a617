package oidcauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
)

// UserInfo calls the provider's userinfo endpoint with the request's access
// token, refreshed first as [Auth.Token] does, and returns the JSON object
// it answers. When the endpoint refuses the token (401), the token is
// refreshed once and the call repeated. The call has the timeout of
// WithTimeout and a response cap; claims about a subject other than the
// login's are refused (OpenID Connect Core 5.3.2). Signed or encrypted
// userinfo responses are not supported.
//
// Errors wrap [ErrNotLoggedIn] (no login, or it ended), [ErrRefresh] or
// [ErrUserInfo]; [Auth.HandleError] answers them.
func (a *Auth) UserInfo(r *http.Request) (json.RawMessage, error) {
	ctx := r.Context()
	ts, l, err := a.requestTokens(ctx, "")
	if err != nil {
		return nil, err
	}
	p := a.providerOf(l) // requestTokens ended a login without one
	if p.meta.UserinfoEndpoint == "" {
		return nil, userInfoError(errors.New("the provider has no userinfo endpoint"))
	}
	body, refused, err := a.fetchUserInfo(ctx, p, ts)
	if refused {
		// The provider may have revoked or expired the token early.
		if ts, l, err = a.requestTokens(ctx, ts.AccessToken); err != nil {
			return nil, err
		}
		body, _, err = a.fetchUserInfo(ctx, p, ts)
	}
	if err != nil {
		return nil, userInfoError(err)
	}
	if _, err := userInfoClaims(body, l.Subject); err != nil {
		return nil, userInfoError(err)
	}
	return body, nil
}

// fetchUserInfo GETs p's userinfo endpoint with the access token of ts.
// refused reports a 401: the provider does not take the token.
func (a *Auth) fetchUserInfo(ctx context.Context, p *provider, ts *tokenSet) (body []byte, refused bool, err error) {
	ctx, span := p.tel.startSpan(ctx, spanUserInfo)
	defer func() { endSpan(span, err) }()
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.meta.UserinfoEndpoint, nil)
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := a.sendWithToken(p.client.Do, req, ts)
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, false, fmt.Errorf("reading the userinfo response: %v", err)
	}
	if len(body) > maxResponseBytes {
		return nil, false, fmt.Errorf("the userinfo endpoint answered more than %d bytes", maxResponseBytes)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return nil, true, errors.New("the userinfo endpoint refused the access token (401)")
	}
	if resp.StatusCode != http.StatusOK {
		return nil, false, fmt.Errorf("the userinfo endpoint answered %s", resp.Status)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/jwt" {
		return nil, false, errors.New("the userinfo response is a JWT; only JSON is supported")
	}
	return bytes.TrimSpace(body), false, nil
}

// userInfoClaims parses a userinfo response: a JSON object whose sub is the
// login's subject.
func userInfoClaims(body []byte, subject string) (map[string]json.RawMessage, error) {
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(body, &claims); err != nil || claims == nil {
		return nil, errors.New("the userinfo response is not a JSON object")
	}
	var sub string
	if err := json.Unmarshal(claims["sub"], &sub); err != nil || sub == "" {
		return nil, errors.New("the userinfo response has no sub")
	}
	if sub != subject {
		return nil, fmt.Errorf("the userinfo response is about sub %q, the login about %q", printable(sub, 100), printable(subject, 100))
	}
	return claims, nil
}

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

// loginUserInfo runs at the callback with WithUserInfoClaims: it fetches
// userinfo with the new access token and stores the merged claims in the
// login. A failure, or claims about another subject, fails the login.
func (a *Auth) loginUserInfo(ctx context.Context, p *provider, l *login, ts *tokenSet) error {
	body, _, err := a.fetchUserInfo(ctx, p, ts)
	if err != nil {
		return userInfoError(err)
	}
	claims, err := userInfoClaims(body, l.Subject)
	if err != nil {
		return userInfoError(err)
	}
	payload, err := jwtPayload(ts.IDToken)
	if err != nil {
		return idTokenError(err)
	}
	if ts.Claims, err = mergeClaims(payload, claims); err != nil {
		return userInfoError(err)
	}
	if len(ts.Claims) > a.maxClaims {
		return userInfoError(fmt.Errorf("the claims merged with userinfo are %d bytes, more than the %d this application stores (WithMaxClaimsSize)", len(ts.Claims), a.maxClaims))
	}
	return nil
}
