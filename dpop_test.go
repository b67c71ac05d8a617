package oidcauth

import (
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/oidcauth/oidcauth/oidctest"
)

// dpopProvider is an oidctest provider with DPoP and nonces, whose client
// must use DPoP.
func dpopProvider(t testing.TB) *oidctest.Provider {
	t.Helper()
	return newProvider(t, oidctest.Config{
		DPoP: true, DPoPNonce: true, RotateRefreshTokens: true,
		Clients: []oidctest.Client{{ID: "client", Secret: "secret", RequireDPoP: true}},
	})
}

// keyThumbprint is the RFC 7638 thumbprint of a stored DPoP key's public part.
func keyThumbprint(t testing.TB, raw json.RawMessage) string {
	t.Helper()
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		t.Fatalf("the stored DPoP key does not parse: %v", err)
	}
	pub := jwk.Public()
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

// TestDPoPLogin: a login, a refresh, userinfo and Client with DPoP-bound
// tokens at a provider that demands nonces; the key stays the login's
// across the refresh, and the tokens are bound to it.
func TestDPoPLogin(t *testing.T) {
	t.Parallel()
	op := dpopProvider(t)
	h := newHarnessWith(t, op, offline, WithDPoP())
	h.mustLogin("/me")
	ts := stored(t, h)
	if ts == nil || len(ts.DPoPKey) == 0 || ts.TokenType != "DPoP" {
		t.Fatalf("token record after login: %+v", ts)
	}
	jkt := keyThumbprint(t, ts.DPoPKey)
	if got := op.TokenBinding(ts.AccessToken); got != jkt {
		t.Fatalf("the access token is bound to %q, the login's key is %q", got, jkt)
	}
	// The first exchange had no nonce: refused with use_dpop_nonce, repeated once.
	if reqs := op.TokenRequests(); len(reqs) != 2 || reqs[0].Status != http.StatusBadRequest || reqs[1].Status != http.StatusOK || reqs[1].DPoPKey != jkt {
		t.Fatalf("token requests at login: %+v", reqs)
	}
	if st, claims := h.userinfo(); st != http.StatusOK || claims["sub"] != "alice" {
		t.Fatalf("userinfo: %d %v", st, claims)
	}
	if resp := h.get("/api/call?url=" + url.QueryEscape(op.Issuer+"/userinfo")); resp.StatusCode != http.StatusOK {
		t.Fatalf("Client to userinfo: %d %s", resp.StatusCode, body(resp))
	}
	expireTokens(t, h)
	if st, _ := h.userinfo(); st != http.StatusOK {
		t.Fatalf("userinfo after the refresh: %d", st)
	}
	after := stored(t, h)
	rs := refreshRequests(op)
	if len(rs) != 1 || rs[0].Status != http.StatusOK || rs[0].DPoPKey != jkt || string(after.DPoPKey) != string(ts.DPoPKey) {
		t.Fatalf("the refresh changed the key or failed: %+v", rs)
	}
	if after.AccessToken == ts.AccessToken || op.TokenBinding(after.AccessToken) != jkt {
		t.Fatal("the refreshed access token is not bound to the login's key")
	}
	// A bound token is refused as a Bearer token.
	req, _ := http.NewRequest(http.MethodGet, op.Issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+after.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the bound token as Bearer: %d, want 401", resp.StatusCode)
	}
}

// TestDPoPKeyPerLogin: every login gets its own key.
func TestDPoPKeyPerLogin(t *testing.T) {
	t.Parallel()
	op := dpopProvider(t)
	h := newHarnessWith(t, op, WithDPoP())
	h.mustLogin("/me")
	first := keyThumbprint(t, stored(t, h).DPoPKey)
	h.logout()
	h.mustLogin("/me")
	second := keyThumbprint(t, stored(t, h).DPoPKey)
	if first == second {
		t.Fatal("two logins share a DPoP key")
	}
}

