package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestMetrics: GET /metrics is the Prometheus text format, names starting
// oidcauth_, counting a login and the calls to the provider.
func TestMetrics(t *testing.T) {
	a := startApp(t, nil)
	if resp, _ := a.login("/me", "alice"); resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	resp, body := a.get("/metrics", nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`oidcauth_login_started_total{[^}]*} 1`,
		`oidcauth_login_completed_total{[^}]*} 1`,
		`oidcauth_pending_login_created_total{[^}]*} 1`,
		`oidcauth_jwks_fetch_total{[^}]*oidcauth_jwks_reason="initial"[^}]*} 1`,
		`oidcauth_provider_request_duration_seconds_bucket{[^}]*oidcauth_endpoint="token"`,
		`oidcauth_provider_request_duration_seconds_count{[^}]*oidcauth_endpoint="discovery"[^}]*} 1`,
	} {
		if !regexp.MustCompile(`(?m)^` + want).MatchString(body) {
			t.Errorf("GET /metrics has no line %s:\n%s", want, body)
		}
	}
	for _, line := range strings.Split(body, "\n") {
		name := strings.TrimPrefix(strings.TrimPrefix(line, "# HELP "), "# TYPE ")
		if line != "" && !strings.HasPrefix(name, "oidcauth_") {
			t.Errorf("a metric not of oidcauth: %s", line)
		}
	}
}
