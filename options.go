package oidcauth

import (
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// AuthMethod is how the client authenticates at the token endpoint.
type AuthMethod string

// The client authentication methods oidcauth supports.
const (
	// AuthMethodBasic sends the client ID and secret in an HTTP Basic
	// Authorization header, each form-urlencoded first (RFC 6749 2.3.1).
	AuthMethodBasic AuthMethod = "client_secret_basic"
	// AuthMethodPost sends the client ID and secret in the form body.
	AuthMethodPost AuthMethod = "client_secret_post"
	// AuthMethodNone is for public clients: the client ID goes in the form
	// body, no secret; PKCE protects the code.
	AuthMethodNone AuthMethod = "none"
	// AuthMethodPrivateKeyJWT signs a short-lived assertion with the
	// client's private key (RFC 7523, OpenID Connect Core 9); no secret is
	// shared. It needs WithClientKey.
	AuthMethodPrivateKeyJWT AuthMethod = "private_key_jwt"
)

// Endpoints are the provider's URLs, for providers without a discovery
// document. Each URL is used exactly as given, trailing slash included.
type Endpoints struct {
	// Authorize is the authorization endpoint. Required.
	Authorize string
	// Token is the token endpoint. Required.
	Token string
	// JWKS is the URL of the provider's JSON Web Key Set. Required.
	JWKS string
	// UserInfo is the userinfo endpoint, or empty.
	UserInfo string
	// EndSession is the RP-initiated logout endpoint, or empty: logout then
	// only ends the local session.
	EndSession string
	// Revocation is the RFC 7009 token revocation endpoint, or empty.
	Revocation string
	// SigningAlgs are the id_token signing algorithms to accept. Empty means
	// RS256. Only asymmetric algorithms are allowed.
	SigningAlgs []string
	// IssParameter says the provider sends the RFC 9207 iss parameter on
	// every authorization response, which the callback then requires.
	IssParameter bool
	// PushedAuthorization is the RFC 9126 pushed authorization request
	// endpoint, or empty. Logins use it with WithPAR(true).
	PushedAuthorization string
}

// WithClientID sets the client ID registered at the provider. Required.
func WithClientID(id string) Option {
	return func(c *config) error {
		if strings.TrimSpace(id) == "" {
			return optionError("WithClientID", "the client ID is empty")
		}
		c.clientID = id
		return nil
	}
}

// WithClientSecret sets the client secret. Without one the client is public
// and authenticates with [AuthMethodNone].
func WithClientSecret(secret string) Option {
	return func(c *config) error {
		c.clientSecret = secret
		return nil
	}
}

// WithClientAuth sets how the client authenticates at the token endpoint.
// By default it is private_key_jwt with WithClientKey; with a secret it is
// chosen from the provider's token_endpoint_auth_methods_supported (basic
// preferred), else basic; none without either.
func WithClientAuth(m AuthMethod) Option {
	return func(c *config) error {
		switch m {
		case AuthMethodBasic, AuthMethodPost, AuthMethodNone, AuthMethodPrivateKeyJWT:
			c.authMethod = m
			return nil
		}
		return optionError("WithClientAuth", "unknown method %q (want client_secret_basic, client_secret_post, private_key_jwt or none)", string(m))
	}
}

// WithRedirectURL sets the absolute URL of the callback, as registered at the
// provider. Required. An https URL makes the session cookie Secure with the
// __Host- prefix.
func WithRedirectURL(u string) Option {
	return func(c *config) error {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return optionError("WithRedirectURL", "%q is not an absolute http(s) URL", u)
		}
		if p.Fragment != "" || p.User != nil {
			return optionError("WithRedirectURL", "%q must not have a fragment or user info", u)
		}
		c.redirectURL = u
		return nil
	}
}

// WithScopes sets the scopes to request; "openid" must be among them.
// The default is openid, profile and email. Add offline_access for a refresh
// token.
func WithScopes(scopes ...string) Option {
	return func(c *config) error {
		if !slices.Contains(scopes, "openid") {
			return optionError("WithScopes", "the scopes %q do not include openid", scopes)
		}
		c.scopes = slices.Clone(scopes)
		return nil
	}
}

// WithEndpoints gives the provider's endpoints by hand; no discovery document
// is fetched. The issuer passed to New is still the expected iss.
func WithEndpoints(e Endpoints) Option {
	return func(c *config) error {
		c.endpoints = &e
		return nil
	}
}

// reservedAuthParams are set by oidcauth itself on every authorization request.
var reservedAuthParams = []string{
	"response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
	"code_challenge", "code_challenge_method",
}

// WithAuthParam adds a parameter to every authorization request, such as
// prompt, acr_values, login_hint, max_age or audience.
func WithAuthParam(key, value string) Option {
	return func(c *config) error {
		if key == "" || slices.Contains(reservedAuthParams, key) {
			return optionError("WithAuthParam", "%q cannot be set: oidcauth sets it", key)
		}
		if c.authParams == nil {
			c.authParams = url.Values{}
		}
		c.authParams.Add(key, value)
		return nil
	}
}

// WithClockSkew sets the leeway for the time claims of tokens
// (default [DefaultClockSkew]).
func WithClockSkew(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 || d > 10*time.Minute {
			return optionError("WithClockSkew", "%v is outside 0..10m", d)
		}
		c.clockSkew = d
		return nil
	}
}

