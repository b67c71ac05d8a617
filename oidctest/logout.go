package oidctest

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// BackchannelLogoutEvent is the member of a logout token's events claim.
const BackchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// RevocationRequest records a request to the revocation endpoint.
type RevocationRequest struct {
	Token         string
	TokenTypeHint string
	// ClientAuth is how the client authenticated: client_secret_basic,
	// client_secret_post or none.
	ClientAuth string
	ClientID   string
	Status     int
}

// RevocationRequests returns the requests the revocation endpoint has seen.
func (p *Provider) RevocationRequests() []RevocationRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.revocations)
}

// SetClient registers c, or replaces the client with its ID; for instance
// to set its BackchannelLogoutURI once the application's URL is known.
func (p *Provider) SetClient(c Client) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clients[c.ID] = c
}

// LogoutClaims returns the claims of a valid logout token for clientID, with
// sub and sid when they are not empty: iss (and tid, see Config.Tenant), aud, iat, exp (two minutes), a
// fresh jti and the back-channel logout event. Tests edit them and sign them
// with SignTyped(claims, "logout+jwt").
func (p *Provider) LogoutClaims(clientID, sub, sid string) map[string]any {
	now := time.Now()
	c := map[string]any{
		"aud": clientID, "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
		"jti":    randomString(16),
		"events": map[string]any{BackchannelLogoutEvent: map[string]any{}},
	}
	p.tokenClaims(c)
	if sub != "" {
		c["sub"] = sub
	}
	if sid != "" {
		c["sid"] = sid
	}
	return c
}

// Logout ends the provider session sid (the sid claim of its id_tokens) as
// if the user logged out at the provider: its refresh tokens stop working,
// and a logout token with sub and sid, signed as the current Tamper says, is
// posted to the back-channel logout URI of the client the session logged in
// to. It fails when the session is unknown, the client has no
// BackchannelLogoutURI, or the client does not answer 200 (or 204).
func (p *Provider) Logout(sid string) error {
	p.mu.Lock()
	g := p.sessions[sid]
	var c Client
	if g != nil {
		c = p.clients[g.clientID]
		p.endSessionLocked(g)
	}
	p.mu.Unlock()
	if g == nil {
		return fmt.Errorf("oidctest: no session %q", sid)
	}
	return p.sendLogout(c, p.LogoutClaims(c.ID, g.user.Subject, sid))
}

// LogoutSubject ends every provider session of the user sub, as an
// administrator disabling the user would, and posts one logout token with
// sub and no sid to each client they logged in to.
func (p *Provider) LogoutSubject(sub string) error {
	p.mu.Lock()
	var clients []Client
	for _, g := range p.sessions {
		if g.user.Subject != sub {
			continue
		}
		if !slices.ContainsFunc(clients, func(c Client) bool { return c.ID == g.clientID }) {
			clients = append(clients, p.clients[g.clientID])
		}
		p.endSessionLocked(g)
	}
	p.mu.Unlock()
	if len(clients) == 0 {
		return fmt.Errorf("oidctest: no session of %q", sub)
	}
	var errs []error
	for _, c := range clients {
		errs = append(errs, p.sendLogout(c, p.LogoutClaims(c.ID, sub, "")))
	}
	return errors.Join(errs...)
}

// endSessionLocked forgets the session of g and its refresh tokens.
func (p *Provider) endSessionLocked(g *grant) {
	delete(p.sessions, g.sid)
	for t, rg := range p.refresh {
		if rg.sid == g.sid {
			delete(p.refresh, t)
		}
	}
}

func (p *Provider) sendLogout(c Client, claims map[string]any) error {
	if c.BackchannelLogoutURI == "" {
		return fmt.Errorf("oidctest: client %q has no BackchannelLogoutURI", c.ID)
	}
	status, err := p.PostLogoutToken(c.BackchannelLogoutURI, p.SignTyped(claims, "logout+jwt"))
	if err != nil {
		return err
	}
	if status != http.StatusOK && status != http.StatusNoContent {
		return fmt.Errorf("oidctest: the back-channel logout URI of %q answered %d", c.ID, status)
	}
	return nil
}

// PostLogoutToken posts token to a back-channel logout URI as a provider
// does, and returns the status of the answer.
func (p *Provider) PostLogoutToken(uri, token string) (int, error) {
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Post(uri, "application/x-www-form-urlencoded",
		strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	return resp.StatusCode, nil
}
