package oidcauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode"
)

// Pushed authorization requests (RFC 9126): the login's parameters go to
// the provider over a client-authenticated back channel, and the browser
// carries only client_id and the request_uri the provider answered.

const (
	// maxPushResponse caps what is read of a pushed authorization response.
	maxPushResponse = 16 << 10
	// maxRequestURILen bounds the request_uri taken from the provider.
	maxRequestURILen = 2048
	// maxRequestURILife bounds the expires_in of a pushed request, in
	// seconds; RFC 9126 suggests 5 to 600.
	maxRequestURILife = 3600
	// maxPushes bounds the pushes under way at once per Auth: anyone can
	// start a login, and each costs a signed, authenticated request.
	maxPushes = 32
)

// parMode is WithPAR's choice.
type parMode int

const (
	parAuto   parMode = iota // push when the provider requires it
	parAlways                // WithPAR(true)
	parNever                 // WithPAR(false)
)

// WithPAR sets whether authorization requests are pushed (RFC 9126): with
// true every login pushes its parameters (state, nonce, PKCE challenge,
// scopes, the WithAuthParam ones) to the provider's
// pushed_authorization_request_endpoint, authenticated as the client, and
// sends the browser to the authorization endpoint with only client_id and
// the request_uri it got back, once. With false no request is pushed, and
// New fails if the provider requires it. Without this option requests are
// pushed when discovery says require_pushed_authorization_requests.
// A failed push fails the login with [ErrPushedAuthorization].
func WithPAR(push bool) Option {
	return func(c *config) error {
		c.par = parNever
		if push {
			c.par = parAlways
		}
		return nil
	}
}

// parState is what a push needs.
type parState struct {
	endpoint  string
	params    url.Values // the parameters of every authorization request
	authorize string     // the authorization endpoint with client_id, for request_uri
	slots     chan struct{}
}

// newPAR decides whether logins push their requests, from the option and
// the provider's metadata; nil means they do not.
func newPAR(meta *metadata, cfg config) (*parState, error) {
	switch {
	case cfg.par == parNever && meta.RequirePAR:
		return nil, optionError("WithPAR", "the provider requires pushed authorization requests (require_pushed_authorization_requests)")
	case cfg.par == parNever, cfg.par == parAuto && !meta.RequirePAR:
		return nil, nil
	case meta.PAREndpoint == "" && cfg.par == parAlways:
		return nil, optionError("WithPAR", "the provider has no pushed_authorization_request_endpoint")
	case meta.PAREndpoint == "":
		return nil, fmt.Errorf("%w: the provider requires pushed authorization requests but names no pushed_authorization_request_endpoint", ErrDiscovery)
	}
	u, err := url.Parse(meta.AuthorizationEndpoint)
	if err != nil {
		return nil, fmt.Errorf("%w: authorization_endpoint: %v", ErrDiscovery, err)
	}
	q := u.Query()
	q.Set("client_id", cfg.clientID)
	u.RawQuery = q.Encode()
	return &parState{
		endpoint:  meta.PAREndpoint,
		params:    authorizeParams(cfg),
		authorize: u.String(),
		slots:     make(chan struct{}, maxPushes),
	}, nil
}

// authorizationURL is where the browser goes to log in, with the login's own
// parameters (state, nonce, code_challenge...): the authorization endpoint
// with every parameter, or, when requests are pushed, with client_id and
// the request_uri of a new push of them all. The parameters in extra
// replace the application's fixed ones of the same names (stepup.go).
func (p *provider) authorizationURL(ctx context.Context, login, extra url.Values) (string, error) {
	if p.par == nil {
		base := p.authorizeURL
		if extra != nil {
			u, err := url.Parse(base)
			if err != nil { // New parsed it
				return "", fmt.Errorf("%w: authorization_endpoint: %v", ErrDiscovery, err)
			}
			q := u.Query()
			for k, vs := range extra {
				q[k] = vs
			}
			u.RawQuery = q.Encode()
			base = u.String()
		}
		return base + "&" + login.Encode(), nil
	}
	for k, vs := range extra {
		login[k] = vs
	}
	uri, err := p.push(ctx, login)
	if errors.Is(err, errNoPushSlot) {
		return "", newError(ErrPushedAuthorization, "temporarily_unavailable", "Too many logins are under way. Please try again in a moment.", err).
			withStatus(http.StatusServiceUnavailable)
	}
	if err != nil {
		return "", newError(ErrPushedAuthorization, "login_unavailable", "The login could not be started with the provider. Please try again later.", err)
	}
	return p.par.authorize + "&request_uri=" + url.QueryEscape(uri), nil
}

// errNoPushSlot means too many pushes were under way for the whole timeout.
var errNoPushSlot = errors.New("no pushed authorization slot freed within the timeout")

// pushResponse is a pushed authorization response (RFC 9126 2.2).
type pushResponse struct {
	RequestURI string `json:"request_uri"`
	ExpiresIn  *int64 `json:"expires_in"`
}

// push sends the request's parameters to the provider and returns the
// request_uri it answers, within the timeout and a slot.
func (p *provider) push(ctx context.Context, login url.Values) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	select {
	case p.par.slots <- struct{}{}:
		defer func() { <-p.par.slots }()
	case <-ctx.Done():
		return "", errNoPushSlot
	}
	form := url.Values{}
	for k, vs := range p.par.params {
		form[k] = vs
	}
	for k, vs := range login {
		form[k] = vs
	}
	resp, err := p.postAsClient(ctx, p.par.endpoint, form)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPushResponse+1))
	if err != nil {
		return "", fmt.Errorf("reading the pushed authorization response: %v", err)
	}
	if len(body) > maxPushResponse {
		return "", fmt.Errorf("the pushed authorization response is over %d bytes", maxPushResponse)
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		json.Unmarshal(body, &e)
		return "", fmt.Errorf("the pushed authorization endpoint answered %s: %q %q", resp.Status, printable(e.Error, 64), printable(e.Description, 200))
	}
	var pr pushResponse
	if err := json.Unmarshal(body, &pr); err != nil {
		return "", fmt.Errorf("the pushed authorization response is not JSON: %v", err)
	}
	if err := checkRequestURI(pr.RequestURI); err != nil {
		return "", err
	}
	if pr.ExpiresIn == nil || *pr.ExpiresIn <= 0 || *pr.ExpiresIn > maxRequestURILife {
		return "", errors.New("the pushed authorization response has no expires_in of 1 to 3600 seconds")
	}
	return pr.RequestURI, nil
}

// checkRequestURI requires an absolute URI of printable ASCII, bounded.
func checkRequestURI(uri string) error {
	if uri == "" {
		return errors.New("the pushed authorization response has no request_uri")
	}
	if len(uri) > maxRequestURILen {
		return fmt.Errorf("the request_uri is over %d bytes", maxRequestURILen)
	}
	for _, c := range uri {
		if c > unicode.MaxASCII || !unicode.IsPrint(c) || c == ' ' {
			return errors.New("the request_uri has characters a URI cannot")
		}
	}
	if u, err := url.Parse(uri); err != nil || u.Scheme == "" || strings.ContainsAny(uri, "#") {
		return errors.New("the request_uri is not an absolute URI")
	}
	return nil
}
