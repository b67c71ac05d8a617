package otelcheck

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/internal/apptest"
	"github.com/oidcauth/oidcauth/oidctest"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Example: oidcauth's spans and metrics go to the application's
// OpenTelemetry SDK. Here a manual reader collects the metrics of one
// login; in production the reader is a Prometheus or OTLP exporter, and the
// tracer provider batches to an OTLP exporter. Without the two options,
// oidcauth uses the global providers (otel.SetTracerProvider,
// otel.SetMeterProvider), also when they are set after New.
func Example() {
	ctx := context.Background()
	op, err := oidctest.NewProvider(oidctest.Config{})
	if err != nil {
		panic(err)
	}
	defer op.Close()
	app := httptest.NewUnstartedServer(nil)
	defer app.Close()
	redirectURL := "http://" + app.Listener.Addr().String() + "/callback"

	reader := sdkmetric.NewManualReader() // or the Prometheus exporter, or OTLP
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	tp := sdktrace.NewTracerProvider() // add sdktrace.WithBatcher(exporter)
	auth, err := oidcauth.New(ctx, op.Issuer,
		oidcauth.WithClientID("client"),
		oidcauth.WithClientSecret("secret"),
		oidcauth.WithRedirectURL(redirectURL),
		oidcauth.WithTracerProvider(tp), // default: otel.GetTracerProvider()
		oidcauth.WithMeterProvider(mp),  // default: otel.GetMeterProvider()
	)
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	auth.Mount(mux)
	mux.Handle("GET /me", auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	app.Config.Handler = auth.LoadAndSave(mux)
	app.Start()
	oidctest.NewBrowser(exampleT{}, app.URL).Login(op, "/me")

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		panic(err)
	}
	var lines []string
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if sum, ok := m.Data.(metricdata.Sum[int64]); ok {
			lines = append(lines, fmt.Sprint(m.Name, " ", sum.DataPoints[0].Value))
		}
	}
	slices.Sort(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// oidcauth.jwks.fetch 1
	// oidcauth.login.completed 1
	// oidcauth.login.started 1
	// oidcauth.pending_login.created 1
}

// exampleT stands in for a test's *testing.T in Example, which has none:
// it fails the example by panicking.
type exampleT struct{ testing.TB }

func (exampleT) Helper()                           {}
func (exampleT) Fatal(args ...any)                 { panic(fmt.Sprint(args...)) }
func (exampleT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

// TestREADMEObservabilitySnippet keeps the snippet of README.md's
// "Observability" the code of Example.
func TestREADMEObservabilitySnippet(t *testing.T) {
	apptest.CheckSnippet(t, "../README.md", "Observability", 0, "example_test.go")
}
