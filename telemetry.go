package oidcauth

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// instrumentationName names oidcauth's tracer and meter.
const instrumentationName = "github.com/oidcauth/oidcauth"

// The spans oidcauth starts. The HTTP client spans of the calls to the
// provider are named by method and endpoint ("POST token").
const (
	spanLoginStart         = "oidcauth.login.start"
	spanCallback           = "oidcauth.callback"
	spanCodeExchange       = "oidcauth.code_exchange"
	spanIDTokenVerify      = "oidcauth.id_token.verify"
	spanUserInfo           = "oidcauth.userinfo"
	spanRefresh            = "oidcauth.refresh"
	spanRevocation         = "oidcauth.revocation"
	spanLogout             = "oidcauth.logout"
	spanBackchannelLogout  = "oidcauth.backchannel_logout"
	spanFrontchannelLogout = "oidcauth.frontchannel_logout"
	spanEndSessions        = "oidcauth.end_sessions"
	spanDiscovery          = "oidcauth.discovery"
	spanJWKSFetch          = "oidcauth.jwks.fetch"
)

// The attributes of oidcauth's spans and metric points. None ever holds a
// token, code, state, nonce, secret or cookie.
const (
	attrProvider = attribute.Key("oidcauth.provider") // the issuer
	attrOutcome  = attribute.Key("oidcauth.outcome")  // success, failure (refresh: login_ended)
	attrError    = attribute.Key("error.type")        // the Error's Code, bounded (metricCode)
	attrKind     = attribute.Key("oidcauth.logout.kind")
	attrReason   = attribute.Key("oidcauth.jwks.reason")
	attrEndpoint = attribute.Key("oidcauth.endpoint")
	attrSessions = attribute.Key("oidcauth.sessions") // the sessions EndSessions found
)

// Logout kinds, the values of oidcauth.logout.kind.
const (
	logoutLocal        = "local"
	logoutRPInitiated  = "rp_initiated"
	logoutBackchannel  = "backchannel"
	logoutFrontchannel = "frontchannel"
)

var (
	outcomeSuccess = attrOutcome.String("success")
	outcomeFailure = attrOutcome.String("failure")
)

// telemetry is an Auth's tracer and metric instruments. With no
// OpenTelemetry SDK installed they are the API's no-ops (or the global
// providers' delegates, which follow an SDK installed later).
type telemetry struct {
	tracer      trace.Tracer
	provider    attribute.KeyValue
	providerSet attribute.Set // the provider alone

	loginStarted   metric.Int64Counter
	loginCompleted metric.Int64Counter
	loginFailed    metric.Int64Counter
	pendingCreated metric.Int64Counter
	refreshes      metric.Int64Counter
	logouts        metric.Int64Counter
	jwksFetches    metric.Int64Counter
	providerTime   metric.Float64Histogram

	// endpoints names the provider's endpoints by URL (scheme, host and
	// path) for the HTTP client spans and the duration histogram; written
	// in New before the client is shared, read-only after.
	endpoints map[string]string

	// durationSets keeps the attribute sets of providerTime's points by
	// their values (durationKey): a request to the provider builds and sorts
	// none. At most maxDurationSets entries.
	durationMu   sync.RWMutex
	durationSets map[durationKey]attribute.Set
}

// WithTracerProvider sets the OpenTelemetry tracer provider oidcauth's spans
// go to; by default the global one (otel.GetTracerProvider), which follows
// an SDK the application installs later.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) error {
		if tp == nil {
			return optionError("WithTracerProvider", "the tracer provider is nil")
		}
		c.tracerProvider = tp
		return nil
	}
}

// WithMeterProvider sets the OpenTelemetry meter provider oidcauth's metrics
// go to; by default the global one (otel.GetMeterProvider), which follows an
// SDK the application installs later.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) error {
		if mp == nil {
			return optionError("WithMeterProvider", "the meter provider is nil")
		}
		c.meterProvider = mp
		return nil
	}
}

