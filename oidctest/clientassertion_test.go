package oidctest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
	"github.com/go-jose/go-jose/v4/jwt"
)

// assertionProvider starts a provider with one private_key_jwt client
// "c" whose key is returned.
func assertionProvider(t *testing.T, cfg Config) (*Provider, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cfg.Clients = []Client{{ID: "c", AuthMethod: "private_key_jwt",
		JWKS: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k"}}}}}
	p, err := NewProvider(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p, key
}

// signAssertion signs claims with key (any go-jose signing key) under alg.
func signAssertion(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// postAssertion sends a refresh grant with the assertion and returns the
// status and error_description: 400 invalid_grant means the client
// authenticated, 401 that it did not.
func postAssertion(t *testing.T, p *Provider, path string, form url.Values) (int, string) {
	t.Helper()
	resp, err := http.PostForm(p.url(path), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Desc string `json:"error_description"`
	}
	json.Unmarshal(b, &e)
	return resp.StatusCode, e.Desc
}

// TestClientAssertionVerification accepts a good assertion once, and
// refuses a wrong aud, an aud array, an expired one, one far ahead, a
// replayed jti, another key, an HMAC, another client's iss or sub, a
// missing jti, and a wrong assertion type.
func TestClientAssertionVerification(t *testing.T) {
	p, key := assertionProvider(t, Config{})
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	now := time.Now()
	claims := func(edit func(map[string]any)) map[string]any {
		c := map[string]any{"iss": "c", "sub": "c", "aud": p.Issuer, "jti": randomString(16),
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
		if edit != nil {
			edit(c)
		}
		return c
	}
	replayed := signAssertion(t, jose.ES256, key, "k", claims(nil))
	tests := []struct {
		name      string
		assertion string
		typ       string
		ok        bool
	}{
		{"good", replayed, ClientAssertionType, true},
		{"good, token endpoint aud", signAssertion(t, jose.ES256, key, "k", claims(func(c map[string]any) { c["aud"] = p.url("/token") })), ClientAssertionType, true},
		{"replayed jti", replayed, ClientAssertionType, false},
		{"wrong aud", signAssertion(t, jose.ES256, key, "k", claims(func(c map[string]any) { c["aud"] = "https://other.example" })), ClientAssertionType, false},
		{"aud array", signAssertion(t, jose.ES256, key, "k", claims(func(c map[string]any) { c["aud"] = []string{p.Issuer} })), ClientAssertionType, false},
		{"expired", signAssertion(t, jose.ES256, key, "k", claims(func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() })), ClientAssertionType, false},
		{"exp far ahead", signAssertion(t, jose.ES256, key, "k", claims(func(c map[string]any) { c["exp"] = now.Add(time.Hour).Unix() })), ClientAssertionType, false},
		{"no jti", signAssertion(t, jose.ES256, key, "k", claims(func(c map[string]any) { delete(c, "jti") })), ClientAssertionType, false},
		{"iss of another client", signAssertion(t, jose.ES256, key, "k", claims(func(c map[string]any) { c["sub"] = "d" })), ClientAssertionType, false},
		{"another key", signAssertion(t, jose.ES256, other, "k", claims(nil)), ClientAssertionType, false},
		{"RSA key not registered", signAssertion(t, jose.PS256, rsaKey, "k", claims(nil)), ClientAssertionType, false},
		{"HMAC", signAssertion(t, jose.HS256, []byte("0123456789abcdef0123456789abcdef"), "k", claims(nil)), ClientAssertionType, false},
		{"wrong type", signAssertion(t, jose.ES256, key, "k", claims(nil)), "urn:other", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, desc := postAssertion(t, p, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"},
				"client_assertion_type": {tt.typ}, "client_assertion": {tt.assertion}})
			if got := status != http.StatusUnauthorized; got != tt.ok {
				t.Fatalf("status %d (%s), want accepted %v", status, desc, tt.ok)
			}
		})
	}
	// An alg the provider does not list.
	q, _ := assertionProvider(t, Config{ClientAssertionAlgs: []string{"PS256"}})
	status, desc := postAssertion(t, q, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"},
		"client_assertion_type": {ClientAssertionType}, "client_assertion": {signAssertion(t, jose.ES256, key, "k", claims(func(c map[string]any) { c["aud"] = q.Issuer }))}})
	if status != http.StatusUnauthorized || !strings.Contains(desc, "algorithms") {
		t.Fatalf("ES256 at a PS256-only provider: %d %s", status, desc)
	}
}

// TestClientAssertionPSSSalt: PS256 with a salt as long as the hash is
// accepted, with the longest salt (go-jose's cryptosigner) refused, as
// strict providers refuse it.
func TestClientAssertionPSSSalt(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	p, err := NewProvider(Config{Clients: []Client{{ID: "c", AuthMethod: "private_key_jwt",
		JWKS: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k"}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	claims := func() map[string]any {
		return map[string]any{"iss": "c", "sub": "c", "aud": p.Issuer, "jti": randomString(16),
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix()}
	}
	for _, tt := range []struct {
		name string
		key  any
		ok   bool
	}{
		{"salt as long as the hash", key, true},
		{"longest salt", cryptosigner.Opaque(key), false},
	} {
		status, desc := postAssertion(t, p, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"},
			"client_assertion_type": {ClientAssertionType}, "client_assertion": {signAssertion(t, jose.PS256, tt.key, "k", claims())}})
		if got := status != http.StatusUnauthorized; got != tt.ok {
			t.Errorf("%s: status %d (%s), want accepted %v", tt.name, status, desc, tt.ok)
		}
	}
}

// TestPAREndpoint: a pushed request is used once, by its client; with
// RequirePAR a request that was not pushed is refused; the Tamper knobs
// replace the answer.
func TestPAREndpoint(t *testing.T) {
	p, err := NewProvider(Config{RequirePAR: true, Clients: []Client{{ID: "c", Secret: "s", AuthMethod: "client_secret_post"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(q url.Values) int {
		resp, err := noRedirect.Get(p.url("/authorize") + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	params := url.Values{"response_type": {"code"}, "client_id": {"c"}, "client_secret": {"s"}, "redirect_uri": {"http://127.0.0.1/cb"},
		"scope": {"openid"}, "state": {"st"}, "code_challenge": {"x"}, "code_challenge_method": {"S256"}}
	if status := get(params); status != http.StatusBadRequest {
		t.Fatalf("authorize without a push: %d, want 400", status)
	}
	resp, err := http.PostForm(p.url("/par"), params)
	if err != nil {
		t.Fatal(err)
	}
	var pr struct {
		RequestURI string `json:"request_uri"`
		ExpiresIn  int    `json:"expires_in"`
	}
	json.NewDecoder(resp.Body).Decode(&pr)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || pr.RequestURI == "" || pr.ExpiresIn <= 0 {
		t.Fatalf("push: %d %+v", resp.StatusCode, pr)
	}
	if got := p.PushedRequests()[0].Params; got.Has("client_secret") || got.Get("state") != "st" {
		t.Fatalf("recorded params %v: want the request's, without the secret", got)
	}
	if status := get(url.Values{"client_id": {"d"}, "request_uri": {pr.RequestURI}}); status != http.StatusBadRequest {
		t.Fatalf("another client's request_uri: %d, want 400", status)
	}
	resp, err = http.PostForm(p.url("/par"), params)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&pr)
	resp.Body.Close()
	if status := get(url.Values{"client_id": {"c"}, "request_uri": {pr.RequestURI}}); status != http.StatusFound {
		t.Fatalf("authorize with the request_uri: %d, want 302", status)
	}
	if status := get(url.Values{"client_id": {"c"}, "request_uri": {pr.RequestURI}}); status != http.StatusBadRequest {
		t.Fatalf("the request_uri used again: %d, want 400", status)
	}
	bad := url.Values{"client_id": {"c"}, "client_secret": {"wrong"}, "redirect_uri": {"http://127.0.0.1/cb"}}
	if status, _ := postAssertion(t, p, "/par", bad); status != http.StatusUnauthorized {
		t.Fatalf("push with a wrong secret: %d, want 401", status)
	}
	p.SetTamper(Tamper{PARStatus: 503, PARBody: `{"error":"x"}`})
	if status, _ := postAssertion(t, p, "/par", params); status != 503 {
		t.Fatalf("PARStatus: %d", status)
	}
}
