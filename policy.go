package oidcauth

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Per-route policy: middleware that asks more of a logged-in user than
// [Auth.Require]. Each one works alone (it requires a login itself, as
// Require does) or inside Require, and they compose:
//
//	mux.Handle("GET /admin", auth.RequireClaim("groups", "admins")(admin))
//	mux.Handle("GET /pay", auth.RequireACR("urn:mfa")(auth.RequireFreshLogin(5*time.Minute)(pay)))
//
// A wrong argument is a programming error: they panic when built, at start.

// RequireACR is the middleware for routes that need the user's
// authentication to be one of the acr values (multi-factor, a hardware
// key...). A session without it is stepped up: a browser navigation goes
// to the provider with acr_values and comes back to the same URL, and the
// login that comes back must carry one of the values or it is refused
// (403, the earlier session stays as it was); an API request gets 401 with
// an RFC 9470 challenge (WWW-Authenticate: Bearer
// error="insufficient_user_authentication", acr_values="...").
func (a *Auth) RequireACR(values ...string) func(http.Handler) http.Handler {
	if len(values) == 0 || slices.Contains(values, "") {
		panic("oidcauth: RequireACR needs one or more non-empty acr values")
	}
	for _, v := range values {
		if !validACR(v) {
			panic(fmt.Sprintf("oidcauth: RequireACR: %q is not an acr value (printable ASCII, no space, quote or backslash)", v))
		}
	}
	req := loginRequest{acr: slices.Clone(values)}
	return a.policy(func(w http.ResponseWriter, r *http.Request, c *Claims, _ json.RawMessage) bool {
		if slices.Contains(req.acr, c.ACR) {
			return true
		}
		a.stepUp(w, r, req, SafeReturnTo(r.URL.RequestURI()), "", fmt.Errorf("the session's acr %q is none of %q", printable(c.ACR, 100), req.acr))
		return false
	})
}

// RequireFreshLogin is the middleware for routes that need the user to
// have authenticated at most maxAge ago (auth_time), such as a payment or
// a password change. An older or unknown authentication is stepped up as
// with [Auth.RequireACR], with max_age; the login that comes back without
// auth_time, or with one still too old, is refused.
func (a *Auth) RequireFreshLogin(maxAge time.Duration) func(http.Handler) http.Handler {
	if maxAge < 0 || maxAge%time.Second != 0 || maxAge > 1<<31*time.Second {
		panic(fmt.Sprintf("oidcauth: RequireFreshLogin: %v is not a number of seconds from 0", maxAge))
	}
	req := loginRequest{maxAge: maxAge, hasMaxAge: true}
	return a.policy(func(w http.ResponseWriter, r *http.Request, c *Claims, _ json.RawMessage) bool {
		at := c.AuthTime.Time
		if !at.IsZero() && time.Since(at) <= maxAge+a.clockSkew {
			return true
		}
		a.stepUp(w, r, req, SafeReturnTo(r.URL.RequestURI()), "", fmt.Errorf("the session's auth_time %v is older than %v", at, maxAge))
		return false
	})
}

// RequireClaim is the middleware for routes that need the claim name to
// contain value: a string equal to it, a space-separated string with it
// among its words (scope-like claims), or an array with it as an element
// (groups, roles). A logged-in user without it gets 403 with the error
// page (JSON for APIs); the log names the claim, never its value.
func (a *Auth) RequireClaim(name, value string) func(http.Handler) http.Handler {
	if name == "" || value == "" {
		panic("oidcauth: RequireClaim needs a claim name and a value")
	}
	return a.policy(func(w http.ResponseWriter, r *http.Request, _ *Claims, raw json.RawMessage) bool {
		if claimContains(raw, name, value) {
			return true
		}
		a.fail(w, r, forbidden(fmt.Errorf("the claim %q does not hold the required value", name)))
		return false
	})
}

// RequireCheck is the middleware for any other rule: allow gets the request
// (with the claims in its context: [ClaimsFromContext], [DecodeClaims]) and
// reports whether the user may go on. A refused user gets 403 as with
// [Auth.RequireClaim]; name says which check refused, in the log.
func (a *Auth) RequireCheck(name string, allow func(r *http.Request) bool) func(http.Handler) http.Handler {
	if name == "" || allow == nil {
		panic("oidcauth: RequireCheck needs a name and a function")
	}
	return a.policy(func(w http.ResponseWriter, r *http.Request, _ *Claims, _ json.RawMessage) bool {
		if allow(r) {
			return true
		}
		a.fail(w, r, forbidden(fmt.Errorf("the check %q refused the user", name)))
		return false
	})
}

// forbidden is the error of a logged-in user a policy refuses.
func forbidden(cause error) *Error {
	return newError(ErrForbidden, "access_denied", "You are not allowed to see this page.", cause)
}

// policy returns middleware that lets a request through to next when check
// does; check answers the requests it refuses. A request without a login
// goes through Require first.
func (a *Auth) policy(check func(w http.ResponseWriter, r *http.Request, c *Claims, raw json.RawMessage) bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		checked := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			l, _ := r.Context().Value(ctxKey{}).(*login)
			if l == nil { // Require lets no anonymous request through
				a.challenge(w, r)
				return
			}
			e, err := l.claims(r.Context())
			if err != nil {
				a.fail(w, r, sessionError("Your session could not be read. Please try again later.", err))
				return
			}
			if check(w, r, e.claims, e.raw) {
				next.ServeHTTP(w, r)
			}
		})
		required := a.Require(checked)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if l, _ := r.Context().Value(ctxKey{}).(*login); l != nil {
				checked.ServeHTTP(w, r) // inside Require or another policy
				return
			}
			required.ServeHTTP(w, r)
		})
	}
}

// claimContains reports whether the claim name of raw contains value: equal
// to a string, a word of a space-separated string, or an element of an
// array of strings.
func claimContains(raw json.RawMessage, name, value string) bool {
	var claims map[string]json.RawMessage
	if json.Unmarshal(raw, &claims) != nil {
		return false
	}
	v, ok := claims[name]
	if !ok {
		return false
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s == value || slices.Contains(strings.Fields(s), value)
	}
	var list []any
	if json.Unmarshal(v, &list) == nil {
		for _, x := range list {
			if s, ok := x.(string); ok && s == value {
				return true
			}
		}
	}
	return false
}

// validACR reports whether v can be an acr value in acr_values: NQCHAR
// (RFC 6749 appendix A) without space, at most 256 bytes.
func validACR(v string) bool {
	if v == "" || len(v) > maxACRLen {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// maxACRLen bounds one acr value; maxACRValues bounds how many a login asks.
const (
	maxACRLen    = 256
	maxACRValues = 16
)
