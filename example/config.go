package main

import (
	"crypto"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/oidcauth/oidcauth"
	"github.com/redis/go-redis/v9"
)

// config is the example's configuration, read from the environment once at
// start by loadConfig. Empty strings mean "not set": the defaults are filled
// in by newApp, which knows the address the app really listens on.
type config struct {
	// Addr is the listen address (ADDR). main replaces it with the address
	// actually bound, so that port 0 works.
	Addr string

	// Issuer is the provider (OIDC_ISSUER); empty starts the embedded
	// development provider.
	Issuer   string
	ClientID string
	// ClientSecret is OIDC_CLIENT_SECRET; SecretSet tells "unset" (the
	// development provider's secret, or a public client with a real
	// provider) from "set to empty" (a public client).
	ClientSecret string
	SecretSet    bool
	// ClientAuth is empty for "pick from discovery".
	ClientAuth            oidcauth.AuthMethod
	RedirectURL           string
	Scopes                []string
	PostLogoutRedirectURL string
	// Endpoints are given by hand (OIDC_AUTHORIZE_URL and friends), or nil
	// for discovery.
	Endpoints *oidcauth.Endpoints

	// ClientKey signs private_key_jwt assertions (OIDC_CLIENT_KEY_FILE, or
	// made at start for the development provider), under ClientKeyID
	// (OIDC_CLIENT_KEY_ID; empty: the key's thumbprint).
	ClientKey   crypto.Signer
	ClientKeyID string
	// PAR is OIDC_PAR: "1" pushes every authorization request, "0" never,
	// "" when the provider requires it.
	PAR string
	// DPoP makes the tokens sender-constrained (OIDC_DPOP=1).
	DPoP bool

	// At most one session store; neither means memory.
	RedisURL    string
	PostgresURL string

	// Policy configures the per-route policy routes (policy.go).
	Policy policyConfig

	// ProviderName is the name of the provider of OIDC_ISSUER, or of the
	// development provider (OIDC_PROVIDER_NAME, default "main").
	ProviderName string
	// Second is the second provider (OIDC2_*, providers.go); nil for one.
	Second *secondProvider
}

// configError is a bad environment variable. Its message starts with the
// variable's name.
type configError struct {
	Var string
	Msg string
}

func (e *configError) Error() string { return e.Var + ": " + e.Msg }

func badVar(name, format string, args ...any) error {
	return &configError{Var: name, Msg: fmt.Sprintf(format, args...)}
}