// newTelemetry makes the tracer and the instruments, from the configured
// providers or the global ones.
func newTelemetry(issuer string, tp trace.TracerProvider, mp metric.MeterProvider) (*telemetry, error) {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	t := &telemetry{
		tracer:      tp.Tracer(instrumentationName),
		provider:    attrProvider.String(issuer),
		providerSet: attribute.NewSet(attrProvider.String(issuer)),
		endpoints:   map[string]string{},
	}
	m := mp.Meter(instrumentationName)
	var errs []error
	counter := func(dst *metric.Int64Counter, name, unit, desc string) {
		c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		*dst = c
		errs = append(errs, err)
	}
	counter(&t.loginStarted, "oidcauth.login.started", "{login}", "Logins started: redirects to the provider.")
	counter(&t.loginCompleted, "oidcauth.login.completed", "{login}", "Logins completed at the callback.")
	counter(&t.loginFailed, "oidcauth.login.failed", "{login}", "Logins failed at the callback, by error.type.")
	counter(&t.pendingCreated, "oidcauth.pending_login.created", "{login}", "Pending logins sealed into a login cookie; what an anonymous flood grows.")
	counter(&t.refreshes, "oidcauth.refresh", "{refresh}", "Token refreshes, by oidcauth.outcome.")
	counter(&t.logouts, "oidcauth.logout", "{logout}", "Logouts, by oidcauth.logout.kind.")
	counter(&t.jwksFetches, "oidcauth.jwks.fetch", "{fetch}", "Fetches of the provider's key set, by oidcauth.jwks.reason and oidcauth.outcome.")
	h, err := m.Float64Histogram("oidcauth.provider.request.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of the HTTP requests to the provider, by oidcauth.endpoint."),
		// The boundaries of the semantic conventions' http.client.request.duration.
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10))
	t.providerTime = h
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, optionError("WithMeterProvider", "%v", err)
	}
	return t, nil
}

// startSpan starts an internal span named name with the provider attribute.
func (t *telemetry) startSpan(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return t.tracer.Start(ctx, name, trace.WithAttributes(append(attrs, t.provider)...))
}

// endSpan ends span with the outcome of err: success, or failure with the
// error's bounded code as error.type and status. The error's message is not
// recorded: the code says what failed, the log line (with the same trace
// and span IDs) says why.
func endSpan(span trace.Span, err error) {
	if span.IsRecording() {
		if err == nil {
			span.SetAttributes(outcomeSuccess)
		} else {
			code := metricCode(err)
			span.SetAttributes(outcomeFailure, attrError.String(code))
			span.SetStatus(codes.Error, code)
		}
	}
	span.End()
}

// add adds 1 to c with the provider attribute and attrs.
func (t *telemetry) add(ctx context.Context, c metric.Int64Counter, attrs ...attribute.KeyValue) {
	if len(attrs) == 0 {
		c.Add(ctx, 1, metric.WithAttributeSet(t.providerSet))
		return
	}
	c.Add(ctx, 1, metric.WithAttributes(append(attrs, t.provider)...))
}

// observed is where an instrumented handler learns how its request ended:
// fail (errors.go) and backchannelError record the error of a failed
// request in the observed of its context.
// The handlers that learn their provider from the request (logout,
// back- and front-channel logout) name it with observeProvider.
type observed struct {
	err  error
	tel  *telemetry // the request's provider's; nil: the Auth's
	kind string     // the logout's kind, when the provider decides it
}

// kindOr is the logout's kind: the observed one, else kind.
func (o *observed) kindOr(kind string) string {
	if o.kind != "" {
		return o.kind
	}
	return kind
}

type observedKey struct{}

// observe returns a copy of ctx that records the request's failure in o.
func observe(ctx context.Context, o *observed) context.Context {
	return context.WithValue(ctx, observedKey{}, o)
}

// recordFailure records err as the failure of the request of ctx, when an
// instrumented handler observes it; the first failure wins.
func recordFailure(ctx context.Context, err error) {
	if o, ok := ctx.Value(observedKey{}).(*observed); ok && o.err == nil {
		o.err = err
	}
}

// observeProvider names p as the provider of the request of ctx, when an
// instrumented handler observes it: its span and metric carry p's issuer.
func observeProvider(ctx context.Context, p *provider) {
	if o, ok := ctx.Value(observedKey{}).(*observed); ok {
		o.tel = p.tel
	}
}

// observeLogoutKind records the kind of the logout of ctx, which the
// session's provider decides (logout.go).
func observeLogoutKind(ctx context.Context, kind string) {
	if o, ok := ctx.Value(observedKey{}).(*observed); ok {
		o.kind = kind
	}
}

