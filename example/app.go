package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/oidcauth/oidcauth"
)

// app is the example's HTTP handler and what it has started.
type app struct {
	// Handler serves every route, inside the session manager's LoadAndSave.
	Handler http.Handler
	// Issuer is the provider's issuer; DevProvider says it is the embedded one.
	Issuer      string
	DevProvider bool
	// URL is where a browser opens the app: the redirect URL's origin.
	URL string
	// Providers are the providers' names, the first's first.
	Providers []string

	closers []func()
}

// Close stops what newApp started, in reverse order.
func (a *app) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// newApp builds the app for cfg, whose Addr is the address it listens on:
// it starts the development provider when no issuer is configured, connects
// the session store, sets up oidcauth and mounts the routes.
func newApp(ctx context.Context, cfg config, log *slog.Logger) (_ *app, err error) {
	cfg = cfg.withDefaults()
	a := &app{}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()

	if cfg.Issuer == "" {
		p, devCfg, err := startDevProvider(cfg)
		if err != nil {
			return nil, fmt.Errorf("starting the development provider: %w", err)
		}
		a.closers = append(a.closers, p.Close)
		cfg, a.DevProvider = devCfg, true
	}
	a.Issuer = cfg.Issuer
	a.URL = baseURL(cfg.Addr) + "/"

	store, closeStore, err := newSessionStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, closeStore)

	mp, metrics, err := newMetrics()
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, func() { mp.Shutdown(context.Background()) })

	opts := []oidcauth.Option{
		oidcauth.WithClientID(cfg.ClientID),
		oidcauth.WithClientSecret(cfg.ClientSecret), // empty: a public client
		oidcauth.WithRedirectURL(cfg.RedirectURL),
		oidcauth.WithScopes(cfg.Scopes...),
		oidcauth.WithPostLogoutRedirectURL(cfg.PostLogoutRedirectURL),
		oidcauth.WithAPIPrefix("/api/"), // 401 there, never a redirect
		oidcauth.WithLogger(log),
		oidcauth.WithMeterProvider(mp), // GET /metrics
	}
	opts = append(opts, cfg.Policy.options()...)
	if cfg.ClientAuth != "" {
		opts = append(opts, oidcauth.WithClientAuth(cfg.ClientAuth))
	}
	if cfg.ClientKey != nil {
		opts = append(opts, oidcauth.WithClientKey(cfg.ClientKey, cfg.ClientKeyID))
	}
	switch cfg.PAR {
	case "1":
		opts = append(opts, oidcauth.WithPAR(true))
	case "0":
		opts = append(opts, oidcauth.WithPAR(false))
	}
	if cfg.Endpoints != nil {
		opts = append(opts, oidcauth.WithEndpoints(*cfg.Endpoints))
	}
	if cfg.DPoP {
		// Sender-constrained tokens: userinfo and Client(r) send DPoP proofs.
		opts = append(opts, oidcauth.WithDPoP())
	}
	opts = append(opts, oidcauth.WithProviderName(cfg.ProviderName))
	if s := cfg.Second; s != nil {
		opts = append(opts, oidcauth.WithProvider(s.Name, s.Issuer, s.options(cfg)...))
	}
	if store != nil {
		// oidcauth's own manager on Redis or Postgres: its cookie defaults,
		// idle timeout and session encoding.
		opts = append(opts, oidcauth.WithSessionStore(store))
	}
	auth, err := oidcauth.New(ctx, cfg.Issuer, opts...)
	if err != nil {
		// New names the provider added with WithProvider whose setup
		// failed in its error's first words.
		if s := cfg.Second; s != nil && strings.HasPrefix(err.Error(), fmt.Sprintf("provider %q: ", s.Name)) {
			if errors.Is(err, oidcauth.ErrDiscovery) {
				return nil, fmt.Errorf("OIDC2_ISSUER: %w", err)
			}
			return nil, fmt.Errorf("setting up OpenID Connect with the second provider %s: %w", s.Issuer, err)
		}
		if errors.Is(err, oidcauth.ErrDiscovery) && cfg.Endpoints == nil && !a.DevProvider {
			return nil, fmt.Errorf("OIDC_ISSUER: %w", err)
		}
		return nil, fmt.Errorf("setting up OpenID Connect with the provider %s: %w", cfg.Issuer, err)
	}
	a.Providers = auth.Providers()

	mux := http.NewServeMux()
	mux.Handle("GET /{$}", auth.Optional(home(auth, a.Issuer, a.DevProvider, log)))
	mux.Handle("GET /me", auth.Require(http.HandlerFunc(me)))
	mux.Handle("GET /api/me", auth.Require(http.HandlerFunc(me)))
	mux.Handle("GET /api/userinfo", auth.Require(userinfo(auth)))
	callback := auth.CallbackHandler()
	mux.Handle("GET /callback", callback)
	if s := cfg.Second; s != nil {
		// With two providers the callback tells them apart by path: each
		// redirect URL's path is mounted (the first's too, when it is not
		// /callback).
		for _, path := range []string{callbackPath(cfg.RedirectURL), callbackPath(s.RedirectURL)} {
			if path != "/callback" {
				mux.Handle("GET "+path, callback)
			}
		}
	}
	mux.Handle("GET /login", auth.LoginHandler())
	mux.Handle("POST /logout", auth.LogoutHandler()) // refuses cross-origin POSTs
	mux.Handle("POST /backchannel-logout", auth.BackchannelLogoutHandler())
	mux.Handle("GET /jwks", auth.ClientJWKSHandler())                        // 404 without a client key
	mux.Handle("GET /metrics", metrics)                                      // Prometheus text format, oidcauth_* only
	mux.Handle("GET /frontchannel-logout", auth.FrontchannelLogoutHandler()) // framed by the provider only
	policyRoutes(mux, auth, cfg.Policy)
	a.Handler = auth.LoadAndSave(mux)
	return a, nil
}
