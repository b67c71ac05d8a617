package oidcauth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// maxResponseBytes caps every response read from the provider.
const maxResponseBytes = 1 << 20

// metadata is the part of the provider's discovery document oidcauth uses.
type metadata struct {
	Issuer                     string   `json:"issuer"`
	AuthorizationEndpoint      string   `json:"authorization_endpoint"`
	TokenEndpoint              string   `json:"token_endpoint"`
	JWKSURI                    string   `json:"jwks_uri"`
	UserinfoEndpoint           string   `json:"userinfo_endpoint"`
	EndSessionEndpoint         string   `json:"end_session_endpoint"`
	RevocationEndpoint         string   `json:"revocation_endpoint"`
	IDTokenSigningAlgs         []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethods   []string `json:"token_endpoint_auth_methods_supported"`
	IssParameterSupported      bool     `json:"authorization_response_iss_parameter_supported"`
	BackchannelLogoutSupported bool     `json:"backchannel_logout_supported"`
	AssertionSigningAlgs       []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	PAREndpoint                string   `json:"pushed_authorization_request_endpoint"`
	RequirePAR                 bool     `json:"require_pushed_authorization_requests"`
	DPoPSigningAlgs            []string `json:"dpop_signing_alg_values_supported"`

	// BackchannelLogoutSessionSupported says logout tokens carry sid.
	BackchannelLogoutSessionSupported bool `json:"backchannel_logout_session_supported"`

	// FrontchannelLogoutSupported and FrontchannelLogoutSessionSupported
	// say the provider renders front-channel logouts, with iss and sid.
	FrontchannelLogoutSupported        bool `json:"frontchannel_logout_supported"`
	FrontchannelLogoutSessionSupported bool `json:"frontchannel_logout_session_supported"`
}

// asymmetricAlgs are the id_token algorithms oidcauth accepts: never none,
// never an HMAC (whose key would be the client secret, or worse, a public key).
var asymmetricAlgs = []string{
	"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512", "EdDSA",
}

// discover fetches and checks the discovery document of issuer.
func discover(ctx context.Context, hc *http.Client, issuer string) (*metadata, error) {
	wellKnown := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	body, err := getJSON(ctx, hc, wellKnown)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDiscovery, err)
	}
	var m metadata
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%w: %s is not a discovery document: %v", ErrDiscovery, wellKnown, err)
	}
	// A multi-tenant template is New's to check (setupTenancy).
	if m.Issuer != issuer && !strings.Contains(m.Issuer, tenantPlaceholder) {
		return nil, fmt.Errorf("%w: the discovery document names the issuer %q, not %q", ErrDiscovery, m.Issuer, issuer)
	}
	return &m, nil
}

// fromEndpoints builds metadata from endpoints given by hand.
func fromEndpoints(issuer string, e *Endpoints) *metadata {
	return &metadata{
		Issuer:                issuer,
		AuthorizationEndpoint: e.Authorize,
		TokenEndpoint:         e.Token,
		JWKSURI:               e.JWKS,
		UserinfoEndpoint:      e.UserInfo,
		EndSessionEndpoint:    e.EndSession,
		RevocationEndpoint:    e.Revocation,
		IDTokenSigningAlgs:    e.SigningAlgs,
		IssParameterSupported: e.IssParameter,
		PAREndpoint:           e.PushedAuthorization,
	}
}

// check validates the endpoints; option names the source for error messages.
func (m *metadata) check(option string, insecureHTTP bool) error {
	required := []struct{ name, u string }{
		{"authorization_endpoint", m.AuthorizationEndpoint},
		{"token_endpoint", m.TokenEndpoint},
		{"jwks_uri", m.JWKSURI},
	}
	for _, r := range required {
		if r.u == "" {
			return fmt.Errorf("%w: %s: %s is missing", ErrDiscovery, option, r.name)
		}
	}
	all := append(required, []struct{ name, u string }{
		{"issuer", m.Issuer},
		{"userinfo_endpoint", m.UserinfoEndpoint},
		{"end_session_endpoint", m.EndSessionEndpoint},
		{"revocation_endpoint", m.RevocationEndpoint},
		{"pushed_authorization_request_endpoint", m.PAREndpoint},
	}...)
	for _, r := range all {
		if r.u == "" {
			continue
		}
		if err := checkEndpoint(r.u, insecureHTTP); err != nil {
			return fmt.Errorf("%w: %s: %s: %v", ErrDiscovery, option, r.name, err)
		}
	}
	return nil
}

