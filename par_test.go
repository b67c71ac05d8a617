package oidcauth

import (
	"context"
	"crypto/elliptic"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidctest"
)

// TestPARLogin pushes everything the authorization request carries, with
// the client's authentication, and sends the browser to the authorization
// endpoint with only client_id and the request_uri; a second login pushes
// again and gets a new request_uri.
func TestPARLogin(t *testing.T) {
	key := ecKey(t, elliptic.P256())
	tests := []struct {
		name, auth string
		h          func(t *testing.T) *harness
	}{
		{"client_secret_basic", "client_secret_basic", func(t *testing.T) *harness {
			return newHarness(t, oidctest.Config{}, WithPAR(true), WithAuthParam("login_hint", "alice"))
		}},
		{"private_key_jwt", "private_key_jwt", func(t *testing.T) *harness {
			return keyHarness(t, key, oidctest.Config{}, WithPAR(true), WithAuthParam("login_hint", "alice"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.h(t)
			u := h.startLogin("/me")
			q := u.Query()
			if keys := slices.Sorted(func(yield func(string) bool) {
				for k := range q {
					if !yield(k) {
						return
					}
				}
			}); !slices.Equal(keys, []string{"client_id", "request_uri"}) || q.Get("client_id") != "client" {
				t.Fatalf("authorize URL %s: want only client_id and request_uri", u)
			}
			pushes := h.op.PushedRequests()
			if len(pushes) != 1 || pushes[0].Status != http.StatusCreated || pushes[0].ClientAuth != tt.auth {
				t.Fatalf("pushes %+v, want one authenticated with %s", pushes, tt.auth)
			}
			p := pushes[0].Params
			for _, name := range []string{"state", "nonce", "code_challenge", "redirect_uri"} {
				if p.Get(name) == "" {
					t.Errorf("the push has no %s: %v", name, p)
				}
			}
			if p.Get("response_type") != "code" || p.Get("code_challenge_method") != "S256" ||
				p.Get("scope") != "openid profile email" || p.Get("login_hint") != "alice" {
				t.Errorf("the push's parameters: %v", p)
			}
			if q.Get("request_uri") != pushes[0].RequestURI {
				t.Errorf("request_uri %q, want the pushed one", q.Get("request_uri"))
			}
			resp := h.get(h.authorize(u))
			if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/me" {
				t.Fatalf("callback: %d %s", resp.StatusCode, body(resp))
			}
			if h.apiStatus() != http.StatusOK {
				t.Fatal("not logged in after the pushed login")
			}
			second := h.startLogin("/login")
			if second.Query().Get("request_uri") == q.Get("request_uri") || len(h.op.PushedRequests()) != 2 {
				t.Fatalf("a second login reused the request_uri or did not push")
			}
		})
	}
}

// TestPARRequired: discovery's require_pushed_authorization_requests turns
// pushes on; WithPAR(false) or a missing endpoint then fails New.
func TestPARRequired(t *testing.T) {
	h := newHarness(t, oidctest.Config{RequirePAR: true})
	h.mustLogin("/me")
	if n := len(h.op.PushedRequests()); n != 1 {
		t.Fatalf("%d pushes, want 1", n)
	}

	base := []Option{WithClientID("client"), WithClientSecret("secret"), WithRedirectURL("http://127.0.0.1/callback")}
	noEndpoint := func(d map[string]any) { delete(d, "pushed_authorization_request_endpoint") }
	tests := []struct {
		name     string
		require  bool
		edit     func(map[string]any)
		opt      Option
		kind     error
		contains string
	}{
		{"WithPAR false, required", true, nil, WithPAR(false), ErrInvalidOption, "WithPAR"},
		{"required, no endpoint", true, noEndpoint, nil, ErrDiscovery, "pushed_authorization_request_endpoint"},
		{"WithPAR(true), no endpoint", false, noEndpoint, WithPAR(true), ErrInvalidOption, "WithPAR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := newProvider(t, oidctest.Config{RequirePAR: tt.require})
			op.SetTamper(oidctest.Tamper{Metadata: tt.edit})
			opts := base
			if tt.opt != nil {
				opts = append(slices.Clone(base), tt.opt)
			}
			_, err := New(context.Background(), op.Issuer, opts...)
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.contains) {
				t.Fatalf("New: %v; want %v naming %s", err, tt.kind, tt.contains)
			}
		})
	}
	op := newProvider(t, oidctest.Config{})
	a, err := New(context.Background(), op.Issuer, base...)
	if err != nil || a.primary().par != nil {
		t.Fatalf("not required, no option: %v, par %v; want no pushes", err, a.primary().par)
	}
}

