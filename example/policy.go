package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/oidcauth/oidcauth"
)

// The per-route policy routes of the example (GET /step-up, /recent,
// /admin, /api/resource, /resource) and their variables.

// policyConfig is the part of the configuration for those routes.
type policyConfig struct {
	StepUpACR    string        // OIDC_STEP_UP_ACR
	RecentMaxAge time.Duration // OIDC_RECENT_MAX_AGE
	AdminGroup   string        // OIDC_ADMIN_GROUP
	ResourceURL  string        // OIDC_RESOURCE_URL; empty: /resource and /api/resource answer 404
	SilentLogin  bool          // OIDC_SILENT_LOGIN=1
}

// loadPolicyConfig reads the variables of the policy routes.
func loadPolicyConfig(get func(string) string) (policyConfig, error) {
	p := policyConfig{StepUpACR: "urn:oidcauth:example:mfa", RecentMaxAge: 300 * time.Second, AdminGroup: "admins"}
	if v := get("OIDC_STEP_UP_ACR"); v != "" {
		if strings.ContainsAny(v, " \"\\") || strings.IndexFunc(v, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 || len(v) > 256 {
			return p, badVar("OIDC_STEP_UP_ACR", "%q is not one acr value (printable ASCII, no space, quote or backslash)", v)
		}
		p.StepUpACR = v
	}
	if v := get("OIDC_RECENT_MAX_AGE"); v != "" {
		n, err := strconv.ParseUint(v, 10, 31)
		if err != nil {
			return p, badVar("OIDC_RECENT_MAX_AGE", "%q is not a number of seconds", v)
		}
		p.RecentMaxAge = time.Duration(n) * time.Second
	}
	if v := get("OIDC_ADMIN_GROUP"); v != "" {
		p.AdminGroup = v
	}
	if v := get("OIDC_RESOURCE_URL"); v != "" {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
			return p, badVar("OIDC_RESOURCE_URL", "%q is not an absolute http(s) URL without user info or fragment", v)
		}
		p.ResourceURL = v
	}
	switch v := get("OIDC_SILENT_LOGIN"); v {
	case "", "0":
	case "1":
		p.SilentLogin = true
	default:
		return p, badVar("OIDC_SILENT_LOGIN", "%q is not 1 or 0", v)
	}
	return p, nil
}

// options are the oidcauth options the policy routes need.
func (p policyConfig) options() []oidcauth.Option {
	opts := []oidcauth.Option{oidcauth.WithLoginACRValues(p.StepUpACR)}
	if p.SilentLogin {
		opts = append(opts, oidcauth.WithSilentLogin())
	}
	return opts
}

// policyRoutes mounts the policy routes.
func policyRoutes(mux *http.ServeMux, auth *oidcauth.Auth, p policyConfig) {
	claims := http.HandlerFunc(me)
	mux.Handle("GET /step-up", auth.RequireACR(p.StepUpACR)(claims))
	mux.Handle("GET /recent", auth.RequireFreshLogin(p.RecentMaxAge)(claims))
	mux.Handle("GET /admin", auth.RequireClaim("groups", p.AdminGroup)(claims))
	if p.ResourceURL == "" {
		return
	}
	// The API answers a resource server's step-up challenge with a login
	// URL that comes back to the page form, which a browser can open.
	mux.Handle("GET /api/resource", auth.Require(resource(auth, p.ResourceURL, "/resource")))
	mux.Handle("GET /resource", auth.Require(resource(auth, p.ResourceURL, "")))
}

// maxResource bounds the resource server's answer the example relays.
const maxResource = 1 << 20

// resource calls the resource server with the session's access token and
// relays its status and JSON; its RFC 9470 challenge becomes a step-up
// login (returnTo: where the login comes back to; "" the request's URL).
func resource(auth *oidcauth.Auth, resourceURL, returnTo string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, resourceURL, nil)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
			return
		}
		req.Header.Set("Accept", "application/json")
		resp, err := auth.Client(r).Do(req)
		if err != nil {
			if returnTo == "" {
				returnTo = r.URL.RequestURI()
			}
			auth.HandleErrorReturningTo(w, r, err, returnTo)
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxResource))
		if err != nil {
			writeJSON(w, http.StatusBadGateway, map[string]string{"error": "resource_unavailable"})
			return
		}
		pageHeaders(w, "application/json")
		w.WriteHeader(resp.StatusCode)
		if len(body) == 0 {
			fmt.Fprint(w, "{}")
			return
		}
		w.Write(body)
	})
}
