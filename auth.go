package oidcauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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
	keys         *keySet
	client       *http.Client
	timeout      time.Duration
	clockSkew    time.Duration
	sm           *scs.SessionManager
	log          *slog.Logger
	onError      ErrorHandler
	apiPrefixes  []string
	authorizeURL string // authorization endpoint with the fixed parameters
	cookies      cookieNames
	secure       bool
	postLogout   string
	logout       http.Handler
	claims       *claimsCache
	tokens       tokenState // tokens.go, refresh.go
	sessionEnd   sessionEndConfig
	index        indexState
	liveness     time.Duration
	maxAge       time.Duration // from max_age; -1 when not requested
	acrValues    []string      // from acr_values
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
		issuer:      issuer,
		clientID:    cfg.clientID,
		client:      cfg.httpClient,
		timeout:     cfg.timeout,
		clockSkew:   cfg.clockSkew,
		log:         cfg.logger,
		onError:     cfg.errorHandler,
		apiPrefixes: cfg.apiPrefixes,
		postLogout:  cfg.postLogoutURL,
		secure:      redirect.Scheme == "https",
		claims:      newClaimsCache(claimsCacheSize),
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.client == nil {
		a.client = &http.Client{
			Timeout:   cfg.timeout,
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			// Credentials never follow a redirect, to any host.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}

	var err error
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
		if meta, err = discover(ctx, a.client, issuer); err != nil {
			return nil, err
		}
	}
	if err := meta.check(option, cfg.insecureHTTP); err != nil {
		return nil, err
	}
	a.meta = *meta
	algs, err := meta.signingAlgs()
	if err != nil {
		return nil, err
	}
	if a.authMethod, err = meta.chooseAuthMethod(cfg.authMethod, cfg.clientSecret); err != nil {
		return nil, err
	}
	if a.authorizeURL, err = authorizeBase(meta.AuthorizationEndpoint, cfg); err != nil {
		return nil, err
	}

	a.keys = &keySet{url: meta.JWKSURI, client: a.client, timeout: cfg.timeout, interval: cfg.jwksMinInterval, log: a.log}
	if err := a.keys.fetch(ctx); err != nil {
		return nil, fmt.Errorf("%w: key set %s: %v", ErrDiscovery, meta.JWKSURI, err)
	}
	skew := cfg.clockSkew
	a.verifier = oidc.NewVerifier(issuer, a.keys, &oidc.Config{
		ClientID:             cfg.clientID,
		SupportedSigningAlgs: algs,
		// go-oidc has no leeway for exp: check it against a clock set back.
		Now: func() time.Time { return time.Now().Add(-skew) },
	})

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

	a.sm = cfg.sessions
	if a.sm == nil {
		a.sm = newSessionManager(cfg, a.secure)
		a.sm.ErrorFunc = a.SessionError
	} else {
		warnWeakCookies(a.log, a.sm, a.secure)
	}
	a.cookies = newCookieNames(a.secure)
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.fail(w, r, http.StatusForbidden, newError(ErrBadRequest, "cross_origin",
			"The request came from another site and was refused.", errors.New("cross-origin request refused")))
	}))
	a.logout = cop.Handler(http.HandlerFunc(a.handleLogout))
	if err := a.initTokens(cfg); err != nil {
		return nil, err
	}
	a.sessionEnd = cfg.sessionEnd
	a.index.again = destroyAgainAfter[:]
	a.liveness = DefaultLivenessInterval
	return a, nil
}

func checkIssuer(issuer string, insecureHTTP bool) error {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%w: issuer: %q is not an absolute URL without query or fragment", ErrInvalidOption, issuer)
	}
	if err := checkEndpoint(issuer, insecureHTTP); err != nil {
		return fmt.Errorf("%w: issuer: %v", ErrInvalidOption, err)
	}
	return nil
}

// authorizeBase returns the authorization endpoint with the parameters that
// are the same on every request, ready for state, nonce and code_challenge.
func authorizeBase(endpoint string, cfg config) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("%w: authorization_endpoint: %v", ErrDiscovery, err)
	}
	q := u.Query()
	for k, vs := range cfg.authParams {
		q[k] = append(q[k], vs...)
	}
	q.Set("response_type", "code")
	q.Set("client_id", cfg.clientID)
	q.Set("redirect_uri", cfg.redirectURL)
	q.Set("scope", strings.Join(cfg.scopes, " "))
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// authenticationParams reads max_age and acr_values from the authorization
// parameters, which the callback then enforces.
func authenticationParams(params url.Values) (maxAge time.Duration, acr []string, err error) {
	maxAge = -1
	if v := params.Get("max_age"); v != "" {
		n, err := strconv.ParseUint(v, 10, 31)
		if err != nil {
			return 0, nil, optionError("WithAuthParam", "max_age %q is not a number of seconds", v)
		}
		maxAge = time.Duration(n) * time.Second
	}
	return maxAge, strings.Fields(params.Get("acr_values")), nil
}

// Issuer returns the provider's issuer identifier.
func (a *Auth) Issuer() string { return a.issuer }

// SessionManager returns the scs session manager oidcauth keeps its state in.
func (a *Auth) SessionManager() *scs.SessionManager { return a.sm }

// LoadAndSave is the session manager's LoadAndSave middleware: wrap the
// application's handler with it (or with the manager's own) so that every
// oidcauth handler and middleware shares one loaded session per request.
func (a *Auth) LoadAndSave(next http.Handler) http.Handler { return a.sm.LoadAndSave(next) }

// providerContext bounds a call to the provider by the configured timeout and
// hands x/oauth2 the configured HTTP client.
func (a *Auth) providerContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	return context.WithValue(ctx, oauth2.HTTPClient, a.client), cancel
}

// fail logs why a request failed and hands it to the error handler.
func (a *Auth) fail(w http.ResponseWriter, r *http.Request, status int, err error) {
	level := slog.LevelWarn
	if status >= 500 {
		level = slog.LevelError
	}
	a.log.Log(r.Context(), level, "oidcauth: request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	var e *Error
	if !errors.As(err, &e) {
		err = newError(ErrSession, "server_error", "The request could not be completed.", err)
	}
	a.errorHandler(r)(w, r, status, err)
}

// SessionError answers a request whose session could not be loaded or
// saved: it logs the cause and answers 503 through the error handler, JSON
// for APIs. oidcauth's own session manager uses it; set it as the ErrorFunc
// of a manager you give with WithSessionManager to get the same.
func (a *Auth) SessionError(w http.ResponseWriter, r *http.Request, err error) {
	a.fail(w, r, http.StatusServiceUnavailable, newError(ErrSession, "session_unavailable",
		"Your session could not be loaded. Please try again later.", err))
}

type errorHandlerKey struct{}

// ContextWithErrorHandler returns a copy of ctx in which h answers the
// failed requests that carry it. Framework adapters use it to answer in
// their framework's style; an ErrorHandler given with WithErrorHandler
// takes precedence.
func ContextWithErrorHandler(ctx context.Context, h ErrorHandler) context.Context {
	return context.WithValue(ctx, errorHandlerKey{}, h)
}

// errorHandler picks the application's handler, else the request's, else
// the default.
func (a *Auth) errorHandler(r *http.Request) ErrorHandler {
	if a.onError != nil {
		return a.onError
	}
	if h, ok := r.Context().Value(errorHandlerKey{}).(ErrorHandler); ok && h != nil {
		return h
	}
	return DefaultErrorHandler
}
