package oidcauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidctest"
)

// policyRoutes are the harness's routes behind the policy middleware.
func (h *harness) policyRoutes(mux *http.ServeMux) {
	claims := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := RawClaimsFromContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		w.Write(raw)
	})
	a := h.auth
	mux.Handle("GET /mfa", a.RequireACR("urn:mfa", "urn:hwk")(claims))
	mux.Handle("GET /api/mfa", a.Require(a.RequireACR("urn:mfa", "urn:hwk")(claims)))
	mux.Handle("GET /recent", a.RequireFreshLogin(5*time.Minute)(claims))
	mux.Handle("GET /api/recent", a.RequireFreshLogin(5*time.Minute)(claims))
	mux.Handle("GET /admin", a.RequireClaim("groups", "admins")(claims))
	mux.Handle("GET /api/admin", a.RequireClaim("groups", "admins")(claims))
	mux.Handle("GET /verified", a.RequireCheck("email_verified", func(r *http.Request) bool {
		c, _ := ClaimsFromContext(r.Context())
		return bool(c.EmailVerified)
	})(claims))
	mux.Handle("GET /visited", a.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, a.SessionManager().GetBool(r.Context(), "visited"))
	})))
	// /resource and /api/resource call the URL in the url parameter with
	// Client, as the example's routes of the same names.
	resource := func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, r.URL.Query().Get("url"), nil)
		resp, err := a.Client(r).Do(req)
		if err != nil {
			a.HandleErrorReturningTo(w, r, err, "/resource?url="+url.QueryEscape(r.URL.Query().Get("url")))
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}
	mux.Handle("GET /resource", a.Require(http.HandlerFunc(resource)))
	mux.Handle("GET /api/resource", a.Require(http.HandlerFunc(resource)))
}

var apiHeader = http.Header{"Accept": {"application/json"}}

// sessionRecord returns the browser's session cookie value and its record in
// the Store, to show that a refused login changed nothing.
func (h *harness) sessionRecord() (string, []byte) {
	h.t.Helper()
	c := h.sessionCookie()
	if c == nil {
		h.t.Fatal("no session cookie")
	}
	b, found, err := h.auth.sm.Store.Find(h.auth.sessionStoreKey(c.Value))
	if err != nil || !found {
		h.t.Fatalf("session record: found %v, %v", found, err)
	}
	return c.Value, b
}

// TestStepUpACR: a session without the route's acr is sent to the provider
// with acr_values, and the login that comes back with one of them is let
// through.
func TestStepUpACR(t *testing.T) {
	h := newHarness(t, oidctest.Config{})
	h.mustLogin("/me")
	if acr := h.claims()["acr"]; acr != nil {
		t.Fatalf("first login: acr %v, want none", acr)
	}
	u := h.startLogin("/mfa")
	if got := u.Query().Get("acr_values"); got != "urn:mfa urn:hwk" {
		t.Fatalf("step-up acr_values %q", got)
	}
	resp := h.get(h.authorize(u))
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/mfa" {
		t.Fatalf("step-up callback: %d %q %s", resp.StatusCode, resp.Header.Get("Location"), body(resp))
	}
	if resp := h.get("/mfa"); resp.StatusCode != http.StatusOK || !strings.Contains(body(resp), `"acr":"urn:mfa"`) {
		t.Fatalf("GET /mfa after the step-up: %d %s", resp.StatusCode, body(resp))
	}
}

// TestStepUpRefusedKeepsSession: a step-up login that comes back without
// what it asked for is refused with 403, and the session stays exactly as
// it was: same cookie, same record, same claims.
func TestStepUpRefusedKeepsSession(t *testing.T) {
	tests := []struct {
		name  string
		path  string
		authn oidctest.Authentication
		edit  func(map[string]any)
	}{
		{name: "weaker acr", path: "/mfa", authn: oidctest.Authentication{ACR: "urn:pwd"}},
		{name: "auth_time still too old", path: "/recent", authn: oidctest.Authentication{AuthTime: time.Now().Add(-time.Hour)}},
		{name: "no auth_time", path: "/recent", authn: oidctest.Authentication{AuthTime: time.Now().Add(-time.Hour)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var last error
			h := newHarness(t, oidctest.Config{}, recordErrors(&last))
			h.op.SetAuthentication(tt.authn)
			h.mustLogin("/me")
			h.get("/visit")
			u := h.startLogin(tt.path)
			if tt.name == "no auth_time" {
				h.op.SetTamper(oidctest.Tamper{IDTokenClaims: func(c map[string]any) { delete(c, "auth_time") }})
			}
			cookie, record := h.sessionRecord()
			resp := h.get(h.authorize(u))
			if resp.StatusCode != http.StatusForbidden || !errors.Is(last, ErrInsufficientAuthentication) {
				t.Fatalf("refused step-up: %d %v", resp.StatusCode, last)
			}
			cookie2, record2 := h.sessionRecord()
			if cookie2 != cookie || !bytes.Equal(record, record2) {
				t.Fatal("the refused login changed the session")
			}
			if got := body(h.get("/visited")); got != "true" {
				t.Fatalf("GET /visited after the refused login: %q", got)
			}
			// The route still wants its step-up.
			h.startLogin(tt.path)
		})
	}
}

