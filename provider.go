package oidcauth

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// provider is one OpenID Connect provider an Auth logs users in with: its
// metadata and keys, the client registered there and how it
// authenticates, and where its logins come back. An Auth has one, New's,
// and one more per WithProvider (providers.go). Nothing in it changes after
// New.
type provider struct {
	name         string
	issuer       string // with WithMultiTenantIssuer, the template
	clientID     string
	authMethod   AuthMethod
	oauth        oauth2.Config
	meta         metadata
	verifier     *oidc.IDTokenVerifier // id_tokens
	logoutTokens *oidc.IDTokenVerifier // back-channel logout tokens (backchannel.go)
	signingAlgs  []string              // accepted for id_tokens and logout tokens
	keys         *keySet
	client       *http.Client  // instrumented with the provider's telemetry
	tokenHTTP    *http.Client  // for x/oauth2's token requests (clientauth.go)
	timeout      time.Duration // WithTimeout, the Auth's
	dpop         *dpopState    // WithDPoP; nil without
	authorizeURL string        // authorization endpoint with the fixed parameters
	par          *parState     // pushed authorization requests (par.go); nil: none
	tenancy      *tenancy      // WithMultiTenantIssuer (tenant.go); nil: one issuer
	clientKeys   *clientKeys   // WithClientKey (clientkey.go)
	postLogout   string        // WithPostLogoutRedirectURL
	maxAge       time.Duration // from max_age; -1 when not requested
	acrValues    []string      // from acr_values
	userInfo     bool          // WithUserInfoClaims
	callbackPath string        // the redirect URL's path
	tel          *telemetry    // spans and metrics, with this provider's issuer
}

// loadProvider builds the provider of issuer from pc, the options that
// configure it, and app, the Auth's (the HTTP client, timeout, clock
// skew, telemetry). Unless pc has endpoints given by hand it fetches the
// discovery document, and it fetches the key set, each within the timeout.
func loadProvider(ctx context.Context, name, issuer string, pc, app config, log *slog.Logger) (*provider, error) {
	if err := applyFAPI2(&pc); err != nil {
		return nil, err
	}
	if err := checkIssuer(issuer, app.insecureHTTP); err != nil {
		return nil, err
	}
	if pc.clientID == "" {
		return nil, optionError("WithClientID", "a client ID is required")
	}
	if pc.redirectURL == "" {
		return nil, optionError("WithRedirectURL", "a redirect URL is required")
	}
	redirect, _ := url.Parse(pc.redirectURL)
	p := &provider{
		name:         name,
		issuer:       issuer,
		clientID:     pc.clientID,
		timeout:      app.timeout,
		postLogout:   pc.postLogoutURL,
		userInfo:     pc.userInfoClaims,
		callbackPath: cmp.Or(redirect.Path, "/"),
	}
	var err error
	if p.tel, err = newTelemetry(issuer, app.tracerProvider, app.meterProvider); err != nil {
		return nil, err
	}
	p.client = instrumentClient(providerClient(app), p.tel)
	if p.maxAge, p.acrValues, err = authenticationParams(pc.authParams); err != nil {
		return nil, err
	}

	ctx, cancel := context.WithTimeout(ctx, app.timeout)
	defer cancel()
	var meta *metadata
	option := "discovery"
	if pc.endpoints != nil {
		meta, option = fromEndpoints(issuer, pc.endpoints), "WithEndpoints"
	} else {
		dctx, span := p.tel.startSpan(ctx, spanDiscovery)
		meta, err = discover(dctx, p.client, issuer)
		endSpan(span, err)
		if err != nil {
			return nil, err
		}
	}
	if err := meta.check(option, app.insecureHTTP); err != nil {
		return nil, err
	}
	if err := p.setupTenancy(pc, issuer, meta.Issuer); err != nil {
		return nil, err
	}
	p.meta = *meta
	p.tel.nameEndpoints(meta)
	if p.signingAlgs, err = meta.signingAlgs(); err != nil {
		return nil, err
	}
	if p.authMethod, err = meta.chooseAuthMethod(pc.authMethod, pc.clientSecret, len(pc.clientKeys) > 0); err != nil {
		return nil, err
	}
	if len(pc.clientKeys) > 0 {
		aud := issuer
		if pc.tokenEndpointAudience {
			aud = meta.TokenEndpoint
		}
		if p.clientKeys, err = newClientKeys(pc.clientKeys, pc.clientID, aud, meta.AssertionSigningAlgs); err != nil {
			return nil, err
		}
	}
	if err := p.checkFAPI2(&pc); err != nil {
		return nil, err
	}
	p.tokenHTTP = p.tokenClient(p.client)
	if p.authorizeURL, err = authorizeBase(meta.AuthorizationEndpoint, pc); err != nil {
		return nil, err
	}
	if p.par, err = newPAR(meta, pc); err != nil {
		return nil, err
	}

	p.keys = &keySet{url: meta.JWKSURI, client: p.client, timeout: app.timeout, interval: app.jwksMinInterval, log: log, tel: p.tel}
	if err := p.keys.fetch(ctx, jwksInitial); err != nil {
		return nil, fmt.Errorf("%w: key set %s: %v", ErrDiscovery, meta.JWKSURI, err)
	}
	p.verifier = newIDTokenVerifier(p.issuer, p.tenancy != nil, p.keys, pc.clientID, p.signingAlgs, app.clockSkew)
	p.logoutTokens = newLogoutTokenVerifier(p)

	// The DPoP transport wraps the client assertion's, so that a retry
	// with the server's nonce carries a fresh assertion.
	if pc.dpop {
		if p.dpop, err = newDPoP(pc.dpopAlgs, meta.DPoPSigningAlgs); err != nil {
			return nil, err
		}
		p.tokenHTTP = p.dpop.tokenClient(p.tokenHTTP)
	}

	style := oauth2.AuthStyleInHeader
	if p.authMethod != AuthMethodBasic {
		style = oauth2.AuthStyleInParams
	}
	p.oauth = oauth2.Config{
		ClientID:     pc.clientID,
		ClientSecret: pc.clientSecret,
		RedirectURL:  pc.redirectURL,
		Scopes:       pc.scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:   meta.AuthorizationEndpoint,
			TokenURL:  meta.TokenEndpoint,
			AuthStyle: style,
		},
	}
	if pc.userInfoClaims && meta.UserinfoEndpoint == "" {
		return nil, optionError("WithUserInfoClaims", "the provider has no userinfo endpoint")
	}
	return p, nil
}

// providerClient is the HTTP client for calls to the providers:
// WithHTTPClient's, else one that keeps a connection per concurrent login
// and never follows a redirect.
func providerClient(app config) *http.Client {
	if app.httpClient != nil {
		return app.httpClient
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	// Concurrent logins reuse connections instead of opening new ones.
	t.MaxIdleConnsPerHost = maxExchanges
	return &http.Client{
		Timeout:   app.timeout,
		Transport: t,
		// Credentials never follow a redirect, to any host.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// context bounds a call to the provider by the configured timeout and
// hands x/oauth2 the provider's HTTP client, authenticating token requests
// (clientauth.go).
func (p *provider) context(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	return context.WithValue(ctx, oauth2.HTTPClient, p.tokenHTTP), cancel
}
