package main

import (
	"crypto/rand"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidctest"
)

// devClientID is the client the development provider registers for the app
// when OIDC_CLIENT_ID is not set.
const devClientID = "oidcauth-example"

// startDevProvider starts the embedded development provider on a free
// loopback port, with one client for this app: its redirect URI and
// post-logout URI, and the client ID, secret and authentication method of
// the configuration. OIDC_CLIENT_SECRET unset gives a random secret (or
// none, for OIDC_CLIENT_AUTH=none); set to empty, a public client. It
// returns the configuration with the issuer and credentials filled in.
//
// The provider shows a login form that accepts any user name and password.
// It keeps everything in memory: it is for trying the example, never for
// production.
func startDevProvider(cfg config) (*oidctest.Provider, config, error) {
	if cfg.ClientID == "" {
		cfg.ClientID = devClientID
	}
	var jwks *jose.JSONWebKeySet
	if cfg.ClientAuth == oidcauth.AuthMethodPrivateKeyJWT {
		// private_key_jwt: the key of OIDC_CLIENT_KEY_FILE, or one made now,
		// registered with its public half; no secret.
		if cfg.ClientKey == nil {
			k, err := devClientKey()
			if err != nil {
				return nil, cfg, err
			}
			cfg.ClientKey = k
		}
		set, err := publicKeySet(cfg.ClientKey, cfg.ClientKeyID)
		if err != nil {
			return nil, cfg, err
		}
		jwks, cfg.ClientSecret, cfg.SecretSet = set, "", true
	}
	if !cfg.SecretSet {
		if cfg.ClientAuth != oidcauth.AuthMethodNone {
			cfg.ClientSecret = rand.Text()
		}
		cfg.SecretSet = true
	}
	p, err := oidctest.NewProvider(oidctest.Config{
		Interactive: true,
		// DPoP with nonces, as a FAPI 2.0 provider has it; the client must
		// use it when the app does (OIDC_DPOP=1).
		DPoP: true, DPoPNonce: true,
		// The form's default user is in the admin group of GET /admin; any
		// other name typed in is not. Every login gets the acr it asks for
		// (GET /step-up).
		User: oidctest.User{Subject: "alice", Claims: map[string]any{
			"name": "Alice Example", "email": "alice@example.com", "email_verified": true,
			"preferred_username": "alice", "groups": []string{cfg.Policy.AdminGroup},
		}},
		Clients: []oidctest.Client{{
			ID:                     cfg.ClientID,
			Secret:                 cfg.ClientSecret,
			AuthMethod:             string(cfg.ClientAuth), // empty: basic with a secret, none without
			JWKS:                   jwks,
			RedirectURIs:           []string{cfg.RedirectURL},
			PostLogoutRedirectURIs: []string{cfg.PostLogoutRedirectURL},
			RequireDPoP:            cfg.DPoP,
		}},
	})
	if err != nil {
		return nil, cfg, err
	}
	cfg.Issuer = p.Issuer
	return p, cfg, nil
}