// TestDPoPTokenTypeRule: a token response whose token_type is not DPoP is
// refused when DPoP was asked for: the login fails; a refresh fails and the
// login keeps its tokens.
func TestDPoPTokenTypeRule(t *testing.T) {
	t.Parallel()
	t.Run("login", func(t *testing.T) {
		t.Parallel()
		op := dpopProvider(t)
		var last error
		h := newHarnessWith(t, op, WithDPoP(), recordErrors(&last))
		op.SetTamper(oidctest.Tamper{DPoPTokenType: "Bearer"})
		if resp := h.login("/me"); resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("callback: %d, want 502", resp.StatusCode)
		}
		if !errors.Is(last, ErrDPoP) || !errors.Is(last, ErrExchange) || stored(t, h) != nil {
			t.Fatalf("error %v; a token record was stored: %v", last, stored(t, h) != nil)
		}
	})
	t.Run("refresh", func(t *testing.T) {
		t.Parallel()
		op := dpopProvider(t)
		var last error
		h := newHarnessWith(t, op, offline, WithDPoP(), recordErrors(&last))
		h.mustLogin("/me")
		before := stored(t, h)
		expireTokens(t, h)
		op.SetTamper(oidctest.Tamper{DPoPTokenType: "bearer"})
		if st, _ := h.userinfo(); st != http.StatusBadGateway || !errors.Is(last, ErrDPoP) || !errors.Is(last, ErrRefresh) {
			t.Fatalf("userinfo: %d %v, want 502 ErrDPoP", st, last)
		}
		if after := stored(t, h); after == nil || after.AccessToken != before.AccessToken {
			t.Fatal("the refused refresh's tokens replaced the login's")
		}
	})
}

// TestDPoPNonceRetriedOnce: a server that never takes the nonce it gave
// gets each request twice, not more.
func TestDPoPNonceRetriedOnce(t *testing.T) {
	t.Parallel()
	t.Run("token endpoint", func(t *testing.T) {
		t.Parallel()
		op := dpopProvider(t)
		h := newHarnessWith(t, op, WithDPoP())
		op.SetTamper(oidctest.Tamper{RotateDPoPNonce: true})
		if resp := h.login("/me"); resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("callback: %d, want 502", resp.StatusCode)
		}
		if n := op.Hits("/token"); n != 2 {
			t.Fatalf("%d token requests, want 2", n)
		}
	})
	t.Run("resource", func(t *testing.T) {
		t.Parallel()
		op := dpopProvider(t)
		h := newHarnessWith(t, op, WithDPoP())
		h.mustLogin("/me")
		op.SetTamper(oidctest.Tamper{RotateDPoPNonce: true})
		if resp := h.get("/api/call?url=" + url.QueryEscape(op.Issuer+"/userinfo")); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("Client to userinfo: %d, want the second 401", resp.StatusCode)
		}
		if n := op.Hits("/userinfo"); n != 2 {
			t.Fatalf("%d userinfo requests, want 2", n)
		}
	})
}

// proofRecorder is a resource server that records the requests it gets
// and refuses those whose index is in refuse with use_dpop_nonce.
type proofRecorder struct {
	mu     sync.Mutex
	refuse map[int]string // request index -> the nonce it demands
	proofs []string
	auth   []string
	bodies []string
}

func (p *proofRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.proofs)
	p.proofs = append(p.proofs, r.Header.Get("DPoP"))
	p.auth = append(p.auth, r.Header.Get("Authorization"))
	p.bodies = append(p.bodies, string(b))
	if nonce, ok := p.refuse[n]; ok {
		w.Header().Set("DPoP-Nonce", nonce)
		w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.Write([]byte("ok"))
}

// serveLoggedIn serves handler behind Require on another loopback port;
// the browser's cookies (which ignore ports) reach it.
func (h *harness) serveLoggedIn(handler http.HandlerFunc) string {
	srv := httptest.NewServer(h.auth.LoadAndSave(h.auth.Require(handler)))
	h.t.Cleanup(srv.Close)
	return srv.URL
}

