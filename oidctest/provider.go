// Package oidctest is an in-process OpenID Provider for tests and local
// development: discovery, a JWKS with key rotation, the authorization
// endpoint (auto-approving a configured user, or showing a small login form),
// the token endpoint (authorization code with PKCE, refresh with optional
// rotation, client_secret_basic, client_secret_post, private_key_jwt and
// none), pushed authorization requests, userinfo, end_session,
// revocation and DPoP (Config.DPoP). Knobs in [Tamper] make it misbehave
// for negative tests.
//
// It is a test double, not a real provider: it keeps everything in memory
// and accepts any password.
//
// # Endpoints
//
// Every endpoint is a path under [Provider.Issuer], the same on every
// provider, so a test can give them to oidcauth.WithEndpoints by hand or
// count requests with [Provider.Hits]:
//
//	GET       /.well-known/openid-configuration  discovery (edit it with Tamper.Metadata)
//	GET       /jwks                              the key set (JWKS)
//	GET, POST /authorize                         authorization; with Interactive, GET shows the login form and the form posts back here
//	POST      /token                             token: authorization_code and refresh_token grants
//	GET, POST /userinfo                          userinfo, with the access token as a Bearer token (DPoP-bound: as a DPoP token with a proof)
//	GET       /end_session                       RP-initiated logout: back to post_logout_redirect_uri with state
//	POST      /revoke                            token revocation (RFC 7009)
//	POST      /par                               pushed authorization requests (RFC 9126)
//
// Back-channel logout goes the other way: [Provider.Logout] and
// [Provider.LogoutSubject] post logout tokens to each client's
// BackchannelLogoutURI.
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Client is a client registered at the provider.
type Client struct {
	ID     string
	Secret string
	// AuthMethod is client_secret_basic, client_secret_post,
	// private_key_jwt or none; the token, revocation and pushed
	// authorization endpoints accept only this one. Empty means client_secret_basic
	// with a secret and none without.
	AuthMethod string
	// RedirectURIs are compared exactly. Empty accepts any redirect URI.
	RedirectURIs []string
	// PostLogoutRedirectURIs are compared exactly. Empty accepts any.
	PostLogoutRedirectURIs []string
	// BackchannelLogoutURI receives logout tokens from [Provider.Logout].
	BackchannelLogoutURI string
	// JWKS are the client's public keys, for AuthMethod private_key_jwt.
	JWKS *jose.JSONWebKeySet
	// JWKSURI is where the provider fetches the client's public keys, at
	// every assertion, when JWKS is nil.
	JWKSURI string
	// RequireDPoP, with Config.DPoP, refuses the client's token requests
	// without a DPoP proof.
	RequireDPoP bool
}

// User is the user the provider logs in.
type User struct {
	Subject string
	// Claims are added to id_tokens and userinfo (name, email, ...).
	Claims map[string]any
}

// Config configures a Provider. The zero value is usable: one basic client
// "client"/"secret" and the user "alice".
type Config struct {
	Clients []Client
	User    User
	// Interactive shows a login form at the authorization endpoint instead
	// of approving at once; the subject typed in becomes the user's.
	Interactive bool
	// AccessTokenTTL is the access token's life (default 1 hour).
	AccessTokenTTL time.Duration
	// IDTokenTTL is the id_token's life (default 1 hour).
	IDTokenTTL time.Duration
	// NoRefreshTokens stops refresh tokens (normally issued with offline_access).
	NoRefreshTokens bool
	// RotateRefreshTokens issues a new refresh token on every refresh and
	// refuses the old one from then on.
	RotateRefreshTokens bool
	// RevokeOnReuse, with RotateRefreshTokens, treats a rotated-away refresh
	// token presented again as stolen, as providers with reuse detection do
	// (RFC 9700 4.14.2): it revokes the whole grant, every refresh and access
	// token issued from the same login.
	RevokeOnReuse bool
	// NoIDTokenOnRefresh leaves id_token out of refresh responses.
	NoIDTokenOnRefresh bool
	// IssParameter advertises authorization_response_iss_parameter_supported
	// and sends iss on every authorization response (RFC 9207).
	IssParameter bool
	// SigningAlg is the algorithm of the id_tokens and logout tokens it
	// signs with its RSA keys: "RS256" (the default) or "PS256" (as FAPI 2.0
	// requires).
	SigningAlg string
	// RequirePAR advertises require_pushed_authorization_requests and
	// refuses authorization requests that were not pushed (RFC 9126).
	RequirePAR bool
	// ClientAssertionAlgs are the algorithms accepted for private_key_jwt
	// assertions, advertised as token_endpoint_auth_signing_alg_values_supported
	// (default [DefaultClientAssertionAlgs]).
	ClientAssertionAlgs []string
	// DPoP verifies DPoP proofs (RFC 9449) at the token endpoint and binds
	// the tokens to their key; see [Provider.TokenBinding].
	DPoP bool
	// DPoPNonce, with DPoP, demands the provider's nonce in every proof
	// (use_dpop_nonce); see [Provider.RotateDPoPNonce].
	DPoPNonce bool
	// Addr is the loopback address to listen on, e.g. "127.0.0.1:9999";
	// empty picks a free port.
	Addr string
	// Tenant, a tenant ID (a GUID), makes the provider a multi-tenant one,
	// as Microsoft Entra ID's common endpoint: Issuer is
	// http://127.0.0.1:PORT/common, where every endpoint lives, discovery
	// publishes the issuer http://127.0.0.1:PORT/{tenantid}, and tokens
	// (and the RFC 9207 iss parameter) carry the tenant's issuer
	// http://127.0.0.1:PORT/<Tenant> and the claim tid. SetTenant changes it.
	Tenant string
}

