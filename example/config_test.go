package main

import (
	"errors"
	"strings"
	"testing"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestLoadConfigErrors(t *testing.T) {
	issuer := map[string]string{"OIDC_ISSUER": "https://idp.example", "OIDC_CLIENT_ID": "app"}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantVar string
		wantMsg string // the whole message, when not empty
		secret  string // must not appear in the message
	}{
		{"addr without port", with(nil, "ADDR", "localhost"), "ADDR", "", ""},
		{"addr with a named port", with(nil, "ADDR", "127.0.0.1:http"), "ADDR", "", ""},
		{"issuer not a URL", with(nil, "OIDC_ISSUER", "idp", "OIDC_CLIENT_ID", "app"), "OIDC_ISSUER", "", ""},
		{"issuer plain http", with(nil, "OIDC_ISSUER", "http://idp.example", "OIDC_CLIENT_ID", "app"), "OIDC_ISSUER", "", ""},
		{"issuer with query", with(nil, "OIDC_ISSUER", "https://idp.example/?a=b", "OIDC_CLIENT_ID", "app"), "OIDC_ISSUER", "", ""},
		{"issuer without client", with(nil, "OIDC_ISSUER", "https://idp.example"), "OIDC_CLIENT_ID", "", ""},
		{"unknown auth method", with(nil, "OIDC_CLIENT_AUTH", "tls_client_auth"), "OIDC_CLIENT_AUTH", "", ""},
		{"private_key_jwt without a key file", with(issuer, "OIDC_CLIENT_AUTH", "private_key_jwt"), "OIDC_CLIENT_KEY_FILE", "", ""},
		{"private_key_jwt with a secret", with(nil, "OIDC_CLIENT_AUTH", "private_key_jwt", "OIDC_CLIENT_SECRET", "s"), "OIDC_CLIENT_AUTH", "", ""},
		{"key file missing", with(nil, "OIDC_CLIENT_KEY_FILE", "/nonexistent/key.pem"), "OIDC_CLIENT_KEY_FILE", "", ""},
		{"key file not a key", with(nil, "OIDC_CLIENT_KEY_FILE", "config.go"), "OIDC_CLIENT_KEY_FILE", "", ""},
		{"key file with another method", with(nil, "OIDC_CLIENT_AUTH", "client_secret_post", "OIDC_CLIENT_KEY_FILE", "config.go"), "OIDC_CLIENT_KEY_FILE", "", ""},
		{"key ID without private_key_jwt", with(nil, "OIDC_CLIENT_KEY_ID", "k1"), "OIDC_CLIENT_KEY_ID", "", ""},
		{"PAR not 0 or 1", with(nil, "OIDC_PAR", "yes"), "OIDC_PAR", "", ""},
		{"none with a secret", with(nil, "OIDC_CLIENT_AUTH", "none", "OIDC_CLIENT_SECRET", "s"), "OIDC_CLIENT_AUTH", "", ""},
		{"post with an empty secret", with(nil, "OIDC_CLIENT_AUTH", "client_secret_post", "OIDC_CLIENT_SECRET", ""), "OIDC_CLIENT_AUTH", "", ""},
		{"basic without a secret", with(issuer, "OIDC_CLIENT_AUTH", "client_secret_basic"), "OIDC_CLIENT_AUTH", "", ""},
		{"redirect not absolute", with(nil, "OIDC_REDIRECT_URL", "foo"), "OIDC_REDIRECT_URL",
			`OIDC_REDIRECT_URL: "foo" is not an absolute http(s) URL`, ""},
		{"redirect not http", with(nil, "OIDC_REDIRECT_URL", "ftp://app.example/callback"), "OIDC_REDIRECT_URL", "", ""},
		{"redirect with fragment", with(nil, "OIDC_REDIRECT_URL", "https://app.example/callback#x"), "OIDC_REDIRECT_URL", "", ""},
		{"post-logout relative", with(nil, "OIDC_POST_LOGOUT_REDIRECT_URL", "/bye"), "OIDC_POST_LOGOUT_REDIRECT_URL", "", ""},
		{"scopes without openid", with(nil, "OIDC_SCOPES", "profile email"), "OIDC_SCOPES", "", ""},
		{"dpop not 0 or 1", with(nil, "OIDC_DPOP", "yes"), "OIDC_DPOP", "", ""},
		{"endpoints without issuer", with(nil, "OIDC_AUTHORIZE_URL", "https://idp.example/auth",
			"OIDC_TOKEN_URL", "https://idp.example/token", "OIDC_JWKS_URL", "https://idp.example/jwks"), "OIDC_AUTHORIZE_URL", "", ""},
		{"token endpoint without authorize", with(issuer, "OIDC_TOKEN_URL", "https://idp.example/token"), "OIDC_TOKEN_URL", "", ""},
		{"authorize without jwks", with(issuer, "OIDC_AUTHORIZE_URL", "https://idp.example/auth",
			"OIDC_TOKEN_URL", "https://idp.example/token"), "OIDC_JWKS_URL", "", ""},
		{"jwks plain http", with(issuer, "OIDC_AUTHORIZE_URL", "https://idp.example/auth",
			"OIDC_TOKEN_URL", "https://idp.example/token", "OIDC_JWKS_URL", "http://idp.example/jwks"), "OIDC_JWKS_URL", "", ""},
		{"end session not a URL", with(issuer, "OIDC_AUTHORIZE_URL", "https://idp.example/auth",
			"OIDC_TOKEN_URL", "https://idp.example/token", "OIDC_JWKS_URL", "https://idp.example/jwks",
			"OIDC_END_SESSION_URL", "logout"), "OIDC_END_SESSION_URL", "", ""},
		{"redis wrong scheme", with(nil, "SESSION_REDIS_URL", "http://127.0.0.1:6379"), "SESSION_REDIS_URL", "", ""},
		{"redis bad URL", with(nil, "SESSION_REDIS_URL", "redis://u:hunter2@127.0.0.1:6379/x y"), "SESSION_REDIS_URL", "", "hunter2"},
		{"postgres bad URL", with(nil, "SESSION_POSTGRES_URL", "postgres://u:hunter2@127.0.0.1:notaport/db"), "SESSION_POSTGRES_URL", "", "hunter2"},
		{"two stores", with(nil, "SESSION_REDIS_URL", "redis://127.0.0.1:6379/0",
			"SESSION_POSTGRES_URL", "postgres://127.0.0.1/db"), "SESSION_POSTGRES_URL", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(envOf(tt.env))
			var ce *configError
			if !errors.As(err, &ce) {
				t.Fatalf("loadConfig(%v) = %v, want an error naming %s", tt.env, err, tt.wantVar)
			}
			if ce.Var != tt.wantVar || !strings.HasPrefix(err.Error(), tt.wantVar+": ") {
				t.Errorf("error %q names %s, want %s", err, ce.Var, tt.wantVar)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("error %q, want %q", err, tt.wantMsg)
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := loadConfig(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:8080" || cfg.Issuer != "" || cfg.SecretSet || cfg.Endpoints != nil ||
		strings.Join(cfg.Scopes, " ") != "openid profile email" {
		t.Errorf("defaults: %+v", cfg)
	}
	cfg = cfg.withDefaults()
	if cfg.RedirectURL != "http://127.0.0.1:8080/callback" || cfg.PostLogoutRedirectURL != "http://127.0.0.1:8080/" {
		t.Errorf("default URLs: %q, %q", cfg.RedirectURL, cfg.PostLogoutRedirectURL)
	}

	cfg, err = loadConfig(envOf(map[string]string{"OIDC_CLIENT_SECRET": "", "ADDR": ""}))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.SecretSet || cfg.ClientSecret != "" || cfg.Addr != "127.0.0.1:8080" {
		t.Errorf("OIDC_CLIENT_SECRET set to empty: %+v", cfg)
	}

	cfg, err = loadConfig(envOf(map[string]string{
		"OIDC_ISSUER": "https://idp.example/tenant", "OIDC_CLIENT_ID": "app", "OIDC_CLIENT_SECRET": "s",
		"OIDC_CLIENT_AUTH": "client_secret_post", "OIDC_SCOPES": " openid  offline_access ",
		"OIDC_REDIRECT_URL":  "https://app.example/callback",
		"OIDC_AUTHORIZE_URL": "https://idp.example/tenant/auth/", "OIDC_TOKEN_URL": "https://idp.example/tenant/token/",
		"OIDC_JWKS_URL": "https://idp.example/tenant/jwks", "OIDC_END_SESSION_URL": "https://idp.example/tenant/logout",
	}))
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.withDefaults()
	if cfg.ClientAuth != "client_secret_post" || strings.Join(cfg.Scopes, ",") != "openid,offline_access" ||
		cfg.Endpoints == nil || cfg.Endpoints.Authorize != "https://idp.example/tenant/auth/" ||
		cfg.Endpoints.EndSession != "https://idp.example/tenant/logout" || cfg.Endpoints.UserInfo != "" ||
		cfg.PostLogoutRedirectURL != "http://127.0.0.1:8080/" {
		t.Errorf("full configuration: %+v, endpoints %+v", cfg, cfg.Endpoints)
	}
}

func TestBaseURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080",
		":8080":          "http://127.0.0.1:8080",
		"0.0.0.0:8080":   "http://127.0.0.1:8080",
		"[::]:8080":      "http://[::1]:8080",
		"localhost:80":   "http://localhost:80",
	} {
		if got := baseURL(addr); got != want {
			t.Errorf("baseURL(%q) = %q, want %q", addr, got, want)
		}
	}
}
