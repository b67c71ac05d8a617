package otelcheck

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"testing"

	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidctest"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// benchApp is an app on oidcauth's defaults, with the OpenTelemetry SDK
// (every span sampled and exported to memory, metrics to a manual reader)
// or without one (the API's globals, no SDK installed), and the handler of
// its logged-in GET /me that reads the claims.
func benchApp(b *testing.B, sdk bool) (op *oidctest.Provider, srv *httptest.Server, me http.Handler) {
	op, err := oidctest.NewProvider(oidctest.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(op.Close)
	var handler http.Handler
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	b.Cleanup(srv.Close)
	opts := []oidcauth.Option{
		oidcauth.WithClientID("client"), oidcauth.WithClientSecret("secret"),
		oidcauth.WithRedirectURL(srv.URL + "/callback"),
		oidcauth.WithLogger(slog.New(slog.DiscardHandler)),
	}
	if sdk {
		spans := tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans), sdktrace.WithSampler(sdktrace.AlwaysSample()))
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		b.Cleanup(func() { tp.Shutdown(context.Background()); mp.Shutdown(context.Background()) })
		opts = append(opts, oidcauth.WithTracerProvider(tp), oidcauth.WithMeterProvider(mp))
	}
	auth, err := oidcauth.New(context.Background(), op.Issuer, opts...)
	if err != nil {
		b.Fatal(err)
	}
	me = auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := oidcauth.RawClaimsFromContext(r.Context())
		if !ok {
			panic("no claims")
		}
		w.Write(raw)
	}))
	mux := http.NewServeMux()
	auth.Mount(mux)
	mux.Handle("GET /me", me)
	handler = auth.LoadAndSave(mux)
	return op, srv, me
}

// BenchmarkHotPathOTel is the core's BenchmarkAuthenticatedGET/oidcauth
// (a logged-in GET reading the claims, called in-process) without and with
// the OpenTelemetry SDK: the middleware has no instrumentation, so the two
// cost the same.
func BenchmarkHotPathOTel(b *testing.B) {
	for _, c := range []struct {
		name string
		sdk  bool
	}{{"no-sdk", false}, {"sdk", true}} {
		b.Run(c.name, func(b *testing.B) {
			op, srv, me := benchApp(b, c.sdk)
			br := oidctest.NewBrowser(b, srv.URL)
			br.Login(op, "/me")
			req := httptest.NewRequest("GET", "/me", nil)
			for _, ck := range br.Client.Jar.Cookies(mustURL(srv.URL)) {
				req.AddCookie(ck)
			}
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				me.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}

// BenchmarkLoginOTel is a whole login over loopback (start, the
// provider's authorize, the callback with the code exchange) without and
// with the SDK recording every span and metric of it.
func BenchmarkLoginOTel(b *testing.B) {
	for _, c := range []struct {
		name string
		sdk  bool
	}{{"no-sdk", false}, {"sdk", true}} {
		b.Run(c.name, func(b *testing.B) {
			op, srv, _ := benchApp(b, c.sdk)
			br := oidctest.NewBrowser(b, srv.URL)
			b.ReportAllocs()
			for b.Loop() {
				br.Client.Jar, _ = cookiejar.New(nil)
				br.Login(op, "/me")
			}
		})
	}
}
