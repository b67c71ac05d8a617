package main

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/oidcauth/oidcauth"
)

// A second provider (OIDC2_*): the app then offers a login at either, and
// each session belongs to the provider it logged in at. Only what a
// provider with discovery needs is configurable: the issuer, the client
// and its authentication method, the name and the redirect URL. Its scopes
// and post-logout redirect URL are the first provider's (OIDC_SCOPES,
// OIDC_POST_LOGOUT_REDIRECT_URL); OIDC_PAR, OIDC_DPOP, the client key and
// the endpoints by hand are the first provider's alone.

// Default provider names (OIDC_PROVIDER_NAME, OIDC2_NAME).
const (
	defaultProviderName = "main"
	defaultSecondName   = "second"
)

// secondProvider is the configuration of the second provider.
type secondProvider struct {
	Name     string // OIDC2_NAME
	Issuer   string // OIDC2_ISSUER
	ClientID string // OIDC2_CLIENT_ID
	// ClientSecret is OIDC2_CLIENT_SECRET; empty means a public client.
	ClientSecret string
	// ClientAuth is OIDC2_CLIENT_AUTH; empty for "pick from discovery".
	ClientAuth oidcauth.AuthMethod
	// RedirectURL is OIDC2_REDIRECT_URL; empty until withDefaults makes it
	// http://ADDR/callback/<Name>.
	RedirectURL string
}

// secondVars are the variables of the second provider.
var secondVars = []string{
	"OIDC2_ISSUER", "OIDC2_CLIENT_ID", "OIDC2_CLIENT_SECRET", "OIDC2_CLIENT_AUTH",
	"OIDC2_NAME", "OIDC2_REDIRECT_URL",
}

// providerNameRE is what oidcauth accepts as a provider name
// (WithProviderName, WithProvider): it goes into URLs and logs as it is.
var providerNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// appPaths are the paths of the app's own routes (app.go, policy.go): a
// redirect URL may not take one of them.
var appPaths = []string{
	"/", "/me", "/api/me", "/api/userinfo", "/callback", "/login", "/logout",
	"/backchannel-logout", "/frontchannel-logout", "/jwks", "/metrics",
	"/step-up", "/recent", "/admin", "/api/resource", "/resource",
}

// loadProviders reads OIDC_PROVIDER_NAME and the second provider's
// variables into cfg, after the first provider's are read.
func loadProviders(getenv func(string) (string, bool), cfg *config) error {
	get := func(name string) string {
		v, _ := getenv(name)
		return strings.TrimSpace(v)
	}
	cfg.ProviderName = defaultProviderName
	if v := get("OIDC_PROVIDER_NAME"); v != "" {
		if !providerNameRE.MatchString(v) {
			return badVar("OIDC_PROVIDER_NAME", "%q is not a provider name (lowercase letters, digits, - and _, at most 32, starting with a letter or digit)", v)
		}
		cfg.ProviderName = v
	}

	issuer := get("OIDC2_ISSUER")
	if issuer == "" {
		for _, name := range secondVars {
			if _, set := getenv(name); set && (get(name) != "" || name == "OIDC2_CLIENT_SECRET") {
				return badVar(name, "is set, but OIDC2_ISSUER is not: the second provider needs its issuer")
			}
		}
		return nil
	}
	if err := checkProviderURL(issuer); err != nil {
		return badVar("OIDC2_ISSUER", "%v", err)
	}
	if u, _ := url.Parse(issuer); u.RawQuery != "" || u.Fragment != "" {
		return badVar("OIDC2_ISSUER", "%q must not have a query or fragment", issuer)
	}
	if issuer == cfg.Issuer {
		return badVar("OIDC2_ISSUER", "%q is OIDC_ISSUER too: the two providers' sessions and logouts could not be told apart", issuer)
	}
	s := &secondProvider{
		Name:        defaultSecondName,
		Issuer:      issuer,
		ClientID:    get("OIDC2_CLIENT_ID"),
		RedirectURL: get("OIDC2_REDIRECT_URL"),
	}
	if s.ClientID == "" {
		return badVar("OIDC2_CLIENT_ID", "is required with OIDC2_ISSUER")
	}
	secret, secretSet := getenv("OIDC2_CLIENT_SECRET")
	s.ClientSecret = secret

	switch m := oidcauth.AuthMethod(get("OIDC2_CLIENT_AUTH")); m {
	case "":
	case oidcauth.AuthMethodBasic, oidcauth.AuthMethodPost:
		if secret == "" {
			what := "is empty"
			if !secretSet {
				what = "is not set"
			}
			return badVar("OIDC2_CLIENT_AUTH", "%s needs a secret, but OIDC2_CLIENT_SECRET %s", m, what)
		}
		s.ClientAuth = m
	case oidcauth.AuthMethodNone:
		if secret != "" {
			return badVar("OIDC2_CLIENT_AUTH", "none is for public clients, but OIDC2_CLIENT_SECRET is set")
		}
		s.ClientAuth = m
	case oidcauth.AuthMethodPrivateKeyJWT:
		return badVar("OIDC2_CLIENT_AUTH", "private_key_jwt is for the first provider only (OIDC_CLIENT_KEY_FILE); use client_secret_basic, client_secret_post or none")
	default:
		return badVar("OIDC2_CLIENT_AUTH", "%q is not client_secret_basic, client_secret_post or none", string(m))
	}

	if v := get("OIDC2_NAME"); v != "" {
		if !providerNameRE.MatchString(v) {
			return badVar("OIDC2_NAME", "%q is not a provider name (lowercase letters, digits, - and _, at most 32, starting with a letter or digit)", v)
		}
		s.Name = v
	}
	if s.Name == cfg.ProviderName {
		return badVar("OIDC2_NAME", "%q is the first provider's name too (OIDC_PROVIDER_NAME): each provider needs its own", s.Name)
	}
	if err := checkSecondRedirect(cfg, s); err != nil {
		return err
	}
	cfg.Second = s
	return nil
}

