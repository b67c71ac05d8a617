package main

import (
	"encoding/json"
	"net/http"

	"github.com/oidcauth/oidcauth"
)

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
