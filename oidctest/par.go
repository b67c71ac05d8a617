package oidctest

import (
	"net/http"
	"net/url"
	"slices"
	"time"
)

// Pushed authorization requests (RFC 9126): POST /par takes an authorization
// request from an authenticated client and answers a request_uri, which the
// authorization endpoint then takes, once, in place of the parameters.

// pushedLife is how long a request_uri lives.
const pushedLife = time.Minute

// PushedRequest records a request to the pushed authorization endpoint.
type PushedRequest struct {
	ClientID string
	// ClientAuth is how the client authenticated.
	ClientAuth string
	// Params are the authorization request's parameters, without the
	// client's credentials.
	Params url.Values
	Status int
	// RequestURI is the request_uri answered, when Status is 201.
	RequestURI string
}

// pushedRequest is a pushed request waiting for its authorization request.
type pushedRequest struct {
	clientID string
	params   url.Values
	expires  time.Time
}

// PushedRequests returns the requests the pushed authorization endpoint has
// seen.
func (p *Provider) PushedRequests() []PushedRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.pushes)
}

// discoveryClientAuth adds private_key_jwt and PAR to the discovery document.
func (p *Provider) discoveryClientAuth(doc map[string]any) {
	doc["token_endpoint_auth_methods_supported"] = []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"}
	doc["token_endpoint_auth_signing_alg_values_supported"] = p.assertionAlgs()
	doc["pushed_authorization_request_endpoint"] = p.url("/par")
	if p.cfg.RequirePAR {
		doc["require_pushed_authorization_requests"] = true
	}
}

func (p *Provider) par(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	p.mu.Lock()
	t := p.tamper
	p.mu.Unlock()
	if t.PARDelay > 0 {
		select {
		case <-time.After(t.PARDelay):
		case <-r.Context().Done():
			return
		}
	}
	client, method, err := p.authenticate(r)
	params := url.Values{}
	for k, vs := range r.PostForm {
		switch k {
		case "client_secret", "client_assertion", "client_assertion_type":
		default:
			params[k] = vs
		}
	}
	rec := PushedRequest{ClientID: client.ID, ClientAuth: method, Params: params, Status: http.StatusCreated}
	defer func() {
		p.mu.Lock()
		p.pushes = append(p.pushes, rec)
		p.mu.Unlock()
	}()
	if err != nil {
		rec.Status = http.StatusUnauthorized
		oauthError(w, rec.Status, "invalid_client", "client authentication failed: "+err.Error())
		return
	}
	if t.PARStatus != 0 {
		rec.Status = t.PARStatus
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(t.PARStatus)
		w.Write([]byte(t.PARBody))
		return
	}
	if params.Has("request_uri") {
		rec.Status = http.StatusBadRequest
		oauthError(w, rec.Status, "invalid_request", "request_uri cannot be pushed")
		return
	}
	params.Set("client_id", client.ID)
	redirect := params.Get("redirect_uri")
	if redirect == "" || (len(client.RedirectURIs) > 0 && !slices.Contains(client.RedirectURIs, redirect)) {
		rec.Status = http.StatusBadRequest
		oauthError(w, rec.Status, "invalid_request", "unknown redirect_uri")
		return
	}
	uri := "urn:ietf:params:oauth:request_uri:" + randomString(24)
	rec.RequestURI = uri
	p.mu.Lock()
	p.pushed[uri] = &pushedRequest{clientID: client.ID, params: params, expires: time.Now().Add(pushedLife)}
	p.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"request_uri": uri, "expires_in": int(pushedLife / time.Second)})
}

// authorizeQuery returns the authorization request's parameters: the pushed
// ones of its request_uri (used up, except by the GET that shows the
// interactive login form), else its query, which RequirePAR refuses.
func (p *Provider) authorizeQuery(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	q := r.URL.Query()
	uri := q.Get("request_uri")
	if uri == "" {
		if p.cfg.RequirePAR {
			http.Error(w, "invalid_request: this provider requires pushed authorization requests", http.StatusBadRequest)
			return nil, false
		}
		return q, true
	}
	consume := !p.cfg.Interactive || r.Method == http.MethodPost
	p.mu.Lock()
	pr := p.pushed[uri]
	if consume {
		delete(p.pushed, uri)
	}
	p.mu.Unlock()
	if pr == nil || time.Now().After(pr.expires) || pr.clientID != q.Get("client_id") {
		http.Error(w, "invalid_request_uri: unknown, used or expired request_uri", http.StatusBadRequest)
		return nil, false
	}
	return pr.params, true
}