// loadConfig reads the configuration with getenv (os.LookupEnv in main).
// A variable set to the empty string counts as unset, except
// OIDC_CLIENT_SECRET, where empty means a public client.
func loadConfig(getenv func(string) (string, bool)) (config, error) {
	get := func(name string) string {
		v, _ := getenv(name)
		return strings.TrimSpace(v)
	}
	cfg := config{
		Addr:                  get("ADDR"),
		Issuer:                get("OIDC_ISSUER"),
		ClientID:              get("OIDC_CLIENT_ID"),
		RedirectURL:           get("OIDC_REDIRECT_URL"),
		PostLogoutRedirectURL: get("OIDC_POST_LOGOUT_REDIRECT_URL"),
		Scopes:                []string{"openid", "profile", "email"},
		RedisURL:              get("SESSION_REDIS_URL"),
		PostgresURL:           get("SESSION_POSTGRES_URL"),
	}
	cfg.ClientSecret, cfg.SecretSet = getenv("OIDC_CLIENT_SECRET")

	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8080"
	}
	if _, port, err := net.SplitHostPort(cfg.Addr); err != nil {
		return cfg, badVar("ADDR", "%q is not host:port (%v)", cfg.Addr, unwrapAddrError(err))
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return cfg, badVar("ADDR", "%q has no port number", cfg.Addr)
	}

	if cfg.Issuer != "" {
		if err := checkProviderURL(cfg.Issuer); err != nil {
			return cfg, badVar("OIDC_ISSUER", "%v", err)
		}
		if u, _ := url.Parse(cfg.Issuer); u.RawQuery != "" || u.Fragment != "" {
			return cfg, badVar("OIDC_ISSUER", "%q must not have a query or fragment", cfg.Issuer)
		}
		if cfg.ClientID == "" {
			return cfg, badVar("OIDC_CLIENT_ID", "is required with OIDC_ISSUER")
		}
	}

	switch m := oidcauth.AuthMethod(get("OIDC_CLIENT_AUTH")); m {
	case "":
	case oidcauth.AuthMethodBasic, oidcauth.AuthMethodPost:
		if cfg.SecretSet && cfg.ClientSecret == "" {
			return cfg, badVar("OIDC_CLIENT_AUTH", "%s needs a secret, but OIDC_CLIENT_SECRET is empty", m)
		}
		if !cfg.SecretSet && cfg.Issuer != "" {
			return cfg, badVar("OIDC_CLIENT_AUTH", "%s needs OIDC_CLIENT_SECRET", m)
		}
		cfg.ClientAuth = m
	case oidcauth.AuthMethodNone:
		if cfg.ClientSecret != "" {
			return cfg, badVar("OIDC_CLIENT_AUTH", "none is for public clients, but OIDC_CLIENT_SECRET is set")
		}
		cfg.ClientAuth = m
	case oidcauth.AuthMethodPrivateKeyJWT:
		cfg.ClientAuth = m // checked with the key, below
	default:
		return cfg, badVar("OIDC_CLIENT_AUTH", "%q is not client_secret_basic, client_secret_post, private_key_jwt or none", string(m))
	}
	if err := loadClientKeyConfig(get, &cfg); err != nil {
		return cfg, err
	}

	for _, v := range []struct {
		name string
		val  string
	}{
		{"OIDC_REDIRECT_URL", cfg.RedirectURL},
		{"OIDC_POST_LOGOUT_REDIRECT_URL", cfg.PostLogoutRedirectURL},
	} {
		if v.val == "" {
			continue
		}
		u, err := url.Parse(v.val)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return cfg, badVar(v.name, "%q is not an absolute http(s) URL", v.val)
		}
		if u.Fragment != "" || u.User != nil {
			return cfg, badVar(v.name, "%q must not have a fragment or user info", v.val)
		}
	}

	if s := get("OIDC_SCOPES"); s != "" {
		cfg.Scopes = strings.Fields(s)
		if !slices.Contains(cfg.Scopes, "openid") {
			return cfg, badVar("OIDC_SCOPES", "%q does not include openid", s)
		}
	}

	if err := loadEndpoints(get, &cfg); err != nil {
		return cfg, err
	}
	switch v := get("OIDC_DPOP"); v {
	case "", "0":
	case "1":
		cfg.DPoP = true
	default:
		return cfg, badVar("OIDC_DPOP", "%q is not 1 or 0", v)
	}

	var err error
	if cfg.Policy, err = loadPolicyConfig(get); err != nil {
		return cfg, err
	}
	if err := loadProviders(getenv, &cfg); err != nil {
		return cfg, err
	}

	if cfg.RedisURL != "" && cfg.PostgresURL != "" {
		return cfg, badVar("SESSION_POSTGRES_URL", "set only one of SESSION_REDIS_URL and SESSION_POSTGRES_URL")
	}
	if cfg.RedisURL != "" {
		if _, err := parseRedisURL(cfg.RedisURL); err != nil {
			return cfg, badVar("SESSION_REDIS_URL", "%v", err)
		}
	}
	if cfg.PostgresURL != "" {
		if _, err := pgxpool.ParseConfig(cfg.PostgresURL); err != nil {
			// pgx's message hides the password.
			return cfg, badVar("SESSION_POSTGRES_URL", "%v", err)
		}
	}
	return cfg, nil
}