// checkSecondRedirect checks OIDC2_REDIRECT_URL, or its default, against
// the first provider's redirect URL (or its default): the same origin, for
// the login's cookies, and another path, which must not be a route of the
// app.
func checkSecondRedirect(cfg *config, s *secondProvider) error {
	raw := s.RedirectURL
	if raw == "" {
		raw = defaultSecondRedirect(cfg.Addr, s.Name)
	} else if err := checkAppURL(raw); err != nil {
		return badVar("OIDC2_REDIRECT_URL", "%v", err)
	}
	u, _ := url.Parse(raw)
	first := cfg.RedirectURL
	if first == "" {
		first = baseURL(cfg.Addr) + "/callback"
	}
	f, _ := url.Parse(first)
	// Two providers: the first's redirect URL is mounted at its own path
	// too (app.go), which must not be a route of the app either.
	if fp := f.EscapedPath(); fp != "/callback" && (slices.Contains(appPaths, fp) || fp == "" || strings.ContainsAny(f.Path, "{}")) {
		return badVar("OIDC_REDIRECT_URL", "%q has the path of one of the app's routes, which a second provider's callback cannot share; use /callback", first)
	}
	if !strings.EqualFold(u.Scheme+"://"+u.Host, f.Scheme+"://"+f.Host) {
		return badVar("OIDC2_REDIRECT_URL", "%q is not on the origin of the first redirect URL %q: the login's cookies would not reach it", raw, first)
	}
	switch p := u.EscapedPath(); {
	case p == f.EscapedPath():
		return badVar("OIDC2_REDIRECT_URL", "%q has the path of the first redirect URL %q: each provider needs its own (a response is accepted only at its provider's)", raw, first)
	case slices.Contains(appPaths, p) || p == "":
		return badVar("OIDC2_REDIRECT_URL", "%q has the path of one of the app's routes; use another, such as /callback/%s", raw, s.Name)
	case strings.ContainsAny(u.Path, "{}"):
		return badVar("OIDC2_REDIRECT_URL", "%q has { or } in its path", raw)
	}
	return nil
}

// checkAppURL checks a URL of the app itself (a redirect URL): absolute
// http(s), with no fragment or user info.
func checkAppURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", raw)
	}
	if u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q must not have a fragment or user info", raw)
	}
	return nil
}

// defaultSecondRedirect is OIDC2_REDIRECT_URL's default.
func defaultSecondRedirect(addr, name string) string {
	return baseURL(addr) + "/callback/" + name
}

// options are the WithProvider options of the second provider, with the
// first provider's scopes and post-logout redirect URL.
func (s *secondProvider) options(cfg config) []oidcauth.Option {
	opts := []oidcauth.Option{
		oidcauth.WithClientID(s.ClientID),
		oidcauth.WithClientSecret(s.ClientSecret), // empty: a public client
		oidcauth.WithRedirectURL(s.RedirectURL),
		oidcauth.WithScopes(cfg.Scopes...),
		oidcauth.WithPostLogoutRedirectURL(cfg.PostLogoutRedirectURL),
	}
	if s.ClientAuth != "" {
		opts = append(opts, oidcauth.WithClientAuth(s.ClientAuth))
	}
	return opts
}

// callbackPath is the path of a redirect URL, where the app mounts the
// callback.
func callbackPath(redirectURL string) string {
	u, err := url.Parse(redirectURL)
	if err != nil || u.Path == "" {
		return "/"
	}
	return u.Path
}
