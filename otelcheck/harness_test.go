package otelcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidctest"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// clientSecret is the client's secret, distinctive enough to be searched for.
const clientSecret = "otelcheck-client-secret-6f1d"

// rig is an app protected by oidcauth in front of an oidctest provider,
// with the real OpenTelemetry SDK: spans go to an in-memory exporter,
// metrics to a manual reader, logs to a JSON buffer. Every secret that
// passes between the app, the browser and the provider is collected.
type rig struct {
	t      testing.TB
	op     *oidctest.Provider
	auth   *oidcauth.Auth
	b      *oidctest.Browser
	spans  *tracetest.InMemoryExporter
	reader *sdkmetric.ManualReader
	logs   *syncBuffer
	tp     *sdktrace.TracerProvider

	mu      sync.Mutex
	secrets map[string]string // value: where it was seen
}

func newRig(t testing.TB, cfg oidctest.Config, opts ...oidcauth.Option) *rig {
	t.Helper()
	cfg.Clients = []oidctest.Client{{ID: "client", Secret: clientSecret}}
	op, err := oidctest.NewProvider(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(op.Close)
	r := &rig{t: t, op: op, spans: tracetest.NewInMemoryExporter(), reader: sdkmetric.NewManualReader(),
		logs: &syncBuffer{}, secrets: map[string]string{clientSecret: "client secret"}}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(r.spans))
	r.tp = tp
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	t.Cleanup(func() { tp.Shutdown(context.Background()); mp.Shutdown(context.Background()) })

	var handler http.Handler = http.NotFoundHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { handler.ServeHTTP(w, req) }))
	t.Cleanup(srv.Close)
	base := []oidcauth.Option{
		oidcauth.WithClientID("client"), oidcauth.WithClientSecret(clientSecret),
		oidcauth.WithRedirectURL(srv.URL + "/callback"),
		oidcauth.WithScopes("openid", "profile", "email", "offline_access"),
		oidcauth.WithTracerProvider(tp), oidcauth.WithMeterProvider(mp),
		oidcauth.WithLogger(slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		oidcauth.WithHTTPClient(&http.Client{Transport: recorder{r, http.DefaultTransport},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}),
	}
	r.auth, err = oidcauth.New(context.Background(), op.Issuer, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	r.auth.Mount(mux)
	mux.Handle("GET /private", r.auth.Require(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		io.WriteString(w, "ok")
	})))
	mux.Handle("GET /sid", r.auth.Require(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		c, _ := oidcauth.ClaimsFromContext(req.Context())
		io.WriteString(w, c.SessionID)
	})))
	mux.Handle("GET /token", r.auth.Require(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		tok, err := r.auth.Token(req)
		if err != nil {
			r.auth.HandleError(w, req, err)
			return
		}
		r.secret(tok.AccessToken, "access token")
		io.WriteString(w, "ok")
	})))
	mux.Handle("GET /userinfo", r.auth.Require(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if _, err := r.auth.UserInfo(req); err != nil {
			r.auth.HandleError(w, req, err)
			return
		}
		io.WriteString(w, "ok")
	})))
	handler = r.auth.LoadAndSave(mux)
	r.b = oidctest.NewBrowser(t, srv.URL)
	// The browser's traffic: state, nonce, code, cookies.
	r.b.Client.Transport = recorder{r, http.DefaultTransport}
	return r
}

// login logs in through /private.
func (r *rig) login() {
	r.t.Helper()
	r.b.Login(r.op, "/private")
}

// secret records v as a value that must never be in telemetry.
func (r *rig) secret(v, where string) {
	if len(v) < 8 { // "S256", "Bearer": not secrets
		return
	}
	r.mu.Lock()
	r.secrets[v] = where
	r.mu.Unlock()
}

// recorder is a RoundTripper that collects the secrets of every request
// and response: query and form parameters, JSON string members, cookies.
type recorder struct {
	r    *rig
	next http.RoundTripper
}

var secretParams = []string{"state", "nonce", "code", "code_verifier", "code_challenge", "client_secret",
	"refresh_token", "access_token", "id_token", "token", "logout_token", "id_token_hint"}

