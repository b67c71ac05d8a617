package main

import (
	"bufio"
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
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

// TestWriteMetrics: the text format of a counter, a gauge and a histogram,
// with the OpenTelemetry names and attributes made Prometheus ones, labels
// escaped, the buckets cumulative.
func TestWriteMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	m := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test")
	ctx := context.Background()
	c, _ := m.Int64Counter("app.login.started", metric.WithUnit("{login}"), metric.WithDescription("Logins.\nStarted \\ here."))
	c.Add(ctx, 2, metric.WithAttributes(attribute.String("error.type", `say "no"`+"\n")))
	c.Add(ctx, 1000000)
	g, _ := m.Int64UpDownCounter("app.open")
	g.Add(ctx, -3)
	h, _ := m.Float64Histogram("app.duration", metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(0.5, 1, 2.5))
	for _, v := range []float64{0.25, 0.75, 0.75, 3} {
		h.Record(ctx, v, metric.WithAttributes(attribute.String("endpoint", "token")))
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	bw := bufio.NewWriter(&b)
	writeMetrics(bw, rm)
	bw.Flush()
	want := `# TYPE app_duration_seconds histogram
app_duration_seconds_bucket{endpoint="token",le="0.5"} 1
app_duration_seconds_bucket{endpoint="token",le="1"} 3
app_duration_seconds_bucket{endpoint="token",le="2.5"} 3
app_duration_seconds_bucket{endpoint="token",le="+Inf"} 4
app_duration_seconds_sum{endpoint="token"} 4.75
app_duration_seconds_count{endpoint="token"} 4
# HELP app_login_started_total Logins.\nStarted \\ here.
# TYPE app_login_started_total counter
`
	got := b.String()
	if !strings.HasPrefix(got, want) {
		t.Fatalf("got\n%s\nwant it to start with\n%s", got, want)
	}
	rest := strings.TrimPrefix(got, want)
	// The counter's two points come in the SDK's order.
	for _, line := range []string{
		`app_login_started_total{error_type="say \"no\"\n"} 2`,
		`app_login_started_total 1000000`,
		"# TYPE app_open gauge\napp_open -3\n",
	} {
		if !strings.Contains(rest, line) {
			t.Errorf("no %q in\n%s", line, rest)
		}
	}
	if n := strings.Count(got, "\n"); n != 13 {
		t.Errorf("%d lines, want 13:\n%s", n, got)
	}
}
