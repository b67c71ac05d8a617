package main

import (
	"encoding/json"
	"html/template"
	"log/slog"
	"net/http"

	"github.com/oidcauth/oidcauth"
)

var homePage = template.Must(template.New("home").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>oidcauth example</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}</style>
</head><body>
<h1>oidcauth example</h1>
{{if .LoggedIn -}}
<p>Logged in as <strong>{{.Name}}</strong>.</p>
<p><a href="/me">Your claims</a> · <a href="/api/me">/api/me</a></p>
<form method="post" action="/logout"><button>Log out</button></form>
{{- else -}}
<p>You are not logged in.</p>
<p><a href="/login?return_to=/me">Log in</a></p>
{{- end}}
</body></html>
`))

// home is the public page (behind auth.Optional): a login link, or the
// user's name and a logout button.
func home(log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var data struct {
			LoggedIn bool
			Name     string
		}
		if c, ok := oidcauth.ClaimsFromContext(r.Context()); ok {
			data.LoggedIn = true
			data.Name = displayName(c)
		}
		pageHeaders(w, "text/html; charset=utf-8")
		if err := homePage.Execute(w, data); err != nil {
			log.Warn("rendering the home page failed", "err", err)
		}
	})
}

// displayName picks the friendliest name the provider sent.
func displayName(c *oidcauth.Claims) string {
	for _, s := range []string{c.Name, c.PreferredUsername, c.Email} {
		if s != "" {
			return s
		}
	}
	return c.Subject
}

// me answers the logged-in user's id_token claims as JSON (behind
// auth.Require, for /me and /api/me).
func me(w http.ResponseWriter, r *http.Request) {
	raw, ok := oidcauth.RawClaimsFromContext(r.Context())
	if !ok {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
		return
	}
	pageHeaders(w, "application/json")
	w.Write(raw)
}

// userinfo calls the provider's userinfo endpoint with the session's
// access token, refreshed first when it is about to expire, and returns its
// JSON. A login that has ended gets 401; a failing provider 502.
func userinfo(auth *oidcauth.Auth) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, err := auth.UserInfo(r)
		if err != nil {
			auth.HandleError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(info)
	})
}

// pageHeaders sets the headers of the app's own responses: personal, so
// never cached, and never framed or sniffed.
func pageHeaders(w http.ResponseWriter, contentType string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	pageHeaders(w, "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