// TestPARFailures: a push that fails (network, an error status, an answer
// that is not JSON, no request_uri, an absurd expires_in) fails the login
// with the safe error page, or JSON for an API, and logs why without a
// secret; no login cookie is left behind.
func TestPARFailures(t *testing.T) {
	tests := []struct {
		name   string
		tamper oidctest.Tamper
		status int
		log    string
	}{
		{"500", oidctest.Tamper{PARStatus: 500, PARBody: `{"request_uri":"urn:x:1","expires_in":60}`}, 502, "answered 500"},
		{"400 with an error", oidctest.Tamper{PARStatus: 400, PARBody: `{"error":"invalid_request","error_description":"no"}`}, 502, "invalid_request"},
		{"not JSON", oidctest.Tamper{PARStatus: 201, PARBody: `<html>`}, 502, "not JSON"},
		{"no request_uri", oidctest.Tamper{PARStatus: 201, PARBody: `{"expires_in":60}`}, 502, "no request_uri"},
		{"request_uri not a URI", oidctest.Tamper{PARStatus: 201, PARBody: `{"request_uri":"no uri","expires_in":60}`}, 502, "request_uri has characters"},
		{"request_uri relative", oidctest.Tamper{PARStatus: 201, PARBody: `{"request_uri":"abc","expires_in":60}`}, 502, "not an absolute URI"},
		{"no expires_in", oidctest.Tamper{PARStatus: 201, PARBody: `{"request_uri":"urn:x:1"}`}, 502, "expires_in"},
		{"expires_in 0", oidctest.Tamper{PARStatus: 201, PARBody: `{"request_uri":"urn:x:1","expires_in":0}`}, 502, "expires_in"},
		{"expires_in absurd", oidctest.Tamper{PARStatus: 201, PARBody: `{"request_uri":"urn:x:1","expires_in":86400000}`}, 502, "expires_in"},
		{"too slow", oidctest.Tamper{PARDelay: 5 * time.Second}, 502, "deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A client without its own timeout: the push's bound is oidcauth's.
			h := newHarness(t, oidctest.Config{}, WithPAR(true), WithTimeout(300*time.Millisecond), WithHTTPClient(&http.Client{}))
			h.op.SetTamper(tt.tamper)
			resp := h.get("/login")
			if resp.StatusCode != tt.status || !strings.Contains(body(resp), "could not be started") {
				t.Fatalf("GET /login: %d %s; want %d and the error page", resp.StatusCode, body(resp), tt.status)
			}
			if len(h.loginCookies()) != 0 {
				t.Error("a failed push left a login cookie")
			}
			if !strings.Contains(h.logs.String(), tt.log) || !strings.Contains(h.logs.String(), "pushed authorization") {
				t.Errorf("the log does not say why (%s):\n%s", tt.log, h.logs.String())
			}
			noSecretsLogged(t, h, "secret")
			api := h.do(http.MethodGet, "/api/me", http.Header{"Accept": {"application/json"}})
			if api.StatusCode != http.StatusUnauthorized {
				t.Errorf("API: %d", api.StatusCode)
			}
			js := h.do(http.MethodGet, "/login", http.Header{"Accept": {"application/json"}})
			if js.StatusCode != tt.status || js.Header.Get("Content-Type") != "application/json" {
				t.Errorf("GET /login as JSON: %d %s", js.StatusCode, js.Header.Get("Content-Type"))
			}
		})
	}
	t.Run("provider down", func(t *testing.T) {
		op := newProvider(t, oidctest.Config{})
		h := newHarnessWith(t, op, WithPAR(true), WithEndpoints(Endpoints{
			Authorize: op.Issuer + "/authorize", Token: op.Issuer + "/token", JWKS: op.Issuer + "/jwks",
			PushedAuthorization: "http://127.0.0.1:1/par",
		}))
		if resp := h.get("/login"); resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("GET /login: %d, want 502", resp.StatusCode)
		}
		if !strings.Contains(h.logs.String(), "127.0.0.1:1/par") {
			t.Errorf("the log does not name the endpoint:\n%s", h.logs.String())
		}
	})
}

// TestPARSlots: when every push slot stays taken for the whole timeout, a
// login start answers 503 instead of adding a request to the provider.
func TestPARSlots(t *testing.T) {
	h := newHarness(t, oidctest.Config{}, WithPAR(true), WithTimeout(100*time.Millisecond))
	for range cap(h.auth.primary().par.slots) {
		h.auth.primary().par.slots <- struct{}{}
	}
	resp := h.get("/login")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("GET /login with no free slot: %d, want 503", resp.StatusCode)
	}
	if n := len(h.op.PushedRequests()); n != 0 {
		t.Fatalf("%d pushes, want none", n)
	}
}
