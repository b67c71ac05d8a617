package oidcauth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// How the client authenticates its own requests to the provider: the token
// endpoint (through x/oauth2) and the requests oidcauth builds itself
// (pushed authorization, revocation).

// postAsClient POSTs form to endpoint, authenticated as the client is at
// the token endpoint. A transport error names the endpoint and its cause,
// never the body, which holds the client's credentials and tokens.
func (p *provider) postAsClient(ctx context.Context, endpoint string, form url.Values) (*http.Response, error) {
	req, err := p.clientRequest(ctx, endpoint, form)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, fmt.Errorf("%s %s: %v", ue.Op, req.URL.Redacted(), ue.Err)
		}
		return nil, err
	}
	return resp, nil
}

// clientRequest builds a POST of form to endpoint, authenticated as the
// client is at the token endpoint.
func (p *provider) clientRequest(ctx context.Context, endpoint string, form url.Values) (*http.Request, error) {
	switch p.authMethod {
	case AuthMethodPost:
		form.Set("client_id", p.oauth.ClientID)
		form.Set("client_secret", p.oauth.ClientSecret)
	case AuthMethodNone:
		form.Set("client_id", p.oauth.ClientID)
	case AuthMethodPrivateKeyJWT:
		if err := p.clientKeys.addAssertion(form); err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if p.authMethod == AuthMethodBasic {
		// RFC 6749 2.3.1: each form-urlencoded, as x/oauth2 does.
		req.SetBasicAuth(url.QueryEscape(p.oauth.ClientID), url.QueryEscape(p.oauth.ClientSecret))
	}
	return req, nil
}

// tokenClient returns the HTTP client for x/oauth2's token requests (code
// exchange, refresh): hc itself, or with private_key_jwt hc with a transport
// that adds a fresh client assertion to every POST to the token endpoint,
// which x/oauth2 cannot do itself.
func (p *provider) tokenClient(hc *http.Client) *http.Client {
	if p.clientKeys == nil {
		return hc
	}
	c := *hc
	c.Transport = &assertionTransport{base: hc.Transport, tokenURL: p.meta.TokenEndpoint, keys: p.clientKeys}
	return &c
}

// assertionTransport adds the client assertion to token requests.
type assertionTransport struct {
	base     http.RoundTripper // nil: http.DefaultTransport
	tokenURL string
	keys     *clientKeys
}

// RoundTrip adds client_id, client_assertion_type and client_assertion to
// a form POST to the token endpoint; other requests pass unchanged.
func (t *assertionTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	if req.Method != http.MethodPost || req.URL.String() != t.tokenURL || req.Body == nil {
		return base.RoundTrip(req)
	}
	raw, err := io.ReadAll(io.LimitReader(req.Body, maxResponseBytes))
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		return nil, err
	}
	if err := t.keys.addAssertion(form); err != nil {
		return nil, err
	}
	body := []byte(form.Encode())
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	out.ContentLength = int64(len(body))
	out.Header.Set("Content-Length", strconv.Itoa(len(body)))
	out.Header.Del("Authorization") // the assertion is the client's only credential
	return base.RoundTrip(out)
}
