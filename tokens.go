package oidcauth

import (
	"context"
	"errors"
	"net/http"

	"golang.org/x/oauth2"
)

// Token returns the access token of the request's login. When it expires
// within the leeway (WithRefreshLeeway) it is first refreshed with the
// refresh token, at the token endpoint and with the same client
// authentication as the login; the new tokens are stored for every instance
// that shares the session store. Concurrent requests of one login share a
// single refresh.
//
// The token carries AccessToken, TokenType and Expiry; never the refresh
// token, which only oidcauth may use (the provider may rotate it). With
// WithDPoP, TokenType is DPoP and the token is refused without a proof of
// the login's key: call APIs with [Auth.Client], or take the headers of
// each call from [Auth.AuthHeaders].
//
// The request must have passed through [Auth.Require], [Auth.Optional] or
// [Auth.LoadAndSave]. Errors are [*Error]s: one wrapping [ErrNotLoggedIn]
// means there is no login or it has ended (the provider refused the refresh
// token, or there is none to refresh with); [ErrRefresh] means the provider
// failed, the login stays. [Auth.HandleError] answers either.
func (a *Auth) Token(r *http.Request) (*oauth2.Token, error) {
	ts, _, err := a.requestTokens(r.Context(), "")
	if err != nil {
		return nil, err
	}
	return ts.oauth2Token(), nil
}

// TokenSource returns a source of the request's access token, refreshed as
// [Auth.Token] does, for libraries that take an oauth2.TokenSource. It is
// bound to r's context and reuses a token within the request while it is
// not about to expire.
func (a *Auth) TokenSource(r *http.Request) oauth2.TokenSource {
	return oauth2.ReuseTokenSourceWithExpiry(nil, requestTokenSource{a, r.Context()}, a.tokens.leeway)
}

type requestTokenSource struct {
	a   *Auth
	ctx context.Context
}

func (s requestTokenSource) Token() (*oauth2.Token, error) {
	ts, _, err := s.a.requestTokens(s.ctx, "")
	if err != nil {
		return nil, err
	}
	return ts.oauth2Token(), nil
}

// Client returns an HTTP client that sends the request's access token
// (from [Auth.TokenSource]) as a Bearer token on every request (with
// WithDPoP: as a DPoP token with a fresh proof, repeated once with the
// server's nonce when it asks for one and the body can be replayed), so a
// handler calls its API in one line:
//
//	resp, err := auth.Client(r).Get(apiURL)
//
// Give its requests r's context (http.NewRequestWithContext) to bound them.
// It follows redirects only within the origin of the request that got them,
// so the token never travels to another host. It uses http.DefaultTransport;
// for another transport use oauth2.NewClient with a context carrying
// oauth2.HTTPClient and [Auth.TokenSource]. Errors of the token source reach
// the caller wrapped in a *url.Error; errors.Is and [Auth.HandleError] see
// through it. A 401 with an RFC 9470 insufficient_user_authentication
// challenge is the error [*StepUpError], not a response.
func (a *Auth) Client(r *http.Request) *http.Client {
	var t http.RoundTripper = &oauth2.Transport{Source: a.TokenSource(r), Base: http.DefaultTransport}
	if a.anyDPoP() {
		// It sends a Bearer token of a provider without DPoP as Bearer.
		t = &dpopClientTransport{a: a, ctx: r.Context(), base: http.DefaultTransport}
	}
	// The step-up challenge is read outside the DPoP nonce retry.
	return &http.Client{Transport: stepUpTransport{t}, CheckRedirect: sameOriginRedirects}
}

// anyDPoP reports whether a provider has WithDPoP.
func (a *Auth) anyDPoP() bool {
	for _, p := range a.providers {
		if p.dpop != nil {
			return true
		}
	}
	return false
}

// sameOriginRedirects follows at most 10 redirects, all to the origin of the
// first request.
func sameOriginRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	first := via[0].URL
	if req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
		return http.ErrUseLastResponse
	}
	return nil
}

// HandleError answers a request whose call to [Auth.Token],
// [Auth.TokenSource], [Auth.Client] or [Auth.UserInfo] failed. When err
// wraps [ErrNotLoggedIn] it answers as [Auth.Require] does for an anonymous
// request: a browser navigation goes to the provider to log in again and
// comes back to the same URL, an API request gets 401. Other errors go to
// the error handler with 502 for a provider failure ([ErrRefresh],
// [ErrUserInfo], an id_token that fails verification) and 503 for a session
// store failure. The log line never has a token in it.
//
// A [*StepUpError] (a resource server's RFC 9470 challenge) is a step-up:
// a browser navigation goes to the provider with the challenge's
// acr_values and max_age and comes back to the same URL; an API request
// gets 401 with the challenge and a JSON body whose login_url starts that
// login (at the path of WithLoginPath, "/login" by default).
func (a *Auth) HandleError(w http.ResponseWriter, r *http.Request, err error) {
	a.HandleErrorReturningTo(w, r, err, r.URL.RequestURI())
}

// HandleErrorReturningTo is [Auth.HandleError] for a request whose logins
// come back to another page than its own: returnTo, a same-origin path
// (such as the page of an API that a script calls).
func (a *Auth) HandleErrorReturningTo(w http.ResponseWriter, r *http.Request, err error, returnTo string) {
	returnTo = SafeReturnTo(returnTo)
	var su *StepUpError
	if errors.As(err, &su) {
		req := su.request()
		a.stepUp(w, r, req, returnTo, a.stepUpLoginURL(r.Context(), req, returnTo), err)
		return
	}
	if errors.Is(err, ErrNotLoggedIn) {
		if a.IsAPIRequest(r) {
			a.unauthorized(w, r)
			return
		}
		a.startLogin(w, r, returnTo)
		return
	}
	a.fail(w, r, err)
}

// oauth2Token is the token a handler gets: no refresh token.
func (ts *tokenSet) oauth2Token() *oauth2.Token {
	return &oauth2.Token{AccessToken: ts.AccessToken, TokenType: ts.TokenType, Expiry: ts.Expiry}
}
