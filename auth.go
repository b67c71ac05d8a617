package oidcauth

import (
	"context"
	"crypto/cipher"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Auth logs users in with one OpenID Connect provider. Build it with [New];
// it is safe for concurrent use and reads no configuration after New.
type Auth struct {
	issuer       string
	clientID     string
	authMethod   AuthMethod
	oauth        oauth2.Config
	meta         metadata
	verifier     *oidc.IDTokenVerifier
	signingAlgs  []string // accepted for id_tokens and logout tokens
	keys         *keySet
	client       *http.Client
	dpop         *dpopState // WithDPoP; nil without
	timeout      time.Duration
	clockSkew    time.Duration
	sm           *scs.SessionManager
	log          *slog.Logger
	onError      ErrorHandler
	apiPrefixes  []string
	authorizeURL string       // authorization endpoint with the fixed parameters
	pending      pendingState // pending.go
	secure       bool
	postLogout   string
	claims       *claimsCache
	exchanges    chan struct{} // slots for code exchanges (callback.go)
	tokens       tokenState    // refresh.go
	index        indexState    // sessionindex.go
	liveness     time.Duration
	idle         time.Duration // own manager's idle timeout (touch.go); 0: scs's
	touchEvery   time.Duration
	maxClaims    int           // WithMaxClaimsSize
	tokenAEADs   []cipher.AEAD // WithTokenEncryption; the first seals
	maxAge       time.Duration // from max_age; -1 when not requested
	acrValues    []string      // from acr_values
	sidRequired  bool          // WithBackchannelLogoutSessionRequired
	capByIDToken bool          // WithSessionCappedByIDToken
	clientKeys   *clientKeys   // WithClientKey (clientkey.go)
	tokenHTTP    *http.Client  // client for x/oauth2's token requests (clientauth.go)
	par          *parState     // pushed authorization requests (par.go); nil: none
	tenancy      *tenancy      // WithMultiTenantIssuer (tenant.go); nil: one issuer

	// Where the application lives and where logout lands (site.go,
	// postlogout.go).
	site          *site
	logoutLanding string // WithPostLogoutLanding

	tel *telemetry // spans and metrics (telemetry.go)
	// Per-route policy and logins (loginparams.go, silent.go, hooks.go).
	loginACRs    []string // WithLoginACRValues
	loginPath    string   // WithLoginPath
	silentLogin  bool     // WithSilentLogin
	silentCookie string
	loginHook    LoginHook
	logoutHook   LogoutHook
}

// New builds an Auth for the provider whose issuer identifier is issuer.
// Unless WithEndpoints is given it fetches the discovery document, and it
// fetches the provider's key set, each within the timeout (WithTimeout);
// ctx can cancel both. Every option is checked here: a wrong one is an error
// that wraps [ErrInvalidOption] and names it.
func New(ctx context.Context, issuer string, opts ...Option) (*Auth, error) {
	cfg := defaultConfig()
	for _, opt := range opts {
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	if err := applyFAPI2(&cfg); err != nil {
		return nil, err
	}
	if err := checkIssuer(issuer, cfg.insecureHTTP); err != nil {
		return nil, err
	}
	if cfg.clientID == "" {
		return nil, optionError("WithClientID", "a client ID is required")
	}
	if cfg.redirectURL == "" {
		return nil, optionError("WithRedirectURL", "a redirect URL is required")
	}
	redirect, _ := url.Parse(cfg.redirectURL)

	a := &Auth{
		issuer:       issuer,
		clientID:     cfg.clientID,
		client:       cfg.httpClient,
		timeout:      cfg.timeout,
		clockSkew:    cfg.clockSkew,
		log:          cfg.logger,
		onError:      cfg.errorHandler,
		apiPrefixes:  cfg.apiPrefixes,
		postLogout:   cfg.postLogoutURL,
		secure:       redirect.Scheme == "https",
		claims:       newClaimsCache(claimsCacheSize),
		exchanges:    make(chan struct{}, maxExchanges),
		liveness:     cfg.liveness,
		maxClaims:    cfg.maxClaims,
		tokenAEADs:   cfg.tokenAEADs,
		sidRequired:  cfg.sidRequired,
		capByIDToken: cfg.capByIDToken,
	}
	a.site, a.logoutLanding = newSite(redirect), cfg.postLogoutLanding
	a.loginACRs, a.loginPath, a.loginHook, a.logoutHook = cfg.loginACRs, cfg.loginPath, cfg.loginHook, cfg.logoutHook
	a.silentLogin, a.silentCookie = cfg.silentLogin, cookieName("oidcauth_silent", a.secure)
	if a.log == nil {
		a.log = slog.Default()
	}
	a.log = withTraceIDs(a.log)
	var err error
	if a.tel, err = newTelemetry(issuer, cfg.tracerProvider, cfg.meterProvider); err != nil {
		return nil, err
	}
	if a.client == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		// Concurrent logins reuse connections instead of opening new ones.
		t.MaxIdleConnsPerHost = maxExchanges
		a.client = &http.Client{
			Timeout:   cfg.timeout,
			Transport: t,
			// Credentials never follow a redirect, to any host.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	a.client = instrumentClient(a.client, a.tel)

	if a.maxAge, a.acrValues, err = authenticationParams(cfg.authParams); err != nil {
		return nil, err
	}

	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	var meta *metadata
	option := "discovery"
	if cfg.endpoints != nil {
		meta, option = fromEndpoints(issuer, cfg.endpoints), "WithEndpoints"
	} else {
		dctx, span := a.tel.startSpan(ctx, spanDiscovery)
		meta, err = discover(dctx, a.client, issuer)
		endSpan(span, err)
		if err != nil {
			return nil, err
		}
	}
	if err := meta.check(option, cfg.insecureHTTP); err != nil {
		return nil, err
	}
	if err := a.setupTenancy(cfg, issuer, meta.Issuer); err != nil {
		return nil, err
	}
	a.meta = *meta
	a.tel.nameEndpoints(meta)
	if a.signingAlgs, err = meta.signingAlgs(); err != nil {
		return nil, err
	}
	if a.authMethod, err = meta.chooseAuthMethod(cfg.authMethod, cfg.clientSecret, len(cfg.clientKeys) > 0); err != nil {
		return nil, err
	}
	if len(cfg.clientKeys) > 0 {
		aud := issuer
		if cfg.tokenEndpointAudience {
			aud = meta.TokenEndpoint
		}
		if a.clientKeys, err = newClientKeys(cfg.clientKeys, cfg.clientID, aud, meta.AssertionSigningAlgs); err != nil {
			return nil, err
		}
	}
	if err := a.checkFAPI2(&cfg); err != nil {
		return nil, err
	}
	a.tokenHTTP = a.tokenClient(a.client)
	if a.authorizeURL, err = authorizeBase(meta.AuthorizationEndpoint, cfg); err != nil {
		return nil, err
	}
	if a.par, err = newPAR(meta, cfg); err != nil {
		return nil, err
	}

	a.keys = &keySet{url: meta.JWKSURI, client: a.client, timeout: cfg.timeout, interval: cfg.jwksMinInterval, log: a.log, tel: a.tel}
	if err := a.keys.fetch(ctx, jwksInitial); err != nil {
		return nil, fmt.Errorf("%w: key set %s: %v", ErrDiscovery, meta.JWKSURI, err)
	}
	a.verifier = newIDTokenVerifier(a.issuer, a.tenancy != nil, a.keys, cfg.clientID, a.signingAlgs, cfg.clockSkew)

	// The DPoP transport wraps the client assertion's, so that a retry
	// with the server's nonce carries a fresh assertion.
	if cfg.dpop {
		if a.dpop, err = newDPoP(cfg.dpopAlgs, meta.DPoPSigningAlgs); err != nil {
			return nil, err
		}
		a.tokenHTTP = a.dpop.tokenClient(a.tokenHTTP)
	}

	style := oauth2.AuthStyleInHeader
	if a.authMethod != AuthMethodBasic {
		style = oauth2.AuthStyleInParams
	}
	a.oauth = oauth2.Config{
		ClientID:     cfg.clientID,
		ClientSecret: cfg.clientSecret,
		RedirectURL:  cfg.redirectURL,
		Scopes:       cfg.scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:   meta.AuthorizationEndpoint,
			TokenURL:  meta.TokenEndpoint,
			AuthStyle: style,
		},
	}

	if cfg.sessions != nil && cfg.sessionStore != nil {
		return nil, optionError("WithSessionStore", "it configures oidcauth's own manager; with WithSessionManager, set the manager's Store instead")
	}
	a.sm = cfg.sessions
	if a.sm == nil {
		a.sm = newSessionManager(cfg, a.secure)
		a.sm.ErrorFunc = a.SessionError
		a.idle, a.touchEvery = cfg.idleTimeout, touchInterval(cfg.idleTimeout)
	} else {
		if err := checkSessionManager(a.log, a.sm, a.secure, cfg.strictSessions); err != nil {
			return nil, err
		}
	}
	a.pending.slots = slotNames(a.secure)
	if cfg.userInfoClaims && meta.UserinfoEndpoint == "" {
		return nil, optionError("WithUserInfoClaims", "the provider has no userinfo endpoint")
	}
	a.tokens = tokenState{
		leeway:         cfg.refreshLeeway,
		refreshAhead:   cfg.refreshAhead,
		userInfoClaims: cfg.userInfoClaims,
	}
	// oidcauth's own memory store is this process's alone: the single
	// flight is all the coordination a refresh needs, no lease.
	a.tokens.noLease = cfg.sessions == nil && cfg.sessionStore == nil
	a.index.local = a.tokens.noLease
	if cfg.sessions != nil || cfg.sessionStore != nil {
		a.tokens.raceGrace = min(a.timeout, maxRaceGrace)
	}
	a.index.redeleteAfter = redeleteAfter[:]
	return a, nil
}

// Issuer returns the provider's issuer identifier; with
// WithMultiTenantIssuer, the template with its {tenantid} placeholder.
func (a *Auth) Issuer() string { return a.issuer }

// IdleTimeout returns how long an unused session lasts: oidcauth's own idle
// timeout with its own manager (scs's IdleTimeout is 0 there: oidcauth
// touches sessions itself), the manager's IdleTimeout otherwise; 0 is none.
func (a *Auth) IdleTimeout() time.Duration {
	if a.idle > 0 {
		return a.idle
	}
	return a.sm.IdleTimeout
}

// SessionManager returns the scs session manager oidcauth keeps its state in.
func (a *Auth) SessionManager() *scs.SessionManager { return a.sm }

// LoadAndSave is the session manager's LoadAndSave middleware: wrap the
// application's handler with it (or with the manager's own) so that every
// oidcauth handler and middleware shares one loaded session per request.
func (a *Auth) LoadAndSave(next http.Handler) http.Handler { return a.sm.LoadAndSave(next) }

// providerContext bounds a call to the provider by the configured timeout and
// hands x/oauth2 the configured HTTP client, authenticating token requests
// (clientauth.go).
func (a *Auth) providerContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	return context.WithValue(ctx, oauth2.HTTPClient, a.tokenHTTP), cancel
}
