package oidctest

import (
	"crypto"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// DPoP (RFC 9449) at the provider, with Config.DPoP: the token endpoint
// verifies a DPoP proof when the request has one (always, for a client with
// RequireDPoP) and binds the tokens it issues to the proof's key
// (token_type DPoP, the access token's cnf.jkt, see [Provider.TokenBinding]);
// a refresh of a bound grant needs a proof made with the same key; userinfo
// takes a bound access token only with the DPoP scheme and a valid proof
// (ath included). With Config.DPoPNonce both endpoints demand the
// provider's current nonce (use_dpop_nonce) and send it in DPoP-Nonce.

// dpopProofAlgs are the proof algorithms the provider verifies.
var dpopProofAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.ES512, jose.EdDSA, jose.RS256, jose.PS256}

// dpopIATWindow is how far a proof's iat may be from the provider's clock.
const dpopIATWindow = time.Minute

// errUseNonce marks a proof without the current nonce.
var errUseNonce = errors.New("the proof lacks the current nonce")

// DPoPNonce returns the nonce the provider currently demands (Config.DPoPNonce).
func (p *Provider) DPoPNonce() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.nonce
}

// RotateDPoPNonce makes a new nonce current; proofs with the old one are
// refused with use_dpop_nonce from now on.
func (p *Provider) RotateDPoPNonce() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nonce = randomString(16)
}

// TokenBinding returns the cnf.jkt of an access token the provider issued:
// the RFC 7638 thumbprint of the DPoP key it is bound to, or "" for a
// Bearer token (or one it does not know).
func (p *Provider) TokenBinding(accessToken string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if g := p.access[accessToken]; g != nil {
		return g.jkt
	}
	return ""
}

// sendNonce adds the current nonce to a response, rotating it first with
// Tamper.RotateDPoPNonce.
func (p *Provider) sendNonce(w http.ResponseWriter) {
	if !p.cfg.DPoPNonce {
		return
	}
	p.mu.Lock()
	if p.tamper.RotateDPoPNonce || p.nonce == "" {
		p.nonce = randomString(16)
	}
	n := p.nonce
	p.mu.Unlock()
	w.Header().Set("DPoP-Nonce", n)
}

