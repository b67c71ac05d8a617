package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestPolicyConfigErrors: a bad policy variable stops the example, naming it.
func TestPolicyConfigErrors(t *testing.T) {
	for name, value := range map[string]string{
		"OIDC_STEP_UP_ACR":    "two values",
		"OIDC_RECENT_MAX_AGE": "5m",
		"OIDC_RESOURCE_URL":   "/relative",
		"OIDC_SILENT_LOGIN":   "yes",
	} {
		_, err := loadConfig(envOf(map[string]string{name: value}))
		var ce *configError
		if !errors.As(err, &ce) || ce.Var != name {
			t.Errorf("%s=%q: %v, want an error naming it", name, value, err)
		}
	}
}

// TestPolicyRoutes: /step-up asks the provider for the acr and gets it;
// /recent lets a fresh login through; /admin needs the group.
func TestPolicyRoutes(t *testing.T) {
	a := startApp(t, map[string]string{"OIDC_STEP_UP_ACR": "urn:test:mfa"})
	if resp, _ := a.get("/api/resource", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /api/resource without OIDC_RESOURCE_URL: %d, want 404", resp.StatusCode)
	}
	a.login("/me", "alice")
	resp, body := a.get("/recent", nil)
	wantJSON(t, resp, body, http.StatusOK)
	resp, body = a.get("/admin", nil)
	wantJSON(t, resp, body, http.StatusOK)

	resp, _ = a.get("/step-up", nil)
	u, _ := url.Parse(a.wantRedirect(resp, a.issuer+"/authorize?"))
	if got := u.Query().Get("acr_values"); got != "urn:test:mfa" {
		t.Fatalf("step-up acr_values %q", got)
	}
	resp, body = a.login("/step-up", "alice")
	if v := wantJSON(t, resp, body, http.StatusOK); v["acr"] != "urn:test:mfa" {
		t.Fatalf("GET /step-up after the step-up: %s", body)
	}

	b := startApp(t, nil)
	b.login("/me", "bob")
	if resp, body := b.get("/admin", nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("GET /admin as bob: %d %s", resp.StatusCode, body)
	}
}

// TestResourceRoutes: the resource server's RFC 9470 challenge is a 401
// with a login URL on /api/resource and a step-up on /resource.
func TestResourceRoutes(t *testing.T) {
	rs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			http.Error(w, "no token", http.StatusBadRequest)
			return
		}
		if r.URL.Query().Get("ok") == "1" {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"resource":true}`))
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_user_authentication", acr_values="urn:rs:mfa", max_age=60`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(rs.Close)
	a := startApp(t, map[string]string{"OIDC_RESOURCE_URL": rs.URL})
	a.login("/me", "alice")
	resp, body := a.get("/api/resource", map[string]string{"Accept": "application/json"})
	v := wantJSON(t, resp, body, http.StatusUnauthorized)
	loginURL, _ := v["login_url"].(string)
	if v["error"] != "insufficient_user_authentication" || !strings.HasPrefix(loginURL, "/login?") {
		t.Fatalf("GET /api/resource: %s", body)
	}
	lu, _ := url.Parse(loginURL)
	if rt := lu.Query().Get("return_to"); rt != "/resource" {
		t.Fatalf("login_url returns to %q", rt)
	}
	for _, start := range []string{loginURL, "/resource"} {
		resp, _ = a.get(start, nil)
		u, _ := url.Parse(a.wantRedirect(resp, a.issuer+"/authorize?"))
		if q := u.Query(); q.Get("acr_values") != "urn:rs:mfa" || q.Get("max_age") != "60" {
			t.Fatalf("%s: authorize request %v", start, q)
		}
	}

	ok := startApp(t, map[string]string{"OIDC_RESOURCE_URL": rs.URL + "/?ok=1"})
	ok.login("/me", "alice")
	resp, body = ok.get("/api/resource", nil)
	if v := wantJSON(t, resp, body, http.StatusOK); v["resource"] != true {
		t.Fatalf("GET /api/resource: %s", body)
	}
}

// TestSilentLoginRoute: with OIDC_SILENT_LOGIN=1 an anonymous GET / tries
// prompt=none once; the provider's login_required brings it back anonymous.
func TestSilentLoginRoute(t *testing.T) {
	a := startApp(t, map[string]string{"OIDC_SILENT_LOGIN": "1"})
	nav := map[string]string{"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}
	resp, _ := a.get("/", nav)
	u, _ := url.Parse(a.wantRedirect(resp, a.issuer+"/authorize?"))
	if u.Query().Get("prompt") != "none" {
		t.Fatalf("GET /: authorize request %v", u.Query())
	}
	resp, _ = a.get(u.String(), nav)
	callback := a.wantRedirect(resp, a.url+"/callback?")
	if !strings.Contains(callback, "error=login_required") {
		t.Fatalf("dev provider answered %s", callback)
	}
	resp, _ = a.get(callback, nav)
	a.wantRedirect(resp, a.url+"/")
	resp, body := a.get("/", nav)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `/login?return_to=/`) {
		t.Fatalf("GET / after the silent try: %d %s", resp.StatusCode, body)
	}
}