// proofClaims parses a proof, checking its header: typ dpop+jwt, a public
// jwk (no private member) that verifies it, alg ES256.
func proofClaims(t *testing.T, proof string) map[string]any {
	t.Helper()
	jws, err := jose.ParseSignedCompact(proof, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("proof: %v", err)
	}
	hd := jws.Signatures[0].Protected
	if hd.ExtraHeaders["typ"] != "dpop+jwt" || hd.JSONWebKey == nil || !hd.JSONWebKey.IsPublic() {
		t.Fatalf("proof header: typ %v, jwk %+v", hd.ExtraHeaders["typ"], hd.JSONWebKey)
	}
	seg, _ := base64.RawURLEncoding.DecodeString(strings.Split(proof, ".")[0])
	var raw struct {
		JWK map[string]any `json:"jwk"`
	}
	json.Unmarshal(seg, &raw)
	if _, private := raw.JWK["d"]; private || raw.JWK["kty"] != "EC" {
		t.Fatalf("the proof's jwk header is %v, want the public key alone", raw.JWK)
	}
	payload, err := jws.Verify(hd.JSONWebKey)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	json.Unmarshal(payload, &c)
	return c
}

// TestDPoPProofs: what Client sends to a resource server: Authorization:
// DPoP, a fresh proof per request (unique jti, htm, htu without query and
// fragment, ath, iat, the public key alone), the server's nonce after it
// asked (a retry with a replayable body, remembered for the next call),
// and no retry for a body that cannot be replayed.
func TestDPoPProofs(t *testing.T) {
	t.Parallel()
	op := dpopProvider(t)
	h := newHarnessWith(t, op, WithDPoP())
	rs := &proofRecorder{refuse: map[int]string{0: "n1", 3: "n2"}}
	resource := httptest.NewServer(rs)
	t.Cleanup(resource.Close)
	var status []int
	app := h.serveLoggedIn(func(w http.ResponseWriter, r *http.Request) {
		c := h.auth.Client(r)
		do := func(method string, body io.Reader) {
			req, _ := http.NewRequestWithContext(r.Context(), method, resource.URL+"/api/Items?q=1#frag", body)
			resp, err := c.Do(req)
			if err != nil {
				t.Errorf("Client: %v", err)
				return
			}
			resp.Body.Close()
			status = append(status, resp.StatusCode)
		}
		do(http.MethodPost, strings.NewReader("payload"))            // 0: refused for n1; 1: retried with it
		do(http.MethodGet, nil)                                      // 2: n1 remembered
		do(http.MethodPost, io.NopCloser(strings.NewReader("once"))) // 3: refused for n2; no GetBody: not retried
	})
	h.mustLogin("/me")
	if resp := h.get(app + "/"); resp.StatusCode != http.StatusOK {
		t.Fatalf("app: %d", resp.StatusCode)
	}
	at := stored(t, h).AccessToken
	if len(status) != 3 || status[0] != http.StatusOK || status[1] != http.StatusOK || status[2] != http.StatusUnauthorized {
		t.Fatalf("statuses %v, want [200 200 401]", status)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if len(rs.proofs) != 4 {
		t.Fatalf("%d requests reached the resource, want 4", len(rs.proofs))
	}
	d := sha256.Sum256([]byte(at))
	ath := base64.RawURLEncoding.EncodeToString(d[:])
	wantMethod := []string{"POST", "POST", "GET", "POST"}
	wantNonce := []any{nil, "n1", "n1", "n1"}
	wantBody := []string{"payload", "payload", "", "once"}
	jtis := map[any]bool{}
	for i, proof := range rs.proofs {
		c := proofClaims(t, proof)
		if rs.auth[i] != "DPoP "+at || rs.bodies[i] != wantBody[i] {
			t.Fatalf("request %d: Authorization %q, body %q", i, rs.auth[i], rs.bodies[i])
		}
		if c["htm"] != wantMethod[i] || c["htu"] != resource.URL+"/api/Items" || c["ath"] != ath || c["nonce"] != wantNonce[i] {
			t.Fatalf("proof %d: %v; want htm %s, htu without query, ath %s, nonce %v", i, c, wantMethod[i], ath, wantNonce[i])
		}
		if iat, _ := c["iat"].(float64); iat == 0 || jtis[c["jti"]] || c["jti"] == nil {
			t.Fatalf("proof %d: iat %v, jti %v (seen before: %v)", i, c["iat"], c["jti"], jtis[c["jti"]])
		}
		jtis[c["jti"]] = true
	}
}