func (rec recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	rec.params(req.URL.Query(), "request query")
	if auth := req.Header.Get("Authorization"); auth != "" {
		_, v, _ := strings.Cut(auth, " ")
		rec.r.secret(v, "Authorization header")
	}
	for _, c := range req.Cookies() {
		rec.r.secret(c.Value, "cookie "+c.Name)
	}
	if req.Body != nil {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		if form, err := url.ParseQuery(string(body)); err == nil {
			rec.params(form, "request form")
		}
	}
	resp, err := rec.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if loc, err := url.Parse(resp.Header.Get("Location")); err == nil {
		rec.params(loc.Query(), "redirect")
	}
	for _, c := range resp.Cookies() {
		rec.r.secret(c.Value, "set-cookie "+c.Name)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		for _, k := range secretParams {
			if s, ok := m[k].(string); ok {
				rec.r.secret(s, "response "+k)
			}
		}
	}
	return resp, nil
}

func (rec recorder) params(q url.Values, where string) {
	for _, k := range secretParams {
		for _, v := range q[k] {
			rec.r.secret(v, where+" "+k)
		}
	}
}

// span returns the ended spans named name.
func (r *rig) spansNamed(name string) tracetest.SpanStubs {
	var out tracetest.SpanStubs
	for _, s := range r.spans.GetSpans() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// oneSpan returns the one ended span named name, or fails.
func (r *rig) oneSpan(name string) tracetest.SpanStub {
	r.t.Helper()
	got := r.spansNamed(name)
	if len(got) != 1 {
		r.t.Fatalf("%d spans %q, want 1; spans: %s", len(got), name, r.spanNames())
	}
	return got[0]
}

func (r *rig) spanNames() string {
	var names []string
	for _, s := range r.spans.GetSpans() {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

// attr returns the value of the attribute key of s, "" when it has none.
func attr(s tracetest.SpanStub, key string) string {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

// metrics collects the metrics.
func (r *rig) metrics() metricdata.ResourceMetrics {
	r.t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		r.t.Fatal(err)
	}
	return rm
}

// count returns the sum of the points of the counter name whose attributes
// include want (key=value pairs), or -1 when the counter has no point.
func count(rm metricdata.ResourceMetrics, name string, want ...string) int64 {
	var n int64 = -1
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if m.Name != name || !ok {
				continue
			}
			for _, dp := range sum.DataPoints {
				if hasAttrs(dp.Attributes, want) {
					n = max(n, 0) + dp.Value
				}
			}
		}
	}
	return n
}

// histogramCount returns the number of recordings of the histogram name
// whose attributes include want.
func histogramCount(rm metricdata.ResourceMetrics, name string, want ...string) uint64 {
	var n uint64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			h, ok := m.Data.(metricdata.Histogram[float64])
			if m.Name != name || !ok {
				continue
			}
			for _, dp := range h.DataPoints {
				if hasAttrs(dp.Attributes, want) {
					n += dp.Count
				}
			}
		}
	}
	return n
}

func hasAttrs(set attribute.Set, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		v, ok := set.Value(attribute.Key(want[i]))
		if !ok || v.String() != want[i+1] {
			return false
		}
	}
	return true
}

// allAttributes lists every attribute value of every span (attributes,
// events, links, status) and of every metric point, with where it is.
func (r *rig) allAttributes() map[string]string {
	out := map[string]string{}
	for _, s := range r.spans.GetSpans() {
		out[s.Name] = "span name"
		out[s.Status.Description] = s.Name + " status"
		for _, kv := range s.Attributes {
			out[kv.Value.String()] = s.Name + " " + string(kv.Key)
		}
		for _, e := range s.Events {
			out[e.Name] = s.Name + " event"
			for _, kv := range e.Attributes {
				out[kv.Value.String()] = s.Name + " event " + string(kv.Key)
			}
		}
	}
	rm := r.metrics()
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			var sets []attribute.Set
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					sets = append(sets, dp.Attributes)
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					sets = append(sets, dp.Attributes)
				}
			}
			for _, set := range sets {
				for _, kv := range set.ToSlice() {
					out[kv.Value.String()] = m.Name + " " + string(kv.Key)
				}
			}
		}
	}
	return out
}

// logLines returns the JSON log lines whose msg is msg.
func (r *rig) logLines(msg string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(r.logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