// Provider is a running test provider. Its methods are safe for concurrent use.
type Provider struct {
	// Issuer is the provider's issuer URL (http://127.0.0.1:PORT), or with
	// Config.Tenant the URL of its discovery document's issuer template
	// (http://127.0.0.1:PORT/common).
	Issuer string
	// base is the server's URL.
	base string

	server *httptest.Server
	cfg    Config

	mu       sync.Mutex
	keys     []*rsa.PrivateKey // keys[0] signs
	kids     []string
	clients  map[string]Client
	codes    map[string]*grant
	refresh  map[string]*grant
	access   map[string]*grant
	used     map[string]*grant // rotated-away refresh tokens, and their grant
	sessions map[string]*grant
	browsers map[string]*grant // the provider's own browser sessions, by cookie (authn.go)
	authn    Authentication
	tamper   Tamper
	requests []TokenRequest
	revoked  []string
	hits     map[string]int
	nonce    string               // the current DPoP nonce
	dpopJTIs map[string]time.Time // DPoP proof jtis seen

	revocations []RevocationRequest
	jtis        map[string]time.Time      // client assertions seen, until they expire
	pushed      map[string]*pushedRequest // pushed authorization requests by request_uri
	pushes      []PushedRequest
}

// grant is what the provider remembers of one login.
type grant struct {
	clientID    string
	redirectURI string
	scope       string
	nonce       string
	challenge   string
	method      string
	sid         string
	user        User
	authTime    time.Time
	acr         string
	amr         []string
	expires     time.Time
	jkt         string // the DPoP key the tokens are bound to, or ""
	// family is shared by every token issued from one login, so that reuse
	// detection can revoke them all.
	family *family
}

// family is the state shared by the tokens of one login.
type family struct{ revoked bool }

// TokenRequest records a request to the token endpoint.
type TokenRequest struct {
	GrantType string
	// ClientAuth is how the client authenticated: client_secret_basic,
	// client_secret_post or none.
	ClientAuth string
	ClientID   string
	Status     int
	// Reused reports a refresh_token grant that presented a refresh token
	// already rotated away (RotateRefreshTokens).
	Reused bool
	// ClientAssertion is the private_key_jwt assertion sent, if any, and
	// ClientAuthError why the client's authentication failed.
	ClientAssertion string
	ClientAuthError string
	// DPoPKey is the RFC 7638 thumbprint of the key of the request's valid
	// DPoP proof, or "".
	DPoPKey string
}

// NewProvider starts a provider on a free loopback port. Close it when done.
func NewProvider(cfg Config) (*Provider, error) {
	switch cfg.SigningAlg {
	case "", "RS256", "PS256":
	default:
		return nil, fmt.Errorf("oidctest: SigningAlg %q: want RS256 or PS256", cfg.SigningAlg)
	}
	if len(cfg.Clients) == 0 {
		cfg.Clients = []Client{{ID: "client", Secret: "secret"}}
	}
	if cfg.User.Subject == "" {
		cfg.User = User{Subject: "alice", Claims: map[string]any{
			"name": "Alice Example", "email": "alice@example.com", "email_verified": true,
			"preferred_username": "alice",
		}}
	}
	if cfg.AccessTokenTTL == 0 {
		cfg.AccessTokenTTL = time.Hour
	}
	if cfg.IDTokenTTL == 0 {
		cfg.IDTokenTTL = time.Hour
	}
	p := &Provider{
		cfg:      cfg,
		clients:  map[string]Client{},
		codes:    map[string]*grant{},
		refresh:  map[string]*grant{},
		access:   map[string]*grant{},
		used:     map[string]*grant{},
		sessions: map[string]*grant{},
		browsers: map[string]*grant{},
		hits:     map[string]int{},
		jtis:     map[string]time.Time{},
		dpopJTIs: map[string]time.Time{},
		pushed:   map[string]*pushedRequest{},
	}
	for _, c := range cfg.Clients {
		p.clients[c.ID] = c
	}
	if err := p.RotateKeys(false); err != nil {
		return nil, err
	}
	p.server = httptest.NewUnstartedServer(p.routes())
	if cfg.Addr != "" {
		p.server.Listener.Close()
		l, err := listen(cfg.Addr)
		if err != nil {
			return nil, err
		}
		p.server.Listener = l
	}
	p.server.Start()
	p.base, p.Issuer = p.server.URL, p.server.URL
	if cfg.Tenant != "" {
		p.Issuer = p.base + tenantPath
	}
	return p, nil
}

