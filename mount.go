package oidcauth

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Mux is what [Auth.Mount] registers oidcauth's routes on: an
// *http.ServeMux, or any router whose Handle method takes Go 1.22 ServeMux
// patterns ("GET /callback").
type Mux interface {
	Handle(pattern string, handler http.Handler)
}

// MountOption changes where [Auth.Mount] puts one of oidcauth's routes.
type MountOption func(*mountPaths)

// mountPaths are the paths of the routes that do not come from a URL of
// the configuration; "" leaves a route out.
type mountPaths struct {
	login, logout, backchannel, frontchannel string
}

// LoginPath mounts the login handler at path instead of /login; "" leaves
// it out.
func LoginPath(path string) MountOption { return func(m *mountPaths) { m.login = path } }

// LogoutPath mounts the logout handler at path instead of /logout; "" leaves
// it out.
func LogoutPath(path string) MountOption { return func(m *mountPaths) { m.logout = path } }

// BackchannelLogoutPath mounts the back-channel logout handler at path
// instead of /backchannel-logout (register it at the provider as
// backchannel_logout_uri); "" leaves it out.
func BackchannelLogoutPath(path string) MountOption {
	return func(m *mountPaths) { m.backchannel = path }
}

// FrontchannelLogoutPath mounts the front-channel logout handler at path
// instead of /frontchannel-logout (register it at the provider as
// frontchannel_logout_uri); "" leaves it out.
func FrontchannelLogoutPath(path string) MountOption {
	return func(m *mountPaths) { m.frontchannel = path }
}

// Mount registers oidcauth's routes on mux, each with its method:
//
//	GET  <each redirect URL's path>    CallbackHandler
//	GET  /login                        LoginHandler (?return_to=/path)
//	POST /logout                       LogoutHandler
//	POST /backchannel-logout           BackchannelLogoutHandler
//	GET  /frontchannel-logout          FrontchannelLogoutHandler
//	GET  <the post-logout URL's path>  PostLogoutHandler
//
// The callback's path is the redirect URL's (WithRedirectURL). The
// post-logout route is mounted when WithPostLogoutRedirectURL names a URL
// on the application's origin whose path is not the landing path
// (WithPostLogoutLanding): when it is, that page is the application's, and
// its handler passes the requests with a state to PostLogoutHandler. The
// other paths can be moved or left out with [LoginPath], [LogoutPath],
// [BackchannelLogoutPath] and [FrontchannelLogoutPath]. A path ending in a slash is mounted exactly
// ("/{$}"). The separate handlers remain, for routers with another pattern
// syntax.
//
// Like ServeMux.Handle, Mount panics when a route cannot be registered: a
// path that does not start with "/" or holds "{" or "}", or a pattern
// that conflicts with one the mux has.
func (a *Auth) Mount(mux Mux, opts ...MountOption) {
	paths := mountPaths{login: "/login", logout: "/logout", backchannel: "/backchannel-logout", frontchannel: "/frontchannel-logout"}
	for _, opt := range opts {
		opt(&paths)
	}
	var routes []mountRoute
	callback := a.CallbackHandler()
	for _, p := range a.providers {
		routes = append(routes, mountRoute{http.MethodGet, p.callbackPath, "the redirect URL", callback})
	}
	routes = append(routes, []mountRoute{
		{http.MethodGet, paths.login, "LoginPath", a.LoginHandler()},
		{http.MethodPost, paths.logout, "LogoutPath", a.LogoutHandler()},
		{http.MethodPost, paths.backchannel, "BackchannelLogoutPath", a.BackchannelLogoutHandler()},
		{http.MethodGet, paths.frontchannel, "FrontchannelLogoutPath", a.FrontchannelLogoutHandler()},
	}...)
	var postLogout []string
	for _, p := range a.providers {
		if path, ok := a.postLogoutRoute(p); ok && !slices.Contains(postLogout, path) {
			postLogout = append(postLogout, path)
			routes = append(routes, mountRoute{http.MethodGet, path, "the post-logout redirect URL", a.PostLogoutHandler()})
		}
	}
	for _, rt := range routes {
		if rt.path == "" {
			continue
		}
		if !strings.HasPrefix(rt.path, "/") || strings.ContainsAny(rt.path, "{}") {
			panic(fmt.Sprintf("oidcauth: Mount: %s: the path %q does not start with / or holds { or }", rt.what, rt.path))
		}
		pattern := rt.method + " " + rt.path
		if strings.HasSuffix(rt.path, "/") {
			pattern += "{$}"
		}
		mux.Handle(pattern, rt.h)
	}
}

// mountRoute is one route of Mount; what names where its path comes from.
type mountRoute struct {
	method, path, what string
	h                  http.Handler
}

// postLogoutRoute is the path Mount gives PostLogoutHandler for p: its
// post-logout redirect URL's, when it is on the application's origin and
// not the landing path.
func (a *Auth) postLogoutRoute(p *provider) (string, bool) {
	if p.postLogout == "" {
		return "", false
	}
	u, err := url.Parse(p.postLogout)
	if err != nil || canonicalOrigin(u) != a.site.origin {
		return "", false
	}
	path := cmp.Or(u.Path, "/")
	landing, _, _ := strings.Cut(a.logoutLanding, "?")
	return path, path != landing
}