// signingAlgs returns the algorithms to accept for id_tokens.
func (m *metadata) signingAlgs() ([]string, error) {
	if len(m.IDTokenSigningAlgs) == 0 {
		return []string{"RS256"}, nil
	}
	var algs []string
	for _, a := range m.IDTokenSigningAlgs {
		if slices.Contains(asymmetricAlgs, a) {
			algs = append(algs, a)
		}
	}
	if len(algs) == 0 {
		return nil, fmt.Errorf("%w: the provider signs id_tokens only with %q; oidcauth accepts only asymmetric algorithms (%s)",
			ErrDiscovery, m.IDTokenSigningAlgs, strings.Join(asymmetricAlgs, ", "))
	}
	return algs, nil
}

// chooseAuthMethod picks the client authentication method. private_key_jwt
// goes with a client key, and only with one.
func (m *metadata) chooseAuthMethod(explicit AuthMethod, secret string, hasKey bool) (AuthMethod, error) {
	switch {
	case explicit == AuthMethodPrivateKeyJWT && !hasKey:
		return "", optionError("WithClientAuth", "private_key_jwt needs WithClientKey")
	case hasKey && explicit != "" && explicit != AuthMethodPrivateKeyJWT:
		return "", optionError("WithClientKey", "a client key is given, but WithClientAuth chose %s; the key is for private_key_jwt", explicit)
	case hasKey && secret != "":
		return "", optionError("WithClientKey", "give either WithClientKey or WithClientSecret, not both")
	case hasKey && explicit == "":
		if len(m.TokenEndpointAuthMethods) > 0 && !slices.Contains(m.TokenEndpointAuthMethods, string(AuthMethodPrivateKeyJWT)) {
			return "", optionError("WithClientKey", "the provider supports %q, not private_key_jwt; set WithClientAuth(AuthMethodPrivateKeyJWT) if its list is incomplete", m.TokenEndpointAuthMethods)
		}
		return AuthMethodPrivateKeyJWT, nil
	case hasKey:
		return AuthMethodPrivateKeyJWT, nil
	}
	if explicit != "" {
		if explicit == AuthMethodNone && secret != "" {
			return "", optionError("WithClientAuth", "none (public client) was chosen but WithClientSecret set a secret")
		}
		if explicit != AuthMethodNone && secret == "" {
			return "", optionError("WithClientAuth", "%s needs WithClientSecret", explicit)
		}
		return explicit, nil
	}
	if secret == "" {
		return AuthMethodNone, nil
	}
	supported := m.TokenEndpointAuthMethods
	switch {
	case len(supported) == 0, slices.Contains(supported, string(AuthMethodBasic)):
		return AuthMethodBasic, nil
	case slices.Contains(supported, string(AuthMethodPost)):
		return AuthMethodPost, nil
	}
	return "", optionError("WithClientAuth", "the provider supports %q, none of client_secret_basic, client_secret_post; set the method explicitly if its list is incomplete", supported)
}

// checkEndpoint requires an absolute https URL, or http on loopback.
func checkEndpoint(raw string, insecureHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if insecureHTTP || isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q uses plain http on a non-loopback host (WithInsecureHTTP allows it, never in production)", raw)
	}
	return fmt.Errorf("%q is not an http(s) URL", raw)
}

func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// getJSON GETs u and returns its body, capped, when the status is 200.
func getJSON(ctx context.Context, hc *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	return doCapped(hc, req)
}

// doCapped sends req and reads at most maxResponseBytes of a 200 response.
func doCapped(hc *http.Client, req *http.Request) ([]byte, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %v", req.URL.Redacted(), err)
	}
	if len(body) > maxResponseBytes {
		return nil, fmt.Errorf("%s answered more than %d bytes", req.URL.Redacted(), maxResponseBytes)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", req.URL.Redacted(), resp.Status)
	}
	return body, nil
}
