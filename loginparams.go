package oidcauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The login handler's query: besides return_to, a small allow-list that
// lets an application offer "log in again" and "log in as", and carries a
// step-up that [Auth.HandleError] offered an API client:
//
//	prompt=login       the provider authenticates the user again
//	login_hint=...     who to log in (at most 256 printable characters)
//	acr_values=...     each one of the application's acr values (WithLoginACRValues, WithAuthParam)
//	step_up=...        sealed by this application: the acr_values and max_age of a step-up
//
// Everything else is ignored, as is a parameter given twice or with a value
// out of bounds: none of it reaches the provider.

const (
	maxLoginHint = 256
	// stepUpTTL is how long a login URL offered for a step-up works.
	stepUpTTL = pendingTTL
)

// WithLoginACRValues sets the acr values the login handler accepts in its
// acr_values query parameter (besides those of WithAuthParam's
// acr_values), for links such as /login?acr_values=urn:mfa. Each is an acr
// value: printable ASCII without space, quote or backslash.
func WithLoginACRValues(values ...string) Option {
	return func(c *config) error {
		for _, v := range values {
			if !validACR(v) {
				return optionError("WithLoginACRValues", "%q is not an acr value", v)
			}
		}
		c.loginACRs = append(c.loginACRs, values...)
		return nil
	}
}

// WithLoginPath sets the path where the application mounts
// [Auth.LoginHandler] ("/login" by default), for the login_url that
// [Auth.HandleError] gives API clients on a step-up.
func WithLoginPath(path string) Option {
	return func(c *config) error {
		if path == "" || SafeReturnTo(path) != path || strings.Contains(path, "?") {
			return optionError("WithLoginPath", "%q is not a same-origin path without query", path)
		}
		c.loginPath = path
		return nil
	}
}

// queryLoginRequest reads the login handler's allow-list from q.
func (a *Auth) queryLoginRequest(ctx context.Context, q url.Values) loginRequest {
	var req loginRequest
	one := func(name string) string {
		if vs := q[name]; len(vs) == 1 {
			return vs[0]
		}
		return ""
	}
	if one("prompt") == "login" {
		req.prompt = "login"
	}
	if h := one("login_hint"); h != "" && len(h) <= maxLoginHint && printable(h, maxLoginHint) == h {
		req.loginHint = h
	}
	if v := one("acr_values"); v != "" {
		acr := strings.Split(v, " ")
		ok := len(acr) <= maxACRValues
		for _, x := range acr {
			ok = ok && a.allowsLoginACR(x)
		}
		if ok {
			req.acr = acr
		}
	}
	if v := one("step_up"); v != "" {
		if su, ok := a.openStepUp(ctx, v); ok {
			sr := su.request()
			if len(sr.acr) > 0 {
				req.acr = sr.acr
			}
			req.maxAge, req.hasMaxAge = sr.maxAge, sr.hasMaxAge
		}
	}
	return req
}

// allowsLoginACR reports whether a login may ask for the acr value x: one
// of WithLoginACRValues, or of a provider's acr_values (WithAuthParam).
func (a *Auth) allowsLoginACR(x string) bool {
	if slices.Contains(a.loginACRs, x) {
		return true
	}
	for _, p := range a.providers {
		if slices.Contains(p.acrValues, x) {
			return true
		}
	}
	return false
}

// sealedStepUp is a step-up as sealed into a login URL.
type sealedStepUp struct {
	ACR     []string `json:"a,omitempty"`
	MaxAge  int64    `json:"m"` // seconds; -1: none
	Expires int64    `json:"e"` // unix seconds
}

// stepUpAAD binds sealed step-ups to this client and keeps them apart from
// login cookies, which the same key seals.
func (a *Auth) stepUpAAD() []byte { return append(a.sealAAD(), "\x00step_up"...) }

// stepUpLoginURL is the same-origin URL of a login that asks for req and
// comes back to returnTo, or "" when the login key is out of reach.
func (a *Auth) stepUpLoginURL(ctx context.Context, req loginRequest, returnTo string) string {
	aead, _, err := a.loginAEAD(ctx, false)
	if err != nil {
		a.log.Warn("oidcauth: no login URL for the step-up", "err", err)
		return ""
	}
	s := sealedStepUp{ACR: req.acr, MaxAge: -1, Expires: time.Now().Add(stepUpTTL).Unix()}
	if req.hasMaxAge {
		s.MaxAge = int64(req.maxAge / time.Second)
	}
	plain, _ := json.Marshal(s)
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	sealed := aead.Seal(nonce, nonce, plain, a.stepUpAAD())
	q := url.Values{"return_to": {returnTo}, "step_up": {base64.RawURLEncoding.EncodeToString(sealed)}}
	return a.loginPath + "?" + q.Encode()
}

// openStepUp opens a step-up sealed by stepUpLoginURL and not expired.
func (a *Auth) openStepUp(ctx context.Context, v string) (*StepUpError, bool) {
	if len(v) > 2<<10 {
		return nil, false
	}
	sealed, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, false
	}
	cur, prev, err := a.loginAEAD(ctx, false)
	if err != nil || len(sealed) < cur.NonceSize()+cur.Overhead() {
		return nil, false
	}
	n := cur.NonceSize()
	plain, err := cur.Open(nil, sealed[:n], sealed[n:], a.stepUpAAD())
	if err != nil && prev != nil {
		plain, err = prev.Open(nil, sealed[:n], sealed[n:], a.stepUpAAD())
	}
	var s sealedStepUp
	if err != nil || json.Unmarshal(plain, &s) != nil || time.Now().Unix() > s.Expires {
		return nil, false
	}
	e := &StepUpError{ACRValues: s.ACR, MaxAge: -1}
	if s.MaxAge >= 0 {
		e.MaxAge = time.Duration(s.MaxAge) * time.Second
	}
	return e, true
}