// endpointVars are the variables that give the provider's endpoints by hand.
var endpointVars = []string{
	"OIDC_AUTHORIZE_URL", "OIDC_TOKEN_URL", "OIDC_JWKS_URL",
	"OIDC_USERINFO_URL", "OIDC_END_SESSION_URL", "OIDC_REVOCATION_URL",
}

// loadEndpoints reads the endpoints given by hand: all or nothing, and only
// for a real provider.
func loadEndpoints(get func(string) string, cfg *config) error {
	vals := map[string]string{}
	for _, name := range endpointVars {
		if v := get(name); v != "" {
			if err := checkProviderURL(v); err != nil {
				return badVar(name, "%v", err)
			}
			vals[name] = v
		}
	}
	if len(vals) == 0 {
		return nil
	}
	if vals["OIDC_AUTHORIZE_URL"] == "" {
		for _, name := range endpointVars {
			if vals[name] != "" {
				return badVar(name, "is set, but OIDC_AUTHORIZE_URL is not: endpoints given by hand need OIDC_AUTHORIZE_URL, OIDC_TOKEN_URL and OIDC_JWKS_URL")
			}
		}
	}
	if cfg.Issuer == "" {
		return badVar("OIDC_AUTHORIZE_URL", "endpoints given by hand need OIDC_ISSUER (the expected iss)")
	}
	for _, name := range []string{"OIDC_TOKEN_URL", "OIDC_JWKS_URL"} {
		if vals[name] == "" {
			return badVar(name, "is required with OIDC_AUTHORIZE_URL")
		}
	}
	cfg.Endpoints = &oidcauth.Endpoints{
		Authorize:  vals["OIDC_AUTHORIZE_URL"],
		Token:      vals["OIDC_TOKEN_URL"],
		JWKS:       vals["OIDC_JWKS_URL"],
		UserInfo:   vals["OIDC_USERINFO_URL"],
		EndSession: vals["OIDC_END_SESSION_URL"],
		Revocation: vals["OIDC_REVOCATION_URL"],
	}
	return nil
}

// checkProviderURL accepts what oidcauth accepts for a provider URL: an
// absolute https URL, or http on a loopback host (for local providers).
func checkProviderURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("%q is not an absolute http(s) URL", raw)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("%q uses plain http on a host that is not loopback; use https", raw)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// parseRedisURL parses a redis:// or rediss:// URL without ever putting its
// password in an error message.
func parseRedisURL(raw string) (*redis.Options, error) {
	if _, err := url.Parse(raw); err != nil {
		return nil, errors.New("is not a URL such as redis://127.0.0.1:6379/0")
	}
	opts, err := redis.ParseURL(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, err
	}
	return opts, nil
}

func unwrapAddrError(err error) error {
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return errors.New(ae.Err)
	}
	return err
}

// baseURL is the app's own origin as a browser on this machine reaches it:
// an unspecified listen host (":8080", "0.0.0.0:8080") becomes loopback.
func baseURL(addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	switch ip := net.ParseIP(host); {
	case host == "", ip != nil && ip.IsUnspecified() && ip.To4() != nil:
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified():
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// withDefaults fills in the URLs that depend on the address the app listens
// on, as the example's contract says: http://ADDR/callback and http://ADDR/,
// and the second provider's http://ADDR/callback/<OIDC2_NAME>.
func (c config) withDefaults() config {
	if c.ProviderName == "" {
		c.ProviderName = defaultProviderName
	}
	if c.Second != nil && c.Second.RedirectURL == "" {
		s := *c.Second
		s.RedirectURL = defaultSecondRedirect(c.Addr, s.Name)
		c.Second = &s
	}
	if c.RedirectURL == "" {
		c.RedirectURL = baseURL(c.Addr) + "/callback"
	}
	if c.PostLogoutRedirectURL == "" {
		c.PostLogoutRedirectURL = baseURL(c.Addr) + "/"
	}
	return c
}