// WithHTTPClient sets the client for calls to the provider. Each call still
// has the timeout of WithTimeout and a cap on the response size. oidcauth
// uses a copy of hc whose transport wraps hc's with its OpenTelemetry
// client spans and durations (telemetry_http.go).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) error {
		if hc == nil {
			return optionError("WithHTTPClient", "the client is nil")
		}
		c.httpClient = hc
		return nil
	}
}

// WithTimeout bounds every call to the provider (default [DefaultTimeout]).
func WithTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return optionError("WithTimeout", "%v is not positive", d)
		}
		c.timeout = d
		return nil
	}
}

// WithLogger sets the logger (default slog.Default()). oidcauth never logs a
// token, code, verifier, secret or cookie.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return optionError("WithLogger", "the logger is nil")
		}
		c.logger = l
		return nil
	}
}

// WithErrorHandler replaces the default error page (HTML for browsers, JSON
// for APIs).
func WithErrorHandler(h ErrorHandler) Option {
	return func(c *config) error {
		if h == nil {
			return optionError("WithErrorHandler", "the handler is nil")
		}
		c.errorHandler = h
		return nil
	}
}

// WithAPIPrefix marks paths under prefix as API: anonymous requests there get
// 401, never a redirect. Requests that accept JSON but not HTML, and every
// method other than GET and HEAD, are API requests anyway.
func WithAPIPrefix(prefix string) Option {
	return func(c *config) error {
		if !strings.HasPrefix(prefix, "/") {
			return optionError("WithAPIPrefix", "%q does not start with /", prefix)
		}
		c.apiPrefixes = append(c.apiPrefixes, prefix)
		return nil
	}
}

// WithPostLogoutRedirectURL sets where the provider sends the browser after
// RP-initiated logout; it must be registered at the provider.
func WithPostLogoutRedirectURL(u string) Option {
	return func(c *config) error {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return optionError("WithPostLogoutRedirectURL", "%q is not an absolute http(s) URL", u)
		}
		c.postLogoutURL = u
		return nil
	}
}

// WithPostLogoutLanding sets the same-origin path where the browser lands
// after logout (default "/"): [Auth.PostLogoutHandler] redirects there
// from the post-logout redirect URL, without the provider's state, and the
// logout handler redirects there when the provider has no
// end_session_endpoint. The landing page learns of the logout with
// [Auth.LoggedOut].
func WithPostLogoutLanding(path string) Option {
	return func(c *config) error {
		if path == "" || SafeReturnTo(path) != path {
			return optionError("WithPostLogoutLanding", "%q is not a same-origin path", path)
		}
		c.postLogoutLanding = path
		return nil
	}
}

// WithInsecureHTTP allows provider endpoints over plain http on hosts other
// than loopback. Never use it in production: tokens would cross the network
// in clear.
func WithInsecureHTTP() Option {
	return func(c *config) error {
		c.insecureHTTP = true
		return nil
	}
}

// WithJWKSRefreshInterval sets the least time between two fetches of the key
// set triggered by unknown key IDs (default [DefaultJWKSRefreshInterval]).
func WithJWKSRefreshInterval(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return optionError("WithJWKSRefreshInterval", "%v is negative", d)
		}
		c.jwksMinInterval = d
		return nil
	}
}

// WithRefreshLeeway sets how long before its expiry an access token is
// refreshed by the token accessors (default [DefaultRefreshLeeway]). A token
// that lives less than twice the leeway is refreshed at half its life.
func WithRefreshLeeway(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 || d > time.Hour {
			return optionError("WithRefreshLeeway", "%v is outside 0..1h", d)
		}
		c.refreshLeeway = d
		return nil
	}
}

// WithRefreshAhead makes Require and Optional refresh a login's tokens
// when they are about to expire, as [Auth.Token] does, so the claims follow
// the provider's newest id_token without a handler asking for a token. It
// costs a store read per request. A login whose tokens cannot be refreshed
// any more (the provider refuses the refresh token, or there is none) then
// ends when its access token expires: Require sends the request to log in
// again, Optional serves it as anonymous. When the provider fails, Require
// answers 502 and Optional serves the request as anonymous.
func WithRefreshAhead() Option {
	return func(c *config) error {
		c.refreshAhead = true
		return nil
	}
}

// WithUserInfoClaims makes the callback fetch the userinfo endpoint with the
// new access token and merge its claims into the login's claims: userinfo's
// values win, except for the claims about the token and the authentication
// (iss, sub, aud, exp, iat, auth_time, nonce, acr, amr, azp, sid, ...), which
// stay the id_token's. A userinfo response about another subject, or a
// failed request, fails the login with [ErrUserInfo]. The merged claims are
// kept in the session, which grows accordingly. The provider must have a
// userinfo endpoint.
func WithUserInfoClaims() Option {
	return func(c *config) error {
		c.userInfoClaims = true
		return nil
	}
}

// WithMaxClaimsSize bounds what a provider can make the application store
// per login (default [DefaultMaxClaimsSize]): an id_token, or claims merged
// with userinfo (WithUserInfoClaims), larger than n bytes fails the login
// (or the refresh that brought it) as invalid.
func WithMaxClaimsSize(n int) Option {
	return func(c *config) error {
		if n < 4<<10 || n > 1<<20 {
			return optionError("WithMaxClaimsSize", "%d is outside 4 KiB..1 MiB", n)
		}
		c.maxClaims = n
		return nil
	}
}
