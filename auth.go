package oidcauth

import (
	"cmp"
	"context"
	"crypto/cipher"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/alexedwards/scs/v2"
)

// Auth logs users in with OpenID Connect providers: New's, and any added
// with WithProvider. Build it with [New]; it is safe for concurrent use and
// reads no configuration after New.
type Auth struct {
	providers    []*provider // New's first (provider.go, providers.go)
	tel          *telemetry  // New's provider's, for what concerns no provider
	timeout      time.Duration
	clockSkew    time.Duration
	sm           *scs.SessionManager
	log          *slog.Logger
	onError      ErrorHandler
	apiPrefixes  []string
	pending      pendingState // pending.go
	secure       bool
	claims       *claimsCache
	exchanges    chan struct{} // slots for code exchanges (callback.go)
	tokens       tokenState    // refresh.go
	index        indexState    // sessionindex.go
	liveness     time.Duration
	idle         time.Duration // own manager's idle timeout (touch.go); 0: scs's
	touchEvery   time.Duration
	maxClaims    int           // WithMaxClaimsSize
	tokenAEADs   []cipher.AEAD // WithTokenEncryption; the first seals
	sidRequired  bool          // WithBackchannelLogoutSessionRequired
	capByIDToken bool          // WithSessionCappedByIDToken

	// Where the application lives and where logout lands (site.go,
	// postlogout.go).
	site          *site
	logoutLanding string // WithPostLogoutLanding

	// Per-route policy and logins (loginparams.go, silent.go, hooks.go,
	// chooser.go).
	loginACRs    []string // WithLoginACRValues
	loginPath    string   // WithLoginPath
	silentLogin  bool     // WithSilentLogin
	silentCookie string
	loginHook    LoginHook
	logoutHook   LogoutHook
	chooser      http.Handler // WithLoginChooser; nil: the default page
	clientJWKS   []byte       // every provider's client keys (clientkey.go); nil: none
}

// New builds an Auth for the provider whose issuer identifier is issuer,
// and for each provider WithProvider adds. Unless WithEndpoints is given it
// fetches each provider's discovery document, and it fetches its key set,
// each within the timeout (WithTimeout); ctx can cancel both. Every option
// is checked here: a wrong one is an error that wraps [ErrInvalidOption]
// and names it.
func New(ctx context.Context, issuer string, opts ...Option) (*Auth, error) {
	cfg := defaultConfig()
	for _, opt := range opts {
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	a := &Auth{
		timeout:      cfg.timeout,
		clockSkew:    cfg.clockSkew,
		log:          cfg.logger,
		onError:      cfg.errorHandler,
		apiPrefixes:  cfg.apiPrefixes,
		claims:       newClaimsCache(claimsCacheSize),
		exchanges:    make(chan struct{}, maxExchanges),
		liveness:     cfg.liveness,
		maxClaims:    cfg.maxClaims,
		tokenAEADs:   cfg.tokenAEADs,
		sidRequired:  cfg.sidRequired,
		capByIDToken: cfg.capByIDToken,
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	a.log = withTraceIDs(a.log)
	first, err := loadProvider(ctx, cmp.Or(cfg.providerName, DefaultProviderName), issuer, cfg, cfg, a.log)
	if err != nil {
		return nil, err
	}
	a.providers = []*provider{first}
	for _, s := range cfg.providers {
		pc, err := s.config()
		if err != nil {
			return nil, err
		}
		p, err := loadProvider(ctx, s.name, s.issuer, pc, cfg, a.log)
		if err != nil {
			return nil, fmt.Errorf("provider %q: %w", s.name, err)
		}
		a.providers = append(a.providers, p)
	}
	if err := checkProviders(a.providers); err != nil {
		return nil, err
	}
	a.tel, a.clientJWKS = first.tel, mergeClientJWKS(a.providers)
	redirect, _ := url.Parse(first.oauth.RedirectURL)
	a.secure = redirect.Scheme == "https"
	a.site, a.logoutLanding = newSite(redirect), cfg.postLogoutLanding
	a.loginACRs, a.loginPath, a.loginHook, a.logoutHook = cfg.loginACRs, cfg.loginPath, cfg.loginHook, cfg.logoutHook
	a.silentLogin, a.silentCookie = cfg.silentLogin, cookieName("oidcauth_silent", a.secure)
	a.chooser = cfg.chooser

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
	a.tokens = tokenState{
		leeway:       cfg.refreshLeeway,
		refreshAhead: cfg.refreshAhead,
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

// Issuer returns the issuer identifier of New's provider; with
// WithMultiTenantIssuer, the template with its {tenantid} placeholder.
func (a *Auth) Issuer() string { return a.primary().issuer }

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
