package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// proofSpec builds a DPoP proof; edit changes its header or claims.
type proofSpec struct {
	key    *ecdsa.PrivateKey
	embed  any // the jwk header; default the public key
	typ    string
	claims map[string]any
}

func (s proofSpec) sign(t *testing.T) string {
	t.Helper()
	embed := s.embed
	if embed == nil {
		embed = jose.JSONWebKey{Key: &s.key.PublicKey}
	}
	opts := (&jose.SignerOptions{ExtraHeaders: map[jose.HeaderKey]any{"jwk": embed}}).WithType(jose.ContentType(s.typ))
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: s.key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(s.claims)
	jws, err := signer.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

// newCode runs the authorization endpoint for client "c" and returns a code.
func newCode(t *testing.T, p *Provider) string {
	t.Helper()
	q := url.Values{"client_id": {"c"}, "redirect_uri": {"http://127.0.0.1:1/cb"}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"st"}, "code_challenge": {b64(sha("v"))}, "code_challenge_method": {"S256"}}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(p.Issuer + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	return loc.Query().Get("code")
}

func sha(s string) []byte { d := sha256.Sum256([]byte(s)); return d[:] }

// exchange posts a code with proof (none when empty) and returns the status
// and JSON answer.
func exchange(t *testing.T, p *Provider, code, proof string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"http://127.0.0.1:1/cb"},
		"code_verifier": {"v"}, "client_id": {"c"}}
	req, _ := http.NewRequest(http.MethodPost, p.Issuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestDPoPProofVerification: the token endpoint takes a valid proof only
// and binds the token to its key; userinfo takes the bound token only with
// DPoP and a proof of that key for that token.
func TestDPoPProofVerification(t *testing.T) {
	p, err := NewProvider(Config{DPoP: true, DPoPNonce: true, Clients: []Client{{ID: "c", RequireDPoP: true}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p.RotateDPoPNonce()
	claims := func(edit func(map[string]any)) map[string]any {
		c := map[string]any{"jti": randomString(8), "htm": "POST", "htu": p.Issuer + "/token", "iat": time.Now().Unix(), "nonce": p.DPoPNonce()}
		if edit != nil {
			edit(c)
		}
		return c
	}
	valid := proofSpec{key: key, typ: "dpop+jwt", claims: claims(nil)}
	reused := valid.sign(t)
	tests := []struct {
		name  string
		proof string
		error string
	}{
		{"no proof", "", "invalid_dpop_proof"},
		{"typ JWT", proofSpec{key: key, typ: "JWT", claims: claims(nil)}.sign(t), "invalid_dpop_proof"},
		{"private jwk", proofSpec{key: key, typ: "dpop+jwt", embed: jose.JSONWebKey{Key: key}, claims: claims(nil)}.sign(t), "invalid_dpop_proof"},
		{"htm GET", proofSpec{key: key, typ: "dpop+jwt", claims: claims(func(c map[string]any) { c["htm"] = "GET" })}.sign(t), "invalid_dpop_proof"},
		{"htu with query", proofSpec{key: key, typ: "dpop+jwt", claims: claims(func(c map[string]any) { c["htu"] = p.Issuer + "/token?x=1" })}.sign(t), "invalid_dpop_proof"},
		{"iat old", proofSpec{key: key, typ: "dpop+jwt", claims: claims(func(c map[string]any) { c["iat"] = time.Now().Add(-time.Hour).Unix() })}.sign(t), "invalid_dpop_proof"},
		{"no jti", proofSpec{key: key, typ: "dpop+jwt", claims: claims(func(c map[string]any) { delete(c, "jti") })}.sign(t), "invalid_dpop_proof"},
		{"no nonce", proofSpec{key: key, typ: "dpop+jwt", claims: claims(func(c map[string]any) { delete(c, "nonce") })}.sign(t), "use_dpop_nonce"},
		{"valid", reused, ""},
		{"jti replayed", reused, "invalid_dpop_proof"},
	}
	var token string
	for _, tt := range tests {
		st, out := exchange(t, p, newCode(t, p), tt.proof)
		if tt.error == "" {
			if st != http.StatusOK || out["token_type"] != "DPoP" {
				t.Fatalf("%s: %d %v", tt.name, st, out)
			}
			token, _ = out["access_token"].(string)
			continue
		}
		if st != http.StatusBadRequest || out["error"] != tt.error {
			t.Fatalf("%s: %d %v, want 400 %s", tt.name, st, out, tt.error)
		}
	}
	pub := jose.JSONWebKey{Key: &key.PublicKey}
	tp, _ := pub.Thumbprint(crypto.SHA256)
	if p.TokenBinding(token) != b64(tp) {
		t.Fatalf("cnf.jkt %q, want the proof key's thumbprint", p.TokenBinding(token))
	}

	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ui := func(edit func(map[string]any)) map[string]any {
		c := map[string]any{"jti": randomString(8), "htm": "GET", "htu": p.Issuer + "/userinfo", "iat": time.Now().Unix(),
			"nonce": p.DPoPNonce(), "ath": b64(sha(token))}
		if edit != nil {
			edit(c)
		}
		return c
	}
	uiTests := []struct {
		name, scheme, proof string
		status              int
	}{
		{"Bearer", "Bearer", "", http.StatusUnauthorized},
		{"DPoP without a proof", "DPoP", "", http.StatusUnauthorized},
		{"no ath", "DPoP", proofSpec{key: key, typ: "dpop+jwt", claims: ui(func(c map[string]any) { delete(c, "ath") })}.sign(t), http.StatusUnauthorized},
		{"another key", "DPoP", proofSpec{key: other, typ: "dpop+jwt", claims: ui(nil)}.sign(t), http.StatusUnauthorized},
		{"valid", "DPoP", proofSpec{key: key, typ: "dpop+jwt", claims: ui(nil)}.sign(t), http.StatusOK},
	}
	for _, tt := range uiTests {
		req, _ := http.NewRequest(http.MethodGet, p.Issuer+"/userinfo", nil)
		req.Header.Set("Authorization", tt.scheme+" "+token)
		if tt.proof != "" {
			req.Header.Set("DPoP", tt.proof)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Fatalf("userinfo %s: %d, want %d", tt.name, resp.StatusCode, tt.status)
		}
	}
}
