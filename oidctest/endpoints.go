package oidctest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

func listen(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="oidctest"`)
	}
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	issuer := p.Issuer
	if p.cfg.Tenant != "" {
		issuer = p.base + "/{tenantid}"
	}
	doc := map[string]any{
		"issuer":                                issuer,
		"authorization_endpoint":                p.url("/authorize"),
		"token_endpoint":                        p.url("/token"),
		"jwks_uri":                              p.url("/jwks"),
		"userinfo_endpoint":                     p.url("/userinfo"),
		"end_session_endpoint":                  p.url("/end_session"),
		"revocation_endpoint":                   p.url("/revoke"),
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{p.signingAlg()},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "none"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		"backchannel_logout_supported":          true,
		"backchannel_logout_session_supported":  true,
	}
	if p.cfg.IssParameter {
		doc["authorization_response_iss_parameter_supported"] = true
	}
	p.discoveryClientAuth(doc) // par.go
	if p.cfg.DPoP {
		doc["dpop_signing_alg_values_supported"] = []string{"ES256", "ES384", "EdDSA", "RS256", "PS256"}
	}
	p.mu.Lock()
	edit := p.tamper.Metadata
	p.mu.Unlock()
	if edit != nil {
		edit(doc)
	}
	writeJSON(w, http.StatusOK, doc)
}

// loginForm is the interactive login page for action (the form's target)
// and user (the name it proposes). It is escaped by hand, not with
// html/template, which would make every program that links oidctest (the
// example's development provider) keep every exported method it links.
func loginForm(action, user string) string {
	return `<!doctype html>
<html><head><meta charset="utf-8"><title>oidctest login</title></head>
<body style="font-family:system-ui;max-width:28rem;margin:4rem auto">
<h1>Development provider</h1>
<p>Any user name and password are accepted.</p>
<form method="post" action="` + html.EscapeString(action) + `">
<p><label>User <input name="login" value="` + html.EscapeString(user) + `" autofocus></label></p>
<p><label>Password <input name="password" type="password" value="dev"></label></p>
<p><button type="submit">Log in</button></p>
</form></body></html>`
}

func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q, ok := p.authorizeQuery(w, r) // par.go
	if !ok {
		return
	}
	p.mu.Lock()
	client, known := p.clients[q.Get("client_id")]
	user, t := p.cfg.User, p.tamper
	p.mu.Unlock()
	redirect := q.Get("redirect_uri")
	if !known || redirect == "" || (len(client.RedirectURIs) > 0 && !slices.Contains(client.RedirectURIs, redirect)) {
		http.Error(w, "unknown client or redirect_uri", http.StatusBadRequest)
		return
	}
	back, _ := url.Parse(redirect)
	reply := back.Query()
	reply.Set("state", q.Get("state"))
	if p.cfg.IssParameter || t.Iss != "" {
		iss := p.TokenIssuer()
		if t.Iss != "" {
			iss = t.Iss
		}
		reply.Set("iss", iss)
	}
	fail := func(code, desc string) {
		reply.Set("error", code)
		if desc != "" {
			reply.Set("error_description", desc)
		}
		back.RawQuery = reply.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	}
	if t.AuthorizeError != "" {
		fail(t.AuthorizeError, t.AuthorizeErrorDescription)
		return
	}
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type", "only code")
		return
	}
	scopes := strings.Fields(q.Get("scope"))
	if !slices.Contains(scopes, "openid") {
		fail("invalid_scope", "openid is required")
		return
	}
	method := q.Get("code_challenge_method")
	if q.Get("code_challenge") == "" || (method != "S256" && method != "plain" && method != "") {
		fail("invalid_request", "PKCE is required")
		return
	}
	prompt := strings.Fields(q.Get("prompt"))
	session := p.browserSession(r)
	if slices.Contains(prompt, "none") {
		g, code := p.silentGrant(session, q)
		if code != "" {
			fail(code, "the user must log in")
			return
		}
		g.clientID, g.redirectURI, g.scope, g.nonce = client.ID, redirect, q.Get("scope"), q.Get("nonce")
		g.challenge, g.method, g.expires = q.Get("code_challenge"), method, time.Now().Add(time.Minute)
		code = randomString(24)
		p.mu.Lock()
		p.codes[code] = g
		p.mu.Unlock()
		reply.Set("code", code)
		back.RawQuery = reply.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
		return
	}
	if p.cfg.Interactive {
		if r.Method != http.MethodPost {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, loginForm("/authorize?"+r.URL.RawQuery, user.Subject))
			return
		}
		if name := strings.TrimSpace(r.PostFormValue("login")); name != "" && name != user.Subject {
			user = User{Subject: name, Claims: map[string]any{"name": name, "preferred_username": name}}
		}
	}
	g := &grant{
		clientID: client.ID, redirectURI: redirect, scope: q.Get("scope"), nonce: q.Get("nonce"),
		challenge: q.Get("code_challenge"), method: method, sid: randomString(12), user: user,
		authTime: time.Now(), expires: time.Now().Add(time.Minute),
	}
	p.authenticateUser(g, q)
	code := randomString(24)
	p.mu.Lock()
	p.codes[code] = g
	p.sessions[g.sid] = g
	p.mu.Unlock()
	p.startBrowserSession(w, g)
	reply.Set("code", code)
	back.RawQuery = reply.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// authenticate finds the client of a token, revocation or pushed
// authorization request and how it authenticated; only its registered
// method is accepted. The error says why it failed.
func (p *Provider) authenticate(r *http.Request) (Client, string, error) {
	id, secret, basic := r.BasicAuth()
	method := "client_secret_basic"
	if r.PostForm.Has("client_assertion") || r.PostForm.Has("client_assertion_type") {
		id, method = assertionClientID(r.PostForm), "private_key_jwt"
	} else if basic {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else if r.PostForm.Has("client_secret") {
		id, secret, method = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret"), "client_secret_post"
	} else {
		id, method = r.PostForm.Get("client_id"), "none"
	}
	p.mu.Lock()
	c, ok := p.clients[id]
	p.mu.Unlock()
	if !ok {
		return Client{}, method, errors.New("unknown client")
	}
	want := c.AuthMethod
	if want == "" {
		want = "client_secret_basic"
		if c.Secret == "" {
			want = "none"
		}
	}
	if want != method {
		return c, method, fmt.Errorf("the client is registered for %s, not %s", want, method)
	}
	if method == "private_key_jwt" {
		return c, method, p.checkAssertion(r, c)
	}
	if method != "none" && subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1 {
		return c, method, errors.New("wrong client secret")
	}
	return c, method, nil
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	p.mu.Lock()
	t := p.tamper
	p.mu.Unlock()
	if t.TokenDelay > 0 {
		select {
		case <-time.After(t.TokenDelay):
		case <-r.Context().Done():
			return
		}
	}
	rec := TokenRequest{GrantType: r.PostForm.Get("grant_type")}
	status := http.StatusOK
	defer func() {
		rec.Status = status
		p.mu.Lock()
		p.requests = append(p.requests, rec)
		p.mu.Unlock()
	}()
	client, method, err := p.authenticate(r)
	rec.ClientAuth, rec.ClientID, rec.ClientAssertion = method, client.ID, r.PostForm.Get("client_assertion")
	if err != nil {
		status = http.StatusUnauthorized
		rec.ClientAuthError = err.Error()
		oauthError(w, status, "invalid_client", "client authentication failed: "+err.Error())
		return
	}
	jkt, dstatus, ok := p.tokenProof(w, r, client)
	if rec.DPoPKey = jkt; !ok {
		status = dstatus
		return
	}
	if t.TokenStatus != 0 {
		status = t.TokenStatus
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(t.TokenStatus)
		w.Write([]byte(t.TokenBody))
		return
	}
	var g *grant
	var issueRefresh bool
	switch rec.GrantType {
	case "authorization_code":
		code := r.PostForm.Get("code")
		p.mu.Lock()
		g = p.codes[code]
		delete(p.codes, code)
		p.mu.Unlock()
		if g == nil || g.clientID != client.ID || time.Now().After(g.expires) {
			status = http.StatusBadRequest
			oauthError(w, status, "invalid_grant", "unknown, used or expired code")
			return
		}
		if r.PostForm.Get("redirect_uri") != g.redirectURI {
			status = http.StatusBadRequest
			oauthError(w, status, "invalid_grant", "redirect_uri differs from the authorization request's")
			return
		}
		if !pkceOK(g.challenge, g.method, r.PostForm.Get("code_verifier")) {
			status = http.StatusBadRequest
			oauthError(w, status, "invalid_grant", "PKCE verification failed")
			return
		}
		issueRefresh = !p.cfg.NoRefreshTokens && slices.Contains(strings.Fields(g.scope), "offline_access")
		p.mu.Lock()
		g.jkt = jkt
		p.mu.Unlock()
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		p.mu.Lock()
		used := p.used[rt]
		rec.Reused = used != nil
		g = p.refresh[rt]
		if used != nil && p.cfg.RevokeOnReuse && used.family != nil {
			used.family.revoked = true
		}
		if g != nil && g.family != nil && g.family.revoked {
			g = nil
		}
		if g != nil && p.cfg.RotateRefreshTokens {
			delete(p.refresh, rt)
			p.used[rt] = g
		}
		p.mu.Unlock()
		if g == nil || g.clientID != client.ID {
			status = http.StatusBadRequest
			oauthError(w, status, "invalid_grant", "unknown, rotated or revoked refresh token")
			return
		}
		if g.jkt != "" && jkt != g.jkt {
			status = http.StatusBadRequest
			oauthError(w, status, "invalid_grant", "the refresh token is bound to another DPoP key")
			return
		}
		issueRefresh = p.cfg.RotateRefreshTokens
	default:
		status = http.StatusBadRequest
		oauthError(w, status, "unsupported_grant_type", rec.GrantType)
		return
	}
	writeJSON(w, status, p.issue(g, rec.GrantType, issueRefresh, t))
}

func pkceOK(challenge, method, verifier string) bool {
	if verifier == "" {
		return false
	}
	if method == "plain" {
		return subtle.ConstantTimeCompare([]byte(challenge), []byte(verifier)) == 1
	}
	d := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(challenge), []byte(b64(d[:]))) == 1
}

// issue makes a token response for g.
func (p *Provider) issue(g *grant, grantType string, withRefresh bool, t Tamper) map[string]any {
	now := time.Now()
	at := randomString(32)
	p.mu.Lock()
	if g.family == nil {
		g.family = &family{}
	}
	p.mu.Unlock()
	ag := *g
	ag.expires = now.Add(p.cfg.AccessTokenTTL)
	resp := map[string]any{
		"access_token": at,
		"token_type":   tokenType(g.jkt, t),
		"expires_in":   int(p.cfg.AccessTokenTTL / time.Second),
		"scope":        g.scope,
	}
	p.mu.Lock()
	p.access[at] = &ag
	if withRefresh {
		rt := randomString(32)
		p.refresh[rt] = g
		resp["refresh_token"] = rt
	}
	p.mu.Unlock()
	if t.NoIDToken || (grantType == "refresh_token" && p.cfg.NoIDTokenOnRefresh) {
		return resp
	}
	claims := map[string]any{
		"sub": g.user.Subject, "aud": g.clientID,
		"exp": now.Add(p.cfg.IDTokenTTL).Unix(), "iat": now.Unix(),
		"auth_time": g.authTime.Unix(), "sid": g.sid, "at_hash": atHash(at),
	}
	if g.acr != "" {
		claims["acr"] = g.acr
	}
	if len(g.amr) > 0 {
		claims["amr"] = g.amr
	}
	p.tokenClaims(claims)
	if grantType == "authorization_code" && g.nonce != "" {
		claims["nonce"] = g.nonce
	}
	for k, v := range g.user.Claims {
		claims[k] = v
	}
	if t.IDTokenClaims != nil {
		t.IDTokenClaims(claims)
	}
	resp["id_token"] = p.Sign(claims)
	return resp
}

func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	scheme, tok := authScheme(r.Header.Get("Authorization"))
	ok := scheme != ""
	p.mu.Lock()
	g := p.access[tok]
	edit := p.tamper.UserInfoClaims
	p.mu.Unlock()
	p.mu.Lock()
	revoked := g != nil && g.family != nil && g.family.revoked
	p.mu.Unlock()
	if !ok || g == nil || revoked || time.Now().After(g.expires) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
		return
	}
	if !p.resourceProof(w, r, scheme, tok, g) {
		return
	}
	claims := map[string]any{"sub": g.user.Subject}
	for k, v := range g.user.Claims {
		claims[k] = v
	}
	if edit != nil {
		edit(claims)
	}
	writeJSON(w, http.StatusOK, claims)
}

func (p *Provider) endSession(w http.ResponseWriter, r *http.Request) {
	p.endBrowserSession(w, r)
	q := r.URL.Query()
	target := q.Get("post_logout_redirect_uri")
	p.mu.Lock()
	client, known := p.clients[q.Get("client_id")]
	p.mu.Unlock()
	if target != "" && known && (len(client.PostLogoutRedirectURIs) == 0 || slices.Contains(client.PostLogoutRedirectURIs, target)) {
		u, err := url.Parse(target)
		if err == nil {
			v := u.Query()
			if s := q.Get("state"); s != "" {
				v.Set("state", s)
			}
			u.RawQuery = v.Encode()
			http.Redirect(w, r, u.String(), http.StatusFound)
			return
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte("<!doctype html><title>Logged out</title><p>You are logged out of the development provider.</p>"))
}

func (p *Provider) revoke(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	client, method, err := p.authenticate(r)
	rec := RevocationRequest{Token: r.PostForm.Get("token"), TokenTypeHint: r.PostForm.Get("token_type_hint"),
		ClientAuth: method, ClientID: client.ID, Status: http.StatusOK}
	if err != nil {
		rec.Status = http.StatusUnauthorized
		p.mu.Lock()
		p.revocations = append(p.revocations, rec)
		p.mu.Unlock()
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	tok := r.PostForm.Get("token")
	p.mu.Lock()
	p.revocations = append(p.revocations, rec)
	delete(p.refresh, tok)
	delete(p.access, tok)
	p.revoked = append(p.revoked, tok)
	p.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}