// tenantPath is where a multi-tenant provider serves its endpoints.
const tenantPath = "/common"

// SetTenant changes the tenant of the tokens issued from now on (see
// Config.Tenant); the provider must have been started with one.
func (p *Provider) SetTenant(tenant string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cfg.Tenant = tenant
}

// TokenIssuer is the iss of the tokens the provider issues now: Issuer, or
// with Config.Tenant the tenant's issuer.
func (p *Provider) TokenIssuer() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tokenIssuerLocked()
}

func (p *Provider) tokenIssuerLocked() string {
	if p.cfg.Tenant == "" {
		return p.Issuer
	}
	return p.base + "/" + p.cfg.Tenant
}

// tokenClaims are the issuer claims of a token issued now: iss, and tid
// for a multi-tenant provider.
func (p *Provider) tokenClaims(c map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c["iss"] = p.tokenIssuerLocked()
	if p.cfg.Tenant != "" {
		c["tid"] = p.cfg.Tenant
	}
}

// Close stops the provider.
func (p *Provider) Close() { p.server.Close() }

// Client returns the registered client with id.
func (p *Provider) Client(id string) (Client, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.clients[id]
	return c, ok
}

// SetUser changes the user logged in from now on.
func (p *Provider) SetUser(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cfg.User = u
}

// SetTamper sets the ways the provider misbehaves from now on; the zero
// Tamper makes it behave.
func (p *Provider) SetTamper(t Tamper) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tamper = t
}

// RotateKeys makes a new signing key current. With keepOld the previous keys
// stay in the JWKS (a graceful rotation); without, they are dropped.
func (p *Provider) RotateKeys(keepOld bool) error {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	kid := randomString(8)
	if keepOld {
		p.keys = append([]*rsa.PrivateKey{k}, p.keys...)
		p.kids = append([]string{kid}, p.kids...)
	} else {
		p.keys, p.kids = []*rsa.PrivateKey{k}, []string{kid}
	}
	return nil
}

// TokenRequests returns the requests the token endpoint has seen.
func (p *Provider) TokenRequests() []TokenRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.requests)
}

// CountGrants returns how many token requests of grantType succeeded.
func (p *Provider) CountGrants(grantType string) int {
	n := 0
	for _, r := range p.TokenRequests() {
		if r.GrantType == grantType && r.Status == http.StatusOK {
			n++
		}
	}
	return n
}

// Revoked returns the tokens revoked at the revocation endpoint.
func (p *Provider) Revoked() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.revoked)
}

// ExpireAccessTokens makes every access token issued so far expired at the
// userinfo endpoint.
func (p *Provider) ExpireAccessTokens() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, g := range p.access {
		g.expires = time.Now().Add(-time.Second)
	}
}

// RevokeRefreshTokens makes every refresh token issued so far invalid.
func (p *Provider) RevokeRefreshTokens() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for t := range p.refresh {
		delete(p.refresh, t)
	}
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (p *Provider) url(path string) string { return p.Issuer + path }

func (p *Provider) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("/authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("/userinfo", p.userinfo)
	mux.HandleFunc("GET /end_session", p.endSession)
	mux.HandleFunc("POST /revoke", p.revoke)
	mux.HandleFunc("POST /par", p.par)
	var h http.Handler = mux
	if p.cfg.Tenant != "" {
		h = http.StripPrefix(tenantPath, mux)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.hits[strings.TrimPrefix(r.URL.Path, tenantPath)]++
		p.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// Hits returns how many requests the provider has had for path, such as
// "/jwks" or "/token".
func (p *Provider) Hits(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hits[path]
}

func (p *Provider) String() string { return fmt.Sprintf("oidctest.Provider(%s)", p.Issuer) }
