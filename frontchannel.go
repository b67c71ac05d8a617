package oidcauth

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	// maxFrontchannelQuery bounds the front-channel logout's query string.
	maxFrontchannelQuery = 4 << 10
	// maxSID bounds the sid accepted from a front-channel logout.
	maxSID = 512
)

// frontchannelBody is the whole page a front-channel logout answers: the
// provider renders it in an invisible iframe.
const frontchannelBody = "<!doctype html><title>Logged out</title>\n"

// FrontchannelLogoutHandler returns the handler for the client's
// front-channel logout URI (OpenID Connect Front-Channel Logout 1.0). Mount
// it for GET at the frontchannel_logout_uri registered at the provider, with
// frontchannel_logout_session_required=true: the handler requires the iss
// and sid parameters.
//
// The provider's logout page loads the URI in an iframe, with ?iss=...&sid=...
// The handler checks that iss is the provider's issuer (with
// WithMultiTenantIssuer, an allowed tenant's) and that sid is present, each
// given once, then ends every session that logged in at that issuer with
// that sid, on every instance sharing the Store, as a back-channel logout of
// that sid does, and answers 200 with a tiny page that cannot be cached and
// that only the provider's origin may frame (CSP frame-ancestors), also
// when no session matched. Anything else gets 400 and ends nothing.
//
// The request carries no signed token: anyone who knows a session's sid can
// end it (SECURITY.md, "Front-channel logout"). The handler needs no
// session and no cookie: browsers do not send the SameSite=Lax session
// cookie into the provider's iframe.
func (a *Auth) FrontchannelLogoutHandler() http.Handler {
	csps := make(map[*provider]string, len(a.providers))
	var all []string
	for _, p := range a.providers {
		if p.meta.FrontchannelLogoutSupported && !p.meta.FrontchannelLogoutSessionSupported {
			a.log.Warn("oidcauth: the provider does not advertise frontchannel_logout_session_supported: its front-channel logouts may lack iss and sid, and be refused", "provider", p.name)
		}
		origins := p.frameAncestors()
		csps[p] = frameCSP(origins)
		for _, o := range origins {
			if !slices.Contains(all, o) {
				all = append(all, o)
			}
		}
	}
	refusal := frameCSP(all)
	return a.observeLogout(spanFrontchannelLogout, logoutFrontchannel, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.handleFrontchannelLogout(w, r, refusal, csps)
	}))
}

// frameCSP is the Content-Security-Policy of a front-channel logout page
// that origins may frame.
func frameCSP(origins []string) string {
	return "default-src 'none'; frame-ancestors " + strings.Join(origins, " ")
}

// frameAncestors are the origins that may frame p's front-channel logout:
// the issuer's, and its end-session endpoint's when that is another (the
// logout page that renders the iframes is served there).
func (p *provider) frameAncestors() []string {
	var origins []string
	for _, s := range []string{p.issuer, p.meta.EndSessionEndpoint} {
		u, err := url.Parse(s)
		if s == "" || err != nil || u.Host == "" {
			continue
		}
		if o := canonicalOrigin(u); !slices.Contains(origins, o) {
			origins = append(origins, o)
		}
	}
	return origins
}

// handleFrontchannelLogout serves a front-channel logout: a refusal may be
// framed by every provider's origins (refusal), a logout by its issuer's
// provider's alone (csps).
func (a *Auth) handleFrontchannelLogout(w http.ResponseWriter, r *http.Request, refusal string, csps map[*provider]string) {
	h := w.Header()
	setNoStore(h)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", refusal)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		a.frontchannelRefuse(w, r, http.StatusMethodNotAllowed, fmt.Errorf("method %s", printable(r.Method, 16)))
		return
	}
	iss, sid, err := parseFrontchannel(r.URL.RawQuery)
	if err != nil {
		a.frontchannelRefuse(w, r, http.StatusBadRequest, err)
		return
	}
	p := a.providerOfIssuer(iss)
	if p == nil {
		a.frontchannelRefuse(w, r, http.StatusBadRequest, fmt.Errorf("iss %q is not a provider's issuer", printable(iss, 200)))
		return
	}
	ctx := r.Context()
	observeProvider(ctx, p)
	h.Set("Content-Security-Policy", csps[p])
	key := sidIndexKey(iss, sid)
	list, err := a.indexRead(ctx, key)
	if err == nil {
		err = a.endSessionsIn(ctx, list)
	}
	if err != nil {
		// The provider does not retry: say so in the log, loudly.
		recordFailure(ctx, sessionError("The logout could not be completed.", err))
		a.log.ErrorContext(ctx, "oidcauth: front-channel logout failed; some sessions of the provider session may remain", "sid", sid, "err", err)
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintln(w, "The logout could not be completed.")
		return
	}
	if len(list) > 0 {
		// Only a sid that had sessions costs writes: anonymous requests with
		// made-up sids cost one read.
		if err := a.storeDelete(ctx, key); err != nil {
			a.log.WarnContext(ctx, "oidcauth: front-channel logout: deleting the sid index failed", "err", err)
		}
		ended := endedKey(iss, "sid", sid)
		if err := a.storeCommit(ctx, ended, strconv.AppendInt(nil, time.Now().Unix(), 10), time.Now().Add(max(a.sm.Lifetime, pendingTTL))); err != nil {
			a.log.ErrorContext(ctx, "oidcauth: front-channel logout: remembering the logout failed; a login under way may complete", "err", err)
		}
	}
	a.log.InfoContext(ctx, "oidcauth: front-channel logout", "sid", sid, "sessions", len(list))
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write([]byte(frontchannelBody))
	}
}

// parseFrontchannel reads iss and sid from the query strictly: bounded,
// well-formed, each once, non-empty, printable UTF-8. Other parameters are
// allowed: the registered URI may have its own.
func parseFrontchannel(rawQuery string) (iss, sid string, err error) {
	if len(rawQuery) > maxFrontchannelQuery {
		return "", "", fmt.Errorf("the query is %d bytes, more than %d", len(rawQuery), maxFrontchannelQuery)
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", "", fmt.Errorf("the query is malformed: %v", err)
	}
	one := func(name string) (string, error) {
		vs := q[name]
		switch {
		case len(vs) == 0 || vs[0] == "":
			return "", fmt.Errorf("the parameter %s is missing", name)
		case len(vs) > 1:
			return "", fmt.Errorf("the parameter %s is repeated", name)
		case !utf8.ValidString(vs[0]) || printable(vs[0], len(vs[0])) != vs[0]:
			return "", fmt.Errorf("the parameter %s is not printable UTF-8", name)
		}
		return vs[0], nil
	}
	if iss, err = one("iss"); err != nil {
		return "", "", err
	}
	if sid, err = one("sid"); err != nil {
		return "", "", err
	}
	if len(sid) > maxSID {
		return "", "", errors.New("the parameter sid is too long")
	}
	return iss, sid, nil
}

// frontchannelRefuse answers a refused front-channel logout, and logs why.
func (a *Auth) frontchannelRefuse(w http.ResponseWriter, r *http.Request, status int, cause error) {
	recordFailure(r.Context(), newError(ErrBadRequest, "invalid_request", "The logout request was refused.", cause))
	a.log.WarnContext(r.Context(), "oidcauth: front-channel logout refused", "status", status, "err", cause)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintln(w, "The logout request was refused.")
}
