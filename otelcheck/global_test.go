package otelcheck

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidctest"
	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestGlobalProvidersInstalledAfterNew: without WithTracerProvider and
// WithMeterProvider, oidcauth uses the global providers, and an SDK the
// application installs after New gets its spans and metrics. (The global
// providers delegate once, so this is the one test that sets them.)
func TestGlobalProvidersInstalledAfterNew(t *testing.T) {
	op, err := oidctest.NewProvider(oidctest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(op.Close)
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	auth, err := oidcauth.New(context.Background(), op.Issuer,
		oidcauth.WithClientID("client"), oidcauth.WithClientSecret("secret"),
		oidcauth.WithRedirectURL(srv.URL+"/callback"), oidcauth.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	auth.Mount(mux)
	mux.Handle("GET /me", auth.Require(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	handler = auth.LoadAndSave(mux)

	spans := tracetest.NewInMemoryExporter()
	reader := sdkmetric.NewManualReader()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { tp.Shutdown(context.Background()); mp.Shutdown(context.Background()) })
	otel.SetTracerProvider(tp)
	otel.SetMeterProvider(mp)

	oidctest.NewBrowser(t, srv.URL).Login(op, "/me")
	r := &rig{t: t, spans: spans, reader: reader}
	r.oneSpan("oidcauth.callback")
	r.oneSpan("POST token")
	if n := count(r.metrics(), "oidcauth.login.completed"); n != 1 {
		t.Errorf("oidcauth.login.completed = %d through the global meter provider, want 1", n)
	}
}
