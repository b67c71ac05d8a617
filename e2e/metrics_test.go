package e2e

import (
	"regexp"
	"strings"
	"testing"
)

// TestMetrics logs in through the browser against the real provider, then
// scrapes the example's GET /metrics once (contract, "Observability"): the
// Prometheus text format, names starting oidcauth_, counting the login and
// the calls to the provider by endpoint.
func TestMetrics(t *testing.T) {
	t.Parallel()
	p := needApp(t)
	s := p.slot(t, "metrics")
	a := startApp(t, p, appConfig{slot: s})
	b := newTab(t)
	if st := login(t, p, b, a.origin+"/me", "alice-metrics", "login-page"); st.URL != a.origin+"/me" {
		t.Fatalf("after login the browser is on %s", st.URL)
	}
	r := a.get(t, "/metrics")
	if r.status != 200 {
		t.Fatalf("GET /metrics: %d %s", r.status, r.body)
	}
	for _, want := range []string{
		`oidcauth_login_started_total{[^}]*} 1`,
		`oidcauth_login_completed_total{[^}]*} 1`,
		`oidcauth_pending_login_created_total{[^}]*} 1`,
		`oidcauth_jwks_fetch_total{[^}]*oidcauth_jwks_reason="initial"`,
		`oidcauth_provider_request_duration_seconds_count{[^}]*oidcauth_endpoint="token"[^}]*} 1`,
		`oidcauth_provider_request_duration_seconds_count{[^}]*oidcauth_endpoint="discovery"`,
	} {
		if !regexp.MustCompile(`(?m)^` + want).MatchString(r.body) {
			t.Errorf("GET /metrics has no line %s:\n%s", want, r.body)
		}
	}
	for _, line := range strings.Split(r.body, "\n") {
		name := strings.TrimPrefix(strings.TrimPrefix(line, "# HELP "), "# TYPE ")
		if line != "" && !strings.HasPrefix(name, "oidcauth_") {
			t.Errorf("GET /metrics: a metric not of oidcauth: %s", line)
		}
	}
}
