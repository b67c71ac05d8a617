package oidcauth

import (
	"crypto/cipher"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Option configures an [Auth]. Options are checked once, by [New].
type Option func(*config) error

// config is what the options set; New checks it and builds the Auth from it.
type config struct {
	clientID        string
	clientSecret    string
	authMethod      AuthMethod
	redirectURL     string
	scopes          []string
	endpoints       *Endpoints
	authParams      url.Values
	sessions        *scs.SessionManager
	sessionStore    scs.Store
	idleTimeout     time.Duration
	lifetime        time.Duration
	clockSkew       time.Duration
	httpClient      *http.Client
	timeout         time.Duration
	logger          *slog.Logger
	errorHandler    ErrorHandler
	apiPrefixes     []string
	postLogoutURL   string
	insecureHTTP    bool
	jwksMinInterval time.Duration
	liveness        time.Duration
	maxClaims       int
	strictSessions  bool
	tokenAEADs      []cipher.AEAD

	// The token accessors (tokens.go, refresh.go).
	refreshLeeway  time.Duration
	refreshAhead   bool
	userInfoClaims bool

	// How sessions end (backchannel.go, sessionstart.go).
	sidRequired  bool
	capByIDToken bool

	// A multi-tenant issuer (tenant.go).
	multiTenant bool
	tenants     []string

	// Where logout lands (postlogout.go).
	postLogoutLanding string

	// Client authentication with keys and pushed authorization requests
	// (clientkey.go, par.go).
	clientKeys            []clientKey
	tokenEndpointAudience bool
	par                   parMode
	// Sender-constrained tokens (dpop.go).
	dpop     bool
	fapi2    bool // WithFAPI2 (fapi.go)
	dpopAlgs []string
	// OpenTelemetry (telemetry.go); nil: the global providers.
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	// Per-route policy and logins (loginparams.go, silent.go, hooks.go).
	loginACRs   []string
	loginPath   string
	silentLogin bool
	loginHook   LoginHook
	logoutHook  LogoutHook
	chooser     http.Handler // WithLoginChooser (chooser.go)

	// Several providers (providers.go).
	providerName string
	providers    []providerSpec
}

// Defaults. They are the strict ones; each has an option to change it.
const (
	// DefaultIdleTimeout ends a session unused for this long.
	DefaultIdleTimeout = 30 * time.Minute
	// DefaultLifetime ends a session this long after login, used or not.
	DefaultLifetime = 8 * time.Hour
	// DefaultClockSkew is the leeway for exp, iat and nbf.
	DefaultClockSkew = time.Minute
	// DefaultTimeout bounds every call to the provider.
	DefaultTimeout = 10 * time.Second
	// DefaultJWKSRefreshInterval is the least time between two fetches of the
	// key set caused by tokens signed with an unknown key.
	DefaultJWKSRefreshInterval = 10 * time.Second
	// DefaultRefreshLeeway is how long before its expiry an access token is
	// refreshed.
	DefaultRefreshLeeway = 30 * time.Second
	// DefaultLivenessInterval is how often, per session, the middleware checks
	// that a login has not been ended elsewhere.
	DefaultLivenessInterval = 10 * time.Second
	// DefaultMaxClaimsSize bounds the id_token and the claims merged with
	// userinfo that a provider can make the application store, in bytes.
	DefaultMaxClaimsSize = 64 << 10
)

func defaultConfig() config {
	return config{
		scopes:          []string{"openid", "profile", "email"},
		idleTimeout:     DefaultIdleTimeout,
		lifetime:        DefaultLifetime,
		clockSkew:       DefaultClockSkew,
		timeout:         DefaultTimeout,
		jwksMinInterval: DefaultJWKSRefreshInterval,
		refreshLeeway:   DefaultRefreshLeeway,
		liveness:        DefaultLivenessInterval,
		maxClaims:       DefaultMaxClaimsSize,

		postLogoutLanding: "/",
		loginPath:         "/login",
	}
}

// checkIssuer requires the issuer to be an absolute https URL (http on
// loopback) without query or fragment.
func checkIssuer(issuer string, insecureHTTP bool) error {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return optionError("issuer", "%q is not an absolute URL without query or fragment", issuer)
	}
	if err := checkEndpoint(issuer, insecureHTTP); err != nil {
		return optionError("issuer", "%v", err)
	}
	return nil
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
