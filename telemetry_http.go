package oidcauth

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// providerTransport is the RoundTripper of the client that calls the
// provider: a client span per request and its duration in
// oidcauth.provider.request.duration, by endpoint. The span holds the
// method, the URL without its query, the server and the status, never a
// header or a body (which carry the client's secret and the tokens). No
// trace context is sent: the provider is a third party.
type providerTransport struct {
	next http.RoundTripper
	tel  *telemetry
}

// instrumentClient returns a copy of c whose transport is instrumented; c
// itself, which may be the application's, is left as it is.
func instrumentClient(c *http.Client, tel *telemetry) *http.Client {
	ic := *c
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	ic.Transport = &providerTransport{next: next, tel: tel}
	return &ic
}

// endpointKey is how an endpoint's URL is looked up: scheme, host and path.
func endpointKey(u *url.URL) string { return u.Scheme + "://" + u.Host + u.Path }

// nameEndpoints records the names of the provider's endpoints.
func (t *telemetry) nameEndpoints(m *metadata) {
	for _, e := range []struct{ name, u string }{
		{"token", m.TokenEndpoint}, {"jwks", m.JWKSURI}, {"userinfo", m.UserinfoEndpoint},
		{"revocation", m.RevocationEndpoint}, {"end_session", m.EndSessionEndpoint},
	} {
		if u, err := url.Parse(e.u); err == nil && e.u != "" {
			if _, taken := t.endpoints[endpointKey(u)]; !taken {
				t.endpoints[endpointKey(u)] = e.name
			}
		}
	}
}

// portNumber is port as a number; 0 when it is none.
func portNumber(port string) int {
	n, _ := strconv.Atoi(port)
	return n
}

func (p *providerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	endpoint := p.tel.endpoints[endpointKey(req.URL)]
	if endpoint == "" {
		endpoint = "other"
	}
	if strings.HasSuffix(req.URL.Path, "/.well-known/openid-configuration") {
		endpoint = "discovery"
	}
	ep := attrEndpoint.String(endpoint)
	host, port := req.URL.Hostname(), req.URL.Port()
	if port == "" {
		switch req.URL.Scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	u := url.URL{Scheme: req.URL.Scheme, Host: req.URL.Host, Path: req.URL.Path}
	ctx, span := p.tel.tracer.Start(req.Context(), req.Method+" "+endpoint,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(ep, p.tel.provider,
			attribute.String("http.request.method", req.Method),
			attribute.String("url.full", u.String()),
			attribute.String("server.address", host),
			attribute.Int("server.port", portNumber(port))))
	start := time.Now()
	resp, err := p.next.RoundTrip(req.WithContext(ctx))
	elapsed := time.Since(start).Seconds()
	k := durationKey{endpoint: endpoint, method: req.Method}
	if err != nil {
		k.errType = "_OTHER"
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			k.errType = "timeout"
		}
	} else {
		k.status = resp.StatusCode
		span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
		if resp.StatusCode >= 400 {
			k.errType = strconv.Itoa(resp.StatusCode)
		}
	}
	if k.errType != "" {
		span.SetAttributes(attrError.String(k.errType))
		span.SetStatus(codes.Error, k.errType)
	}
	p.tel.providerTime.Record(ctx, elapsed, metric.WithAttributeSet(p.tel.durationSet(k)))
	span.End()
	return resp, err
}

// durationKey is what a point of oidcauth.provider.request.duration has
// besides the provider: the endpoint, the method, the status (0: none) and
// the error.type (empty: none).
type durationKey struct {
	endpoint, method, errType string
	status                    int
}

// maxDurationSets bounds the attribute sets telemetry keeps: endpoints,
// methods and statuses are few, but a provider chooses its statuses.
const maxDurationSets = 256

// durationSet returns the attribute set of k's points, made once.
func (t *telemetry) durationSet(k durationKey) attribute.Set {
	t.durationMu.RLock()
	s, ok := t.durationSets[k]
	t.durationMu.RUnlock()
	if ok {
		return s
	}
	attrs := []attribute.KeyValue{attrEndpoint.String(k.endpoint), t.provider, attribute.String("http.request.method", k.method)}
	if k.status != 0 {
		attrs = append(attrs, attribute.Int("http.response.status_code", k.status))
	}
	if k.errType != "" {
		attrs = append(attrs, attrError.String(k.errType))
	}
	s = attribute.NewSet(attrs...)
	t.durationMu.Lock()
	if len(t.durationSets) < maxDurationSets {
		if t.durationSets == nil {
			t.durationSets = map[durationKey]attribute.Set{}
		}
		t.durationSets[k] = s
	}
	t.durationMu.Unlock()
	return s
}
