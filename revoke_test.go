package oidcauth

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidctest"
)

func TestLogoutRevokesTokens(t *testing.T) {
	tests := []struct {
		method AuthMethod
		client oidctest.Client
		opts   []Option
	}{
		{AuthMethodBasic, oidctest.Client{ID: "conf:basic", Secret: "s+cret=1&x"}, []Option{WithClientID("conf:basic"), WithClientSecret("s+cret=1&x")}},
		{AuthMethodPost, oidctest.Client{ID: "conf-post", Secret: "secret", AuthMethod: "client_secret_post"},
			[]Option{WithClientID("conf-post"), WithClientAuth(AuthMethodPost)}},
		{AuthMethodNone, oidctest.Client{ID: "public"}, []Option{WithClientID("public"), WithClientSecret("")}},
	}
	for _, tt := range tests {
		t.Run(string(tt.method), func(t *testing.T) {
			t.Parallel()
			opts := append(tt.opts, WithScopes("openid", "offline_access"))
			h := newHarness(t, oidctest.Config{Clients: []oidctest.Client{tt.client}}, opts...)
			h.mustLogin("/me")
			_, access, refresh := h.sessionTokens()
			if access == "" || refresh == "" {
				t.Fatal("no tokens to revoke")
			}
			if resp := h.logout(); resp.StatusCode != http.StatusFound {
				t.Fatalf("logout: %d", resp.StatusCode)
			}
			h.mustBeLoggedOut("after logout")
			reqs := h.op.RevocationRequests()
			if len(reqs) != 2 {
				t.Fatalf("revocation requests: %+v, want 2", reqs)
			}
			hints := map[string]string{}
			for _, r := range reqs {
				if r.ClientAuth != string(tt.method) || r.ClientID != tt.client.ID || r.Status != http.StatusOK {
					t.Errorf("revocation request %+v, want client %s authenticated with %s", r, tt.client.ID, tt.method)
				}
				hints[r.TokenTypeHint] = r.Token
			}
			if hints["refresh_token"] != refresh || hints["access_token"] != access {
				t.Errorf("revoked %v, want the refresh and the access token with their hints", hints)
			}
			if revoked := h.op.Revoked(); !slices.Contains(revoked, refresh) || !slices.Contains(revoked, access) {
				t.Errorf("the provider revoked %d tokens, not both", len(revoked))
			}
		})
	}
}

func TestLogoutWithFailingRevocation(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":"temporarily_unavailable"}`))
	}))
	t.Cleanup(failing.Close)
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body, so the server notices when the client hangs up.
		io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	t.Cleanup(hanging.Close)

	tests := []struct {
		name     string
		endpoint string
		opts     []Option
	}{
		{"connection refused", closed.URL + "/revoke", nil},
		{"503", failing.URL + "/revoke", nil},
		{"no answer within the timeout", hanging.URL + "/revoke", nil},
		// Only the timeout of WithTimeout bounds the call.
		{"no answer, HTTP client without timeout", hanging.URL + "/revoke", []Option{WithHTTPClient(&http.Client{})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			op := newProvider(t, oidctest.Config{})
			op.SetTamper(oidctest.Tamper{Metadata: func(d map[string]any) { d["revocation_endpoint"] = tt.endpoint }})
			timeout := 500 * time.Millisecond
			h := newHarnessWith(t, op, append(tt.opts, WithScopes("openid", "offline_access"), WithTimeout(timeout))...)
			h.mustLogin("/me")
			idt, access, refresh := h.sessionTokens()
			start := time.Now()
			resp := h.logout()
			if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), op.Issuer+"/end_session") {
				t.Fatalf("logout: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
			}
			if d := time.Since(start); d > timeout+time.Second {
				t.Errorf("logout took %v, more than the timeout", d)
			}
			h.mustBeLoggedOut("after logout")
			logs := h.logs.String()
			if !strings.Contains(logs, "token revocation failed") {
				t.Errorf("the failure is not logged:\n%s", logs)
			}
			for _, tok := range []string{idt, access, refresh} {
				if strings.Contains(logs, tok) {
					t.Errorf("the logs hold a token:\n%s", logs)
				}
			}
		})
	}
}

func TestLogoutWithoutRevocationEndpoint(t *testing.T) {
	t.Parallel()
	op := newProvider(t, oidctest.Config{})
	op.SetTamper(oidctest.Tamper{Metadata: func(d map[string]any) { delete(d, "revocation_endpoint") }})
	h := newHarnessWith(t, op, WithScopes("openid", "offline_access"))
	h.mustLogin("/me")
	if resp := h.logout(); resp.StatusCode != http.StatusFound {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if n := op.Hits("/revoke"); n != 0 {
		t.Errorf("%d revocation requests without a revocation endpoint", n)
	}
}
