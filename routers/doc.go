// Package routers holds no code: its tests and examples show that oidcauth
// mounts as it is, without an adapter, on the routers that take net/http
// handlers and middleware, the standard library's http.ServeMux (with Go
// 1.22 method and wildcard patterns) and github.com/go-chi/chi/v5.
//
// It is a module of its own so that the core's go.mod never requires chi.
package routers
