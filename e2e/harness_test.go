//go:build linux

package e2e

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestHarness proves the test bench itself, without the example app: the
// provider runs with the configuration the other tests rely on, and the
// browser gets through its login and consent pages to a throwaway relying
// party written here. When this test fails, the other failures are not the
// app's.
func TestHarness(t *testing.T) {
	t.Parallel()
	p := needProvider(t)
	s := p.slot(t, "harness")
	rp := startMiniRP(t, p, s)
	b := newTab(t)

	b.navigate(rp.origin + "/start")
	f := &flow{user: "harness-user", done: onOrigin(rp.origin), shotLogin: "login-page"}
	st := b.drive(f, 30*time.Second)
	if !f.sawLogin {
		t.Errorf("the provider did not show its login page")
	}
	if !strings.HasPrefix(st.URL, rp.origin+"/callback") {
		t.Fatalf("browser ended on %s, want the RP's /callback:\n%s", st.URL, st.Text)
	}
	got := b.pageJSON()
	if got["error"] != nil {
		t.Fatalf("mini RP: %v", got["error"])
	}

	tok := rp.lastTokens()
	claims := tok.claims
	if claims["sub"] != "harness-user" || claims["iss"] != p.issuer || claims["aud"] != s.clientID() {
		t.Errorf("id_token claims: sub %v iss %v aud %v", claims["sub"], claims["iss"], claims["aud"])
	}
	if claims["name"] != "E2E harness-user" || claims["email"] != "harness-user@example.test" {
		t.Errorf("id_token lacks the profile and email claims (conformIdTokenClaims false): %v", claims)
	}
	if claims["sid"] == nil {
		t.Errorf("id_token has no sid (backchannel_logout_session_required): %v", claims)
	}
	if tok.RefreshToken == "" {
		t.Fatalf("no refresh token issued")
	}
	if want := int(accessTokenTTL() / time.Second); tok.ExpiresIn != want {
		t.Errorf("expires_in %d, want %d", tok.ExpiresIn, want)
	}
	reqs := p.tokenRequests(s.clientID())
	if len(reqs) == 0 || reqs[0].Auth != authBasic || !reqs[0].CodeVerifier {
		t.Errorf("the provider did not record a client_secret_basic token request with PKCE: %v", reqs)
	}

	// userinfo with the access token.
	ui := plainDo(t, "GET", rp.disc.UserinfoEndpoint, "", "", map[string]string{"Authorization": "Bearer " + tok.AccessToken})
	if ui.status != 200 || jsonObject(t, "userinfo", ui.body)["sub"] != "harness-user" {
		t.Errorf("userinfo: %d %s", ui.status, ui.body)
	}

	// Refresh, with rotation: a new refresh token, and the old one no more.
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
	r1 := rp.token(t, form)
	if r1.status != 200 {
		t.Fatalf("refresh: %d %s", r1.status, r1.body)
	}
	var refreshed tokenResponse
	json.Unmarshal([]byte(r1.body), &refreshed)
	if refreshed.RefreshToken == "" || refreshed.RefreshToken == tok.RefreshToken {
		t.Errorf("refresh token not rotated")
	}
	if r2 := rp.token(t, form); r2.status != 400 || !strings.Contains(r2.body, "invalid_grant") {
		t.Errorf("reuse of a rotated refresh token: %d %s, want 400 invalid_grant", r2.status, r2.body)
	}

	// Log in again (the reuse above revoked the grant), then end the session
	// at the provider: it must post a logout token to the RP on loopback.
	b.navigate(rp.origin + "/start")
	b.drive(&flow{user: "harness-user", done: onOrigin(rp.origin)}, 30*time.Second)
	sid := rp.lastTokens().claims["sid"]
	b.navigate(p.issuer + "/session/end")
	lf := &flow{}
	lf.done = func(st pageState) bool { return strings.Contains(st.URL, "/session/end/success") }
	b.drive(lf, 30*time.Second)
	if !lf.sawLogoutConfirm {
		t.Errorf("the provider did not ask to confirm the logout")
	}
	if e, ok := p.events.wait(10*time.Second, func(e event) bool {
		return e.ClientID == s.clientID() && strings.HasPrefix(e.Event, "backchannel.")
	}); !ok || e.Event != "backchannel.success" {
		t.Fatalf("back-channel logout to the RP: %v", e)
	}
	lt := rp.lastLogoutToken()
	if lt == nil {
		t.Fatal("the RP got no logout token")
	}
	if lt["sid"] != sid || lt["sub"] != "harness-user" || lt["events"] == nil {
		t.Errorf("logout token %v, want sid %v", lt, sid)
	}
	if t.Failed() {
		p.logClientEvents(t, s.clientID())
	}
}

