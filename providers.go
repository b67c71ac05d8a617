package oidcauth

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
)

// Several providers in one app. New's issuer and options make the first
// provider; each WithProvider adds one, with its own client and redirect
// URI. Everything else is the Auth's and shared: the session manager, the
// logins under way, the session index (keyed by issuer), the policy. A
// login remembers its provider from start to callback, and a session its
// issuer, so that refresh, userinfo, revocation and logout go to the
// provider it logged in at (SECURITY.md, "Several providers").

// DefaultProviderName is the name of New's provider unless WithProviderName
// gives another.
const DefaultProviderName = "default"

// providerSpec is a provider added with WithProvider, built by New.
type providerSpec struct {
	name, issuer string
	opts         []Option
}

// providerName is what a provider may be called: a short lowercase word
// that goes into URLs and logs as it is.
var providerName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// WithProviderName names New's provider (default [DefaultProviderName]),
// as the login chooser and /login?provider= call it.
func WithProviderName(name string) Option {
	return func(c *config) error {
		if !providerName.MatchString(name) {
			return optionError("WithProviderName", "%q is not a provider name (lowercase letters, digits, - and _, at most 32)", printable(name, 64))
		}
		c.providerName = name
		return nil
	}
}

// WithProvider adds the provider whose issuer identifier is issuer, under
// name, configured by opts as New's provider is by its own: WithClientID
// and WithRedirectURL are required, and the provider options (client
// secret, key and authentication method, scopes, endpoints, authorization
// parameters, post-logout redirect URL, userinfo claims, PAR, DPoP, FAPI
// 2.0, multi-tenancy) are its own; nothing is inherited from New's
// provider. The options of the application (sessions, timeouts, logging,
// policy, telemetry) are given to New alone; one given here fails New.
//
// Each provider needs its own redirect URL, on the same origin as New's
// provider's: a login's response is accepted only at the redirect URL of
// the provider it was started at (the mix-up defense of RFC 9700 4.4). Two
// providers may not share a name or an issuer. With several providers an
// anonymous browser on a protected page goes to the login chooser
// (WithLoginChooser) instead of straight to a provider.
func WithProvider(name, issuer string, opts ...Option) Option {
	return func(c *config) error {
		if !providerName.MatchString(name) {
			return optionError("WithProvider", "%q is not a provider name (lowercase letters, digits, - and _, at most 32)", printable(name, 64))
		}
		c.providers = append(c.providers, providerSpec{name: name, issuer: issuer, opts: opts})
		return nil
	}
}

// providerConfig applies the options of a WithProvider to a configuration
// of its own, refusing an option of the application.
func (s providerSpec) config() (config, error) {
	pc := defaultConfig()
	for _, opt := range s.opts {
		if err := opt(&pc); err != nil {
			return pc, fmt.Errorf("WithProvider %q: %w", s.name, err)
		}
	}
	if name := appOptionSet(pc); name != "" {
		return pc, optionError("WithProvider", "provider %q: %s configures the application, not a provider: give it to New", s.name, name)
	}
	return pc, nil
}

// appOptionSet names an option of the application that c, from defaults,
// has set; "" when none.
func appOptionSet(c config) string {
	d := defaultConfig()
	for _, o := range []struct {
		name string
		set  bool
	}{
		{"WithProvider", len(c.providers) > 0},
		{"WithProviderName", c.providerName != ""},
		{"WithSessionManager", c.sessions != nil},
		{"WithSessionStore", c.sessionStore != nil},
		{"WithSessionLifetime", c.idleTimeout != d.idleTimeout || c.lifetime != d.lifetime},
		{"WithClockSkew", c.clockSkew != d.clockSkew},
		{"WithHTTPClient", c.httpClient != nil},
		{"WithTimeout", c.timeout != d.timeout},
		{"WithLogger", c.logger != nil},
		{"WithErrorHandler", c.errorHandler != nil},
		{"WithAPIPrefix", len(c.apiPrefixes) > 0},
		{"WithPostLogoutLanding", c.postLogoutLanding != d.postLogoutLanding},
		{"WithInsecureHTTP", c.insecureHTTP},
		{"WithJWKSRefreshInterval", c.jwksMinInterval != d.jwksMinInterval},
		{"WithLivenessInterval", c.liveness != d.liveness},
		{"WithMaxClaimsSize", c.maxClaims != d.maxClaims},
		{"WithStrictSessionManager", c.strictSessions},
		{"WithTokenEncryption", len(c.tokenAEADs) > 0},
		{"WithRefreshLeeway", c.refreshLeeway != d.refreshLeeway},
		{"WithRefreshAhead", c.refreshAhead},
		{"WithBackchannelLogoutSessionRequired", c.sidRequired},
		{"WithSessionCappedByIDToken", c.capByIDToken},
		{"WithTracerProvider", c.tracerProvider != nil},
		{"WithMeterProvider", c.meterProvider != nil},
		{"WithLoginACRValues", len(c.loginACRs) > 0},
		{"WithLoginPath", c.loginPath != d.loginPath},
		{"WithSilentLogin", c.silentLogin},
		{"WithLoginHook", c.loginHook != nil},
		{"WithLogoutHook", c.logoutHook != nil},
		{"WithLoginChooser", c.chooser != nil},
	} {
		if o.set {
			return o.name
		}
	}
	return ""
}