// metricCode is the error.type of err: the Error's Code, or the name of
// its sentinel, or the context's error. A provider's error code, which
// anyone who starts a login can choose (?error=... at the callback), is
// kept only when it is one the specifications define, so that neither a
// span nor a metric attribute takes values without bound.
func metricCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		if errors.Is(e.Kind, ErrProvider) && !knownProviderCodes[e.Code] {
			return "_OTHER"
		}
		return e.Code
	}
	var le *logoutError
	if errors.As(err, &le) {
		return "invalid_request"
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	for _, s := range []struct {
		err  error
		name string
	}{
		{ErrDiscovery, "discovery_failed"}, {ErrSession, "session_unavailable"},
		{ErrNotLoggedIn, "login_required"}, {ErrRefresh, "refresh_failed"},
		{ErrUserInfo, "userinfo_failed"}, {ErrIDToken, "invalid_id_token"},
		{ErrExchange, "exchange_failed"}, {ErrBadRequest, "invalid_request"},
	} {
		if errors.Is(err, s.err) {
			return s.name
		}
	}
	return "_OTHER"
}

// knownProviderCodes are the error codes of authorization responses that
// RFC 6749 (4.1.2.1), OpenID Connect Core (3.1.2.6), RFC 9126 and RFC 9449
// define.
var knownProviderCodes = map[string]bool{
	"invalid_request": true, "unauthorized_client": true, "access_denied": true,
	"unsupported_response_type": true, "invalid_scope": true, "server_error": true,
	"temporarily_unavailable": true, "interaction_required": true, "login_required": true,
	"account_selection_required": true, "consent_required": true, "invalid_request_uri": true,
	"invalid_request_object": true, "request_not_supported": true, "request_uri_not_supported": true,
	"registration_not_supported": true, "invalid_dpop_proof": true, "use_dpop_nonce": true,
}

// observeLogout instruments a logout handler: a span named name, and an
// oidcauth.logout of kind when the request did not fail (fail and
// backchannelError record failures). The front-channel logout handler is
// meant to be wrapped as a.observeLogout(spanFrontchannelLogout,
// logoutFrontchannel, h).
func (a *Auth) observeLogout(name, kind string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o := &observed{}
		ctx, span := a.tel.startSpan(r.Context(), name, attrKind.String(kind))
		h.ServeHTTP(w, r.WithContext(observe(ctx, o)))
		tel := a.tel
		if o.tel != nil {
			tel = o.tel
			span.SetAttributes(tel.provider)
		}
		if o.kind != "" {
			span.SetAttributes(attrKind.String(o.kind))
		}
		if o.err == nil {
			tel.add(ctx, tel.logouts, attrKind.String(o.kindOr(kind)))
		}
		endSpan(span, o.err)
	})
}

// observeCallback instruments the callback: its span, whose children are
// the code exchange, the id_token's verification and userinfo, and an
// oidcauth.login.completed or oidcauth.login.failed.
func (p *provider) observeCallback(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o := &observed{}
		ctx, span := p.tel.startSpan(r.Context(), spanCallback)
		h.ServeHTTP(w, r.WithContext(observe(ctx, o)))
		if o.err == nil {
			p.tel.add(ctx, p.tel.loginCompleted)
		} else {
			p.tel.add(ctx, p.tel.loginFailed, attrError.String(metricCode(o.err)))
		}
		endSpan(span, o.err)
	})
}

// Outcomes of a refresh besides success and failure.
var outcomeLoginEnded = attrOutcome.String("login_ended")

// observeRefresh is refresh in its span, counted in oidcauth.refresh by
// outcome: success (also when another request or instance had refreshed),
// login_ended (the provider refused the refresh token, or there is none),
// failure (the provider or the store failed; the login stays).
func (a *Auth) observeRefresh(ctx context.Context, p *provider, l *login, refused string) (ts *tokenSet, err error) {
	ctx, span := p.tel.startSpan(ctx, spanRefresh)
	ts, err = a.refresh(ctx, p, l, refused)
	outcome := outcomeSuccess
	switch {
	case errors.Is(err, errLoginEnded):
		outcome = outcomeLoginEnded
	case err != nil:
		outcome = outcomeFailure
	}
	p.tel.add(ctx, p.tel.refreshes, outcome)
	endSpan(span, err)
	return ts, err
}
