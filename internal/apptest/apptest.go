// Package apptest starts an application protected by oidcauth in front of
// an oidctest provider, with a browser for it, for the tests of the
// adapters and routers.
package apptest

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidctest"
)

// Site is an app on loopback in front of an oidctest provider, and a
// browser for it.
type Site struct {
	*oidctest.Browser
	OP   *oidctest.Provider
	Auth *oidcauth.Auth

	t testing.TB
}

// New starts a provider and an app server whose handler routes builds once
// the Auth exists. The Auth has the client "client"/"secret", the redirect
// URL /callback on the app, the API prefix /api/ and opts.
func New(t testing.TB, routes func(*oidcauth.Auth) http.Handler, opts ...oidcauth.Option) *Site {
	t.Helper()
	op, err := oidctest.NewProvider(oidctest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(op.Close)
	var handler http.Handler = http.NotFoundHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	base := []oidcauth.Option{
		oidcauth.WithClientID("client"), oidcauth.WithClientSecret("secret"),
		oidcauth.WithRedirectURL(srv.URL + "/callback"),
		oidcauth.WithAPIPrefix("/api/"),
		oidcauth.WithLogger(slog.New(slog.DiscardHandler)),
	}
	auth, err := oidcauth.New(context.Background(), op.Issuer, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	handler = routes(auth)
	return &Site{Browser: oidctest.NewBrowser(t, srv.URL), OP: op, Auth: auth, t: t}
}

// Login logs in starting at path.
func (s *Site) Login(path string) { s.Browser.Login(s.OP, path) }

// SessionCookie is the name of the session cookie.
func (s *Site) SessionCookie() string { return s.Auth.SessionManager().Cookie.Name }

// PostLogoutToken posts, as the provider does (server to server, without
// the browser's cookies), a back-channel logout token for the subject sub
// to the application's path.
func (s *Site) PostLogoutToken(path, sub string) oidctest.Response {
	tok := s.OP.SignTyped(s.OP.LogoutClaims("client", sub, ""), "logout+jwt")
	provider := oidctest.NewBrowser(s.t, s.AppURL)
	return provider.Do(http.MethodPost, path, nil, url.Values{"logout_token": {tok}})
}