// TestStepUpFreshLogin: a session older than the route's max age is sent
// to the provider with max_age; a fresh login is let through.
func TestStepUpFreshLogin(t *testing.T) {
	h := newHarness(t, oidctest.Config{})
	h.op.SetAuthentication(oidctest.Authentication{AuthTime: time.Now().Add(-time.Hour)})
	h.mustLogin("/me")
	u := h.startLogin("/recent")
	if got := u.Query().Get("max_age"); got != "300" {
		t.Fatalf("step-up max_age %q", got)
	}
	h.op.SetAuthentication(oidctest.Authentication{})
	resp := h.get(h.authorize(u))
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/recent" {
		t.Fatalf("step-up callback: %d %s", resp.StatusCode, body(resp))
	}
	if resp := h.get("/recent"); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /recent after the step-up: %d", resp.StatusCode)
	}
}

// TestStepUpAPI: an API request of a session without what the route needs
// gets 401 with the RFC 9470 challenge, never a redirect.
func TestStepUpAPI(t *testing.T) {
	h := newHarness(t, oidctest.Config{})
	h.op.SetAuthentication(oidctest.Authentication{AuthTime: time.Now().Add(-time.Hour)})
	h.mustLogin("/me")
	for path, want := range map[string]string{
		"/api/mfa":    `acr_values="urn:mfa urn:hwk"`,
		"/api/recent": `max_age=300`,
	} {
		resp := h.do(http.MethodGet, path, apiHeader)
		wa := resp.Header.Get("WWW-Authenticate")
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(wa, `error="insufficient_user_authentication"`) || !strings.Contains(wa, want) {
			t.Errorf("GET %s: %d %q", path, resp.StatusCode, wa)
		}
		if !strings.Contains(body(resp), `"error":"insufficient_user_authentication"`) {
			t.Errorf("GET %s: body %s", path, body(resp))
		}
	}
}

// TestStepUpAnotherUser: a step-up answered by another account becomes a
// new session with nothing of the earlier one's; by the same user, the
// session keeps the application's data.
func TestStepUpAnotherUser(t *testing.T) {
	for _, other := range []bool{false, true} {
		t.Run(fmt.Sprint("another user ", other), func(t *testing.T) {
			h := newHarness(t, oidctest.Config{})
			h.mustLogin("/me")
			h.get("/visit")
			if other {
				h.op.SetUser(oidctest.User{Subject: "bob"})
			}
			h.mustLogin("/mfa")
			sub := h.claims()["sub"]
			visited := body(h.get("/visited"))
			if other && (sub != "bob" || visited != "false") {
				t.Fatalf("another user's step-up: sub %v, visited %s", sub, visited)
			}
			if !other && (sub != "alice" || visited != "true") {
				t.Fatalf("the same user's step-up: sub %v, visited %s", sub, visited)
			}
		})
	}
}

// TestRequireClaim: groups as an array or a space-separated string; a user
// without the value gets 403 and the log names the claim, not its value.
func TestRequireClaim(t *testing.T) {
	tests := []struct {
		groups any
		ok     bool
	}{
		{[]any{"users", "admins"}, true},
		{"users admins", true},
		{"admins", true},
		{[]any{"users", "admins-not"}, false},
		{"administrators", false},
		{nil, false},
		{map[string]any{"admins": true}, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.groups), func(t *testing.T) {
			claims := map[string]any{"name": "Alice"}
			if tt.groups != nil {
				claims["groups"] = tt.groups
			}
			h := newHarness(t, oidctest.Config{User: oidctest.User{Subject: "alice", Claims: claims}})
			h.mustLogin("/me")
			for _, path := range []string{"/admin", "/api/admin"} {
				resp := h.do(http.MethodGet, path, apiHeader)
				if tt.ok != (resp.StatusCode == http.StatusOK) || !tt.ok && resp.StatusCode != http.StatusForbidden {
					t.Fatalf("GET %s: %d, want ok=%v", path, resp.StatusCode, tt.ok)
				}
			}
			if !tt.ok {
				logs := h.logs.String()
				if !strings.Contains(logs, `the claim \"groups\"`) || strings.Contains(logs, "users") {
					t.Fatalf("the log should name the claim, not its value:\n%s", logs)
				}
			}
		})
	}
	// Anonymous: as Require.
	h := newHarness(t, oidctest.Config{})
	h.startLogin("/admin")
	if st := h.do(http.MethodGet, "/api/admin", apiHeader).StatusCode; st != http.StatusUnauthorized {
		t.Fatalf("anonymous GET /api/admin: %d", st)
	}
}

// TestRequireCheck: the predicate decides; a refused user gets 403.
func TestRequireCheck(t *testing.T) {
	for _, verified := range []bool{true, false} {
		h := newHarness(t, oidctest.Config{User: oidctest.User{Subject: "alice", Claims: map[string]any{"email_verified": verified}}})
		h.mustLogin("/me")
		st := h.get("/verified").StatusCode
		if verified && st != http.StatusOK || !verified && st != http.StatusForbidden {
			t.Fatalf("email_verified %v: GET /verified %d", verified, st)
		}
		if !verified && !strings.Contains(h.logs.String(), `the check \"email_verified\" refused`) {
			t.Fatal("the log does not name the check")
		}
	}
}

// claimsOf decodes a JSON object.
func claimsOf(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
	return m
}