// checkProof verifies the DPoP proof of r (RFC 9449 4.3) and returns the
// thumbprint of its key. accessToken, when not empty, must match ath.
func (p *Provider) checkProof(r *http.Request, accessToken string) (string, error) {
	vals := r.Header.Values("DPoP")
	if len(vals) != 1 {
		return "", fmt.Errorf("want one DPoP header, got %d", len(vals))
	}
	jws, err := jose.ParseSignedCompact(vals[0], dpopProofAlgs)
	if err != nil {
		return "", fmt.Errorf("the proof does not parse: %v", err)
	}
	if len(jws.Signatures) != 1 {
		return "", errors.New("the proof has more than one signature")
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders["typ"].(string); typ != "dpop+jwt" {
		return "", fmt.Errorf("the proof's typ is %q, not dpop+jwt", typ)
	}
	// go-jose refuses a jwk header with a private key (RFC 7515 4.1.3).
	jwk := h.JSONWebKey
	if jwk == nil || !jwk.Valid() {
		return "", errors.New("the proof has no valid jwk header")
	}
	payload, err := jws.Verify(jwk)
	if err != nil {
		return "", fmt.Errorf("the proof's signature does not verify: %v", err)
	}
	var c struct {
		JTI   string `json:"jti"`
		HTM   string `json:"htm"`
		HTU   string `json:"htu"`
		IAT   int64  `json:"iat"`
		Nonce string `json:"nonce"`
		ATH   string `json:"ath"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return "", fmt.Errorf("the proof's claims do not parse: %v", err)
	}
	if c.HTM != r.Method {
		return "", fmt.Errorf("htm %q, the request is %s", c.HTM, r.Method)
	}
	if want := p.Issuer + r.URL.Path; c.HTU != want {
		return "", fmt.Errorf("htu %q, want %q", c.HTU, want)
	}
	iat := time.Unix(c.IAT, 0)
	if c.IAT == 0 || time.Since(iat) > dpopIATWindow || time.Until(iat) > dpopIATWindow {
		return "", errors.New("iat is missing or outside the window")
	}
	if accessToken != "" {
		d := sha256.Sum256([]byte(accessToken))
		if c.ATH != b64(d[:]) {
			return "", errors.New("ath does not match the access token")
		}
	} else if c.ATH != "" {
		return "", errors.New("ath without an access token")
	}
	if c.JTI == "" || len(c.JTI) > 256 {
		return "", errors.New("jti is missing or too long")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cfg.DPoPNonce && (p.nonce == "" || c.Nonce != p.nonce) {
		return "", errUseNonce
	}
	if _, seen := p.dpopJTIs[c.JTI]; seen {
		return "", errors.New("jti was used before")
	}
	for j, at := range p.dpopJTIs {
		if time.Since(at) > 2*dpopIATWindow {
			delete(p.dpopJTIs, j)
		}
	}
	p.dpopJTIs[c.JTI] = time.Now()
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return b64(tp), nil
}

// tokenProof checks the DPoP proof of a token request, answering the
// error itself; ok false means it answered. jkt is "" for a request
// without a proof where none is needed.
func (p *Provider) tokenProof(w http.ResponseWriter, r *http.Request, client Client) (jkt string, status int, ok bool) {
	if !p.cfg.DPoP {
		return "", 0, true
	}
	p.sendNonce(w)
	if r.Header.Get("DPoP") == "" && !client.RequireDPoP {
		return "", 0, true
	}
	jkt, err := p.checkProof(r, "")
	switch {
	case errors.Is(err, errUseNonce):
		oauthError(w, http.StatusBadRequest, "use_dpop_nonce", "a DPoP nonce is required")
		return "", http.StatusBadRequest, false
	case err != nil:
		oauthError(w, http.StatusBadRequest, "invalid_dpop_proof", err.Error())
		return "", http.StatusBadRequest, false
	}
	return jkt, 0, true
}

// resourceProof checks how a request presents an access token of grant g
// at userinfo: a bound token only as "DPoP <token>" with a valid proof of
// its key, an unbound one only as a Bearer token. It answers a failure
// itself.
func (p *Provider) resourceProof(w http.ResponseWriter, r *http.Request, scheme, token string, g *grant) bool {
	if g.jkt == "" {
		if scheme == "Bearer" {
			return true
		}
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
		return false
	}
	p.sendNonce(w)
	refuse := func(code, desc string) bool {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`DPoP error=%q, error_description=%q, algs="ES256 ES384 EdDSA"`, code, desc))
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": code, "error_description": desc})
		return false
	}
	if scheme != "DPoP" {
		return refuse("invalid_token", "the access token is DPoP-bound")
	}
	jkt, err := p.checkProof(r, token)
	switch {
	case errors.Is(err, errUseNonce):
		return refuse("use_dpop_nonce", "a DPoP nonce is required")
	case err != nil:
		return refuse("invalid_dpop_proof", err.Error())
	case jkt != g.jkt:
		return refuse("invalid_token", "the proof's key is not the token's")
	}
	return true
}

// tokenType is the token_type of a response for a grant bound to jkt.
func tokenType(jkt string, t Tamper) string {
	if t.DPoPTokenType != "" {
		return t.DPoPTokenType
	}
	if jkt != "" {
		return "DPoP"
	}
	return "Bearer"
}

// authScheme splits an Authorization header into its scheme (Bearer or
// DPoP, case-insensitively) and token.
func authScheme(h string) (scheme, token string) {
	s, tok, ok := strings.Cut(h, " ")
	if !ok {
		return "", ""
	}
	switch {
	case strings.EqualFold(s, "Bearer"):
		return "Bearer", tok
	case strings.EqualFold(s, "DPoP"):
		return "DPoP", tok
	}
	return "", ""
}