type discovery struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	UserinfoEndpoint      string `json:"userinfo_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
	EndSessionEndpoint    string `json:"end_session_endpoint"`
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	ExpiresIn    int    `json:"expires_in"`
	claims       map[string]any
}

// miniRP is the smallest confidential client that completes a login:
// authorization code with PKCE and client_secret_basic, and a back-channel
// logout endpoint. It checks the ID token signature against the provider's
// keys.
type miniRP struct {
	origin string
	p      *oidcProvider
	s      *slot
	disc   discovery
	keys   map[string]*rsa.PublicKey

	mu      sync.Mutex
	pending map[string]string // state -> code_verifier
	tokens  []tokenResponse
	logouts []map[string]any
}

func startMiniRP(t *testing.T, p *oidcProvider, s *slot) *miniRP {
	rp := &miniRP{origin: s.origin(0), p: p, s: s, pending: map[string]string{}}
	if r := plainDo(t, "GET", p.issuer+"/.well-known/openid-configuration", "", "", nil); r.status != 200 {
		t.Fatalf("discovery: %d", r.status)
	} else if err := json.Unmarshal([]byte(r.body), &rp.disc); err != nil {
		t.Fatal(err)
	}
	rp.keys = fetchKeys(t, rp.disc.JWKSURI)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /start", rp.start)
	mux.HandleFunc("GET /callback", rp.callback)
	mux.HandleFunc("POST /backchannel-logout", rp.backchannel)
	l, err := net.Listen("tcp", "127.0.0.1:"+strings.TrimPrefix(rp.origin, "http://127.0.0.1:"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return rp
}

func (rp *miniRP) start(w http.ResponseWriter, r *http.Request) {
	state, verifier := randomHex(16), randomHex(32)
	sum := sha256.Sum256([]byte(verifier))
	rp.mu.Lock()
	rp.pending[state] = verifier
	rp.mu.Unlock()
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {rp.s.clientID()},
		"redirect_uri":          {rp.origin + "/callback"},
		"scope":                 {"openid profile email offline_access"},
		"state":                 {state},
		"nonce":                 {randomHex(16)},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	http.Redirect(w, r, rp.disc.AuthorizationEndpoint+"?"+q.Encode(), http.StatusFound)
}

func (rp *miniRP) callback(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	fail := func(msg string) {
		w.WriteHeader(400)
		json.NewEncoder(w).Encode(map[string]string{"error": msg})
	}
	q := r.URL.Query()
	rp.mu.Lock()
	verifier, ok := rp.pending[q.Get("state")]
	delete(rp.pending, q.Get("state"))
	rp.mu.Unlock()
	switch {
	case !ok:
		fail("unknown state")
		return
	case q.Get("iss") != rp.p.issuer:
		fail("iss parameter " + q.Get("iss"))
		return
	}
	resp := rp.exchange(url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {q.Get("code")},
		"redirect_uri":  {rp.origin + "/callback"},
		"code_verifier": {verifier},
	})
	if resp.status != 200 {
		fail("token: " + resp.body)
		return
	}
	var tok tokenResponse
	if err := json.Unmarshal([]byte(resp.body), &tok); err != nil {
		fail(err.Error())
		return
	}
	claims, err := verifyJWT(tok.IDToken, rp.keys)
	if err != nil {
		fail("id_token: " + err.Error())
		return
	}
	tok.claims = claims
	rp.mu.Lock()
	rp.tokens = append(rp.tokens, tok)
	rp.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]any{"claims": claims})
}

func (rp *miniRP) backchannel(w http.ResponseWriter, r *http.Request) {
	claims, err := verifyJWT(r.PostFormValue("logout_token"), rp.keys)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	rp.mu.Lock()
	rp.logouts = append(rp.logouts, claims)
	rp.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
}

func (rp *miniRP) exchange(form url.Values) plainResponse {
	req, _ := http.NewRequest("POST", rp.disc.TokenEndpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(rp.s.clientID()), url.QueryEscape(rp.s.secret))
	resp, err := plainClient.Do(req)
	if err != nil {
		return plainResponse{status: 599, body: err.Error()}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return plainResponse{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func (rp *miniRP) token(t *testing.T, form url.Values) plainResponse {
	t.Helper()
	return rp.exchange(form)
}

func (rp *miniRP) lastTokens() tokenResponse {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if len(rp.tokens) == 0 {
		return tokenResponse{}
	}
	return rp.tokens[len(rp.tokens)-1]
}

func (rp *miniRP) lastLogoutToken() map[string]any {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if len(rp.logouts) == 0 {
		return nil
	}
	return rp.logouts[len(rp.logouts)-1]
}

// fetchKeys reads the provider's RSA signing keys.
func fetchKeys(t *testing.T, jwksURI string) map[string]*rsa.PublicKey {
	r := plainDo(t, "GET", jwksURI, "", "", nil)
	var set struct {
		Keys []struct {
			Kty, Kid, Alg, N, E string
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(r.body), &set); err != nil {
		t.Fatalf("jwks: %v", err)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(k.N)
		e, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if err1 != nil || err2 != nil {
			t.Fatalf("jwks: bad key %s", k.Kid)
		}
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	if len(keys) == 0 || !strings.HasPrefix(set.Keys[0].Kid, "e2e-") {
		t.Fatalf("jwks: want a generated RS256 key, got %s", r.body)
	}
	return keys
}

// verifyJWT checks an RS256 signature and returns the payload.
func verifyJWT(jwt string, keys map[string]*rsa.PublicKey) (map[string]any, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT")
	}
	var header struct{ Alg, Kid string }
	h, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if err := json.Unmarshal(h, &header); err != nil {
		return nil, err
	}
	key := keys[header.Kid]
	if header.Alg != "RS256" || key == nil {
		return nil, errors.New("unexpected alg or kid: " + string(h))
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig); err != nil {
		return nil, err
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	return claims, json.Unmarshal(payload, &claims)
}

// TestHarnessStores proves the store servers the session tests use: Redis
// keeps its data across a crash and a restart on the same port, and
// PostgreSQL runs as a non-root user and takes the scs sessions table.
func TestHarnessStores(t *testing.T) {
	t.Parallel()
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		r := startRedis(t)
		if out, err := r.cli("SET", "k", "v"); err != nil {
			t.Fatalf("SET: %v %s", err, out)
		}
		r.stop()
		if _, err := r.cli("PING"); err == nil {
			t.Fatal("redis still answers after stop")
		}
		r.start()
		if out, err := r.cli("GET", "k"); err != nil || strings.TrimSpace(out) != "v" {
			t.Fatalf("after restart GET k = %q, %v", out, err)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		pg := startPostgres(t)
		out, err := pg.psql("oidcauth", `CREATE TABLE sessions (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL);
CREATE INDEX sessions_expiry_idx ON sessions (expiry);
INSERT INTO sessions VALUES ('t', '\x00', now() + interval '1 hour');
SELECT count(*) FROM sessions;`)
		if err != nil || out != "1" {
			t.Fatalf("psql: %q, %v", out, err)
		}
	})
}
