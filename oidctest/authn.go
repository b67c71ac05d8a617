package oidctest

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Authentication is how the user authenticates at the logins to come: the
// acr, amr and auth_time claims of their id_tokens. Zero fields take the
// provider's defaults: acr is the first of the authorization request's
// acr_values (none without them), amr is left out, auth_time is the time
// of the login.
type Authentication struct {
	ACR      string
	AMR      []string
	AuthTime time.Time
}

// SetAuthentication sets how the user authenticates from now on, for tests
// of step-up and fresh-login rules (a weaker acr than asked, an old
// auth_time); the zero Authentication restores the defaults.
func (p *Provider) SetAuthentication(a Authentication) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.authn = a
}

// sessionCookie is the provider's own browser session cookie. Cookies
// ignore ports: on one loopback host it sits beside the application's.
const sessionCookie = "oidctest_session"

// authenticateUser sets the authentication of a login: what the test set
// with SetAuthentication, else the request's first acr_values.
func (p *Provider) authenticateUser(g *grant, q url.Values) {
	p.mu.Lock()
	a := p.authn
	p.mu.Unlock()
	g.acr, g.amr = a.ACR, slices.Clone(a.AMR)
	if g.acr == "" {
		if acr := strings.Fields(q.Get("acr_values")); len(acr) > 0 {
			g.acr = acr[0]
		}
	}
	if !a.AuthTime.IsZero() {
		g.authTime = a.AuthTime
	}
}

// startBrowserSession remembers the login in the browser, for later
// prompt=none requests.
func (p *Provider) startBrowserSession(w http.ResponseWriter, g *grant) {
	id := randomString(16)
	p.mu.Lock()
	p.browsers[id] = g
	p.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// browserSession returns the login of the browser's provider session, or nil.
func (p *Provider) browserSession(r *http.Request) *grant {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.browsers[c.Value]
}

// endBrowserSession forgets the browser's provider session (RP-initiated
// logout).
func (p *Provider) endBrowserSession(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return
	}
	p.mu.Lock()
	delete(p.browsers, c.Value)
	p.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1})
}

// silentGrant answers prompt=none (OpenID Connect Core 3.1.2.1): a new
// grant from the browser's provider session, or the error code when
// there is none, it is older than max_age, or it lacks the acr asked for.
func (p *Provider) silentGrant(session *grant, q url.Values) (*grant, string) {
	if session == nil {
		return nil, "login_required"
	}
	if v := q.Get("max_age"); v != "" {
		if n, err := strconv.Atoi(v); err != nil || time.Since(session.authTime) > time.Duration(n)*time.Second {
			return nil, "login_required"
		}
	}
	if acr := strings.Fields(q.Get("acr_values")); len(acr) > 0 && !slices.Contains(acr, session.acr) {
		return nil, "interaction_required"
	}
	g := &grant{sid: session.sid, user: session.user, authTime: session.authTime, acr: session.acr, amr: session.amr}
	return g, ""
}
