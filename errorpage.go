package oidcauth

import (
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"strings"
)

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}code{color:#666}</style>
</head><body><h1>{{.Title}}</h1><p>{{.Description}}</p><p><code>{{.Code}}</code></p>
<p><a href="/">Back to the start page</a></p></body></html>
`))

// DefaultErrorHandler answers a failed request with a minimal page: JSON
// {"error", "error_description"} for API requests, HTML otherwise. It shows
// only the [Error]'s Code and Description, escaped, never the cause. The
// page cannot be cached, framed or leak a referrer.
func DefaultErrorHandler(w http.ResponseWriter, r *http.Request, status int, err error) {
	code, desc := "server_error", "Something went wrong."
	var e *Error
	if errors.As(err, &e) {
		code, desc = e.Code, e.Description
	}
	h := w.Header()
	private(h)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	// 401 comes only from API requests (browsers are redirected to log in).
	if status == http.StatusUnauthorized || wantsJSON(r) || r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}{code, desc})
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	errorPage.Execute(w, struct{ Title, Description, Code string }{http.StatusText(status), desc, code})
}

// private marks a response that must not be cached or leak a referrer: the
// callback, login redirects, logout and error pages.
func private(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
}

// allow answers 405 unless r's method is one of methods, and reports
// whether it is.
func (a *Auth) allow(w http.ResponseWriter, r *http.Request, desc string, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	a.fail(w, r, http.StatusMethodNotAllowed, newError(ErrBadRequest, "method_not_allowed", desc, nil))
	return false
}