// checkProviders refuses providers that would make a login's or a
// logout's provider ambiguous: a name, an issuer or a redirect URL
// twice, or a redirect URL on another origin than the first provider's.
func checkProviders(ps []*provider) error {
	first, _ := url.Parse(ps[0].oauth.RedirectURL)
	for i, p := range ps {
		u, _ := url.Parse(p.oauth.RedirectURL)
		if canonicalOrigin(u) != canonicalOrigin(first) {
			return optionError("WithProvider", "provider %q: the redirect URL %q is not on the origin of %q's (%s): the login's cookies would not reach it",
				p.name, p.oauth.RedirectURL, ps[0].name, canonicalOrigin(first))
		}
		for _, q := range ps[:i] {
			switch {
			case p.name == q.name:
				return optionError("WithProvider", "two providers are named %q", p.name)
			case p.issuer == q.issuer:
				return optionError("WithProvider", "providers %q and %q have the same issuer %q: their sessions and logouts could not be told apart", q.name, p.name, p.issuer)
			case p.callbackPath == q.callbackPath:
				return optionError("WithProvider", "providers %q and %q share the redirect path %q: each needs its own redirect URL (RFC 9700 4.4, mix-up)", q.name, p.name, p.callbackPath)
			}
		}
	}
	return nil
}

// Providers returns the names of the Auth's providers, New's first.
func (a *Auth) Providers() []string {
	names := make([]string, len(a.providers))
	for i, p := range a.providers {
		names[i] = p.name
	}
	return names
}

// primary is New's provider.
func (a *Auth) primary() *provider { return a.providers[0] }

// several reports whether the Auth has more than one provider.
func (a *Auth) several() bool { return len(a.providers) > 1 }

// providerNamed is the provider called name; nil when none is.
func (a *Auth) providerNamed(name string) *provider {
	for _, p := range a.providers {
		if p.name == name {
			return p
		}
	}
	return nil
}

// providerOfIssuer is the provider whose issuer iss is (with
// WithMultiTenantIssuer, an allowed tenant's issuer); nil when none is.
// An exact issuer wins over a tenant template.
func (a *Auth) providerOfIssuer(iss string) *provider {
	for _, p := range a.providers {
		if p.tenancy == nil && p.issuer == iss {
			return p
		}
	}
	for _, p := range a.providers {
		if p.tenancy != nil && p.acceptsIssuer(iss) {
			return p
		}
	}
	return nil
}

// providerOf is the provider l logged in at, by its issuer; nil when the
// Auth no longer has it (the application removed a provider): the login
// then ends.
func (a *Auth) providerOf(l *login) *provider {
	if l.Issuer == "" {
		return a.primary()
	}
	return a.providerOfIssuer(l.Issuer)
}

// providerAtPath is the provider whose redirect URL's path is path: the
// only one when there is one (the application may mount the callback
// anywhere, behind a proxy that rewrites paths), nil when several and none
// matches.
func (a *Auth) providerAtPath(path string) *provider {
	if !a.several() {
		return a.primary()
	}
	for _, p := range a.providers {
		if p.callbackPath == path {
			return p
		}
	}
	return nil
}

// ProviderName returns the name of the provider the request's session
// logged in at; "" when it is anonymous.
func (a *Auth) ProviderName(r *http.Request) string {
	l, _ := a.sessionLogin(r.Context())
	if l == nil {
		return ""
	}
	if p := a.providerOf(l); p != nil {
		return p.name
	}
	return ""
}

// LoginURL returns the path that starts a login at the provider called
// name and then returns to returnTo (made a same-origin path first), for
// the application's own login chooser. An unknown name gives the plain
// login path, which shows the chooser.
func (a *Auth) LoginURL(name, returnTo string) string {
	q := url.Values{"return_to": {SafeReturnTo(returnTo)}}
	if a.providerNamed(name) != nil {
		q.Set("provider", name)
	}
	return a.loginPath + "?" + q.Encode()
}
