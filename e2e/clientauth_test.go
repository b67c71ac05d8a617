//go:build linux

package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// private_key_jwt (RFC 7523) and pushed authorization requests (RFC 9126)
// against oidc-provider, through the browser.

const authPrivateKeyJWT = "private_key_jwt"

// clientAuthSlot gives the slots of this file their keys and metadata:
// "pkjwt" registers its public key in jwks (RSA), "par" must push its
// authorization requests, "pkjwt-par" both, with its key (EC P-256) served
// by the app's GET /jwks as its jwks_uri. "fapi2" is "pkjwt-par" with
// FAPI 2.0's algorithms: ES256 client assertions and id_tokens (and DPoP,
// dpopSlots).
func clientAuthSlot(s *slot) error {
	var err error
	switch s.name {
	case "pkjwt":
		var k *rsa.PrivateKey
		if k, err = rsa.GenerateKey(rand.Reader, 2048); err == nil {
			s.key, s.secret = k, ""
			jwk := rsaJWK(&k.PublicKey)
			jwk["kid"] = "e2e-" + s.name // OIDC_CLIENT_KEY_ID (keyEnv)
			s.extra = map[string]any{"jwks": map[string]any{"keys": []any{jwk}}}
		}
	case "par":
		s.extra = map[string]any{"require_pushed_authorization_requests": true}
	case "pkjwt-par", "fapi2":
		var k *ecdsa.PrivateKey
		if k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err == nil {
			s.key, s.secret = k, ""
			s.extra = map[string]any{"jwks_uri": s.origin(0) + "/jwks", "require_pushed_authorization_requests": true}
		}
	}
	if s.name == "fapi2" && err == nil {
		s.extra["token_endpoint_auth_signing_alg"] = "ES256"
		s.extra["id_token_signed_response_alg"] = "ES256"
	}
	return err
}

func b64(n *big.Int) string { return base64.RawURLEncoding.EncodeToString(n.Bytes()) }

func rsaJWK(k *rsa.PublicKey) map[string]any {
	return map[string]any{"kty": "RSA", "n": b64(k.N), "e": b64(big.NewInt(int64(k.E))), "use": "sig"}
}

// keyEnv writes the slot's key to a PKCS#8 PEM file for the app.
func keyEnv(t *testing.T, s *slot) []string {
	t.Helper()
	if s.key == nil {
		return nil
	}
	der, err := x509.MarshalPKCS8PrivateKey(s.key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "client-key.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"OIDC_CLIENT_KEY_FILE=" + path}
	if s.name == "pkjwt" {
		env = append(env, "OIDC_CLIENT_KEY_ID=e2e-"+s.name) // the other key goes by its thumbprint
	}
	return env
}

// TestClientAuthentication logs in through the browser with a
// private_key_jwt client, a client the provider requires to push its
// requests, and one with both (its key published at the app's GET /jwks),
// then calls userinfo, waits out the access token, refreshes, and logs out:
// every call that authenticates the client uses its method.
func TestClientAuthentication(t *testing.T) {
	t.Parallel()
	p := needApp(t)
	for _, name := range []string{"pkjwt", "par", "pkjwt-par"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := p.slot(t, name)
			env := keyEnv(t, s)
			pushes := strings.HasSuffix(name, "par")
			if pushes {
				env = append(env, "OIDC_PAR=1")
			}
			a := startApp(t, p, appConfig{slot: s, env: env})
			b := newTab(t)
			defer func() {
				if t.Failed() {
					p.logClientEvents(t, s.clientID())
				}
			}()

			if pushes {
				checkPushedLogin(t, a)
			}
			if s.key != nil {
				checkClientJWKS(t, a)
			}

			user := "kim-" + name
			if st := login(t, p, b, a.origin+"/me", user, ""); st.URL != a.origin+"/me" {
				t.Fatalf("after login the browser is on %s:\n%s", st.URL, st.Text)
			}
			issued := codeGrantTime(t, p, s)
			userinfo(t, b, a.origin, user, "right after login")
			sleepPastExpiry(issued)
			b.navigate(a.origin + "/")
			userinfo(t, b, a.origin, user, "after the access token expired")
			if n := len(p.grants(s.clientID(), "refresh_token")); n != 1 {
				t.Errorf("%d refresh grants, want 1", n)
			}

			st, f := logoutFrom(t, b, a.origin)
			if !f.sawLogoutConfirm || !strings.HasPrefix(st.URL, a.origin+"/") {
				t.Errorf("logout ended on %s (confirmation seen: %v)", st.URL, f.sawLogoutConfirm)
			}
			if r := b.open(a.origin + "/api/me"); r.Status != 401 {
				t.Errorf("GET /api/me after logout: %d", r.Status)
			}

			checkClientAuth(t, p, s, pushes)
		})
	}
}

// checkPushedLogin checks that the app's /login sends the browser to the
// authorize endpoint with only client_id and a request_uri: the request was
// pushed.
func checkPushedLogin(t *testing.T, a *app) {
	t.Helper()
	r := a.get(t, "/login")
	loc, err := url.Parse(r.header.Get("Location"))
	if r.status != 302 || err != nil {
		t.Fatalf("GET /login: %d %q", r.status, r.header.Get("Location"))
	}
	q := loc.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"client_id", "request_uri"}) || !strings.HasPrefix(q.Get("request_uri"), "urn:ietf:params:oauth:request_uri:") {
		t.Errorf("authorize URL %s: want only client_id and a request_uri", loc)
	}
}

// checkClientJWKS checks that the app's GET /jwks serves its public key,
// never the private one.
func checkClientJWKS(t *testing.T, a *app) {
	t.Helper()
	r := a.get(t, "/jwks")
	if r.status != 200 || !strings.Contains(r.body, `"kid"`) || strings.Contains(r.body, `"d"`) {
		t.Errorf("GET /jwks: %d %s", r.status, r.body)
	}
}

// checkClientAuth checks from the provider's events that every request of
// the slot's client but userinfo authenticated it with its method and
// succeeded (for a DPoP client, but a refusal that asks for a DPoP nonce),
// that the token and revocation endpoints saw it, that it pushed its
// authorization requests when pushes (and not otherwise), and that the
// provider logged no error for it (but the DPoP nonce refusal).
func checkClientAuth(t *testing.T, p *oidcProvider, s *slot, pushes bool) {
	t.Helper()
	want := s.auth
	var seen []string
	for _, e := range p.events.filter(func(e event) bool { return e.Event == "request" && e.ClientID == s.clientID() && e.Path != "/me" }) {
		seen = append(seen, e.Path)
		nonce := dpopSlots[s.name] && e.Status == 400 && e.Error == "use_dpop_nonce"
		if e.Auth != want || (e.Status >= 400 && !nonce) {
			t.Errorf("%s %s: auth %s, status %d; want %s", e.Method, e.Path, e.Auth, e.Status, want)
		}
	}
	for _, path := range []string{"/token", "/token/revocation"} {
		if !slices.Contains(seen, path) {
			t.Errorf("no authenticated request to %s (saw %v)", path, seen)
		}
	}
	if pushed := slices.Contains(seen, "/request"); pushed != pushes {
		t.Errorf("pushed authorization requests: %v, want %v", pushed, pushes)
	}
	if errs := p.events.filter(func(e event) bool {
		nonce := dpopSlots[s.name] && e.Event == "grant.error" && e.Error == "use_dpop_nonce"
		return e.ClientID == s.clientID() && strings.HasSuffix(e.Event, ".error") && !nonce
	}); len(errs) > 0 {
		t.Errorf("errors at the provider: %v", errs)
	}
}
