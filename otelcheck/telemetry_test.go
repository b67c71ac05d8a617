package otelcheck

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidctest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestLoginTelemetry: a successful login has its spans (the callback with
// the code exchange and the id_token's verification as children, the
// token request as the exchange's client span), its metric points, and log
// lines carrying the callback's trace and span IDs.
func TestLoginTelemetry(t *testing.T) {
	r := newRig(t, oidctest.Config{})
	r.login()

	start := r.oneSpan("oidcauth.login.start")
	cb := r.oneSpan("oidcauth.callback")
	ex := r.oneSpan("oidcauth.code_exchange")
	vt := r.oneSpan("oidcauth.id_token.verify")
	tok := r.oneSpan("POST token")
	for _, c := range []struct {
		child, parent tracetest.SpanStub
	}{{ex, cb}, {vt, cb}, {tok, ex}} {
		if c.child.Parent.SpanID() != c.parent.SpanContext.SpanID() {
			t.Errorf("span %s: parent %s, want %s", c.child.Name, c.child.Parent.SpanID(), c.parent.Name)
		}
	}
	for _, s := range []tracetest.SpanStub{start, cb, ex, vt} {
		if attr(s, "oidcauth.outcome") != "success" || attr(s, "oidcauth.provider") != r.op.Issuer {
			t.Errorf("span %s: attributes %v, want outcome success and the provider", s.Name, s.Attributes)
		}
	}
	if tok.SpanKind != trace.SpanKindClient || attr(tok, "http.response.status_code") != "200" ||
		attr(tok, "oidcauth.endpoint") != "token" || attr(tok, "url.full") != r.op.Issuer+"/token" {
		t.Errorf("token request span: kind %v, attributes %v", tok.SpanKind, tok.Attributes)
	}

	rm := r.metrics()
	for _, c := range []struct {
		name string
		want int64
	}{
		{"oidcauth.login.started", 1}, {"oidcauth.pending_login.created", 1},
		{"oidcauth.login.completed", 1}, {"oidcauth.login.failed", -1},
	} {
		if got := count(rm, c.name, "oidcauth.provider", r.op.Issuer); got != c.want {
			t.Errorf("%s = %d, want %d", c.name, got, c.want)
		}
	}
	for _, ep := range []string{"discovery", "jwks", "token"} {
		if n := histogramCount(rm, "oidcauth.provider.request.duration", "oidcauth.endpoint", ep); n != 1 {
			t.Errorf("oidcauth.provider.request.duration{endpoint=%s}: %d recordings, want 1", ep, n)
		}
	}
	if n := count(rm, "oidcauth.jwks.fetch", "oidcauth.jwks.reason", "initial", "oidcauth.outcome", "success"); n != 1 {
		t.Errorf("oidcauth.jwks.fetch{initial, success} = %d, want 1", n)
	}
	r.oneSpan("oidcauth.discovery")

	lines := r.logLines("oidcauth: login")
	if len(lines) != 1 {
		t.Fatalf("%d login log lines, want 1: %s", len(lines), r.logs.String())
	}
	if lines[0]["trace_id"] != cb.SpanContext.TraceID().String() || lines[0]["span_id"] != cb.SpanContext.SpanID().String() {
		t.Errorf("the login log line has trace_id %v span_id %v, want the callback span's %s %s",
			lines[0]["trace_id"], lines[0]["span_id"], cb.SpanContext.TraceID(), cb.SpanContext.SpanID())
	}

	// The hot path: a logged-in request starts no span.
	before := len(r.spans.GetSpans())
	if resp := r.b.Get("/private"); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /private: %d", resp.StatusCode)
	}
	if after := len(r.spans.GetSpans()); after != before {
		t.Errorf("a logged-in request started %d spans", after-before)
	}
	r.checkNoSecrets(loginSecrets)
}

// TestFailedLoginTelemetry: a failed login ends its callback span with the
// error code and counts oidcauth.login.failed by error.type; the failure's
// log line carries the span's IDs. A provider error code outside the
// specifications' set is _OTHER: anyone who starts a login can send any
// ?error= to the callback, and attribute values must stay bounded.
func TestFailedLoginTelemetry(t *testing.T) {
	for _, tt := range []struct {
		name, want string
		tamper     oidctest.Tamper
		callback   func(loc *url.URL) // edits the callback URL
	}{
		{name: "refused", want: "access_denied", tamper: oidctest.Tamper{AuthorizeError: "access_denied"}},
		{name: "bad id_token", want: "invalid_id_token", tamper: oidctest.Tamper{BadSignature: true}},
		{name: "made-up error code", want: "_OTHER", callback: func(loc *url.URL) {
			q := loc.Query()
			q.Del("code")
			q.Set("error", "made_up_by_an_attacker_12345")
			loc.RawQuery = q.Encode()
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, oidctest.Config{})
			r.op.SetTamper(tt.tamper)
			resp := r.b.Get("/private")
			resp = r.b.Get(resp.Header.Get("Location"))
			loc, err := url.Parse(resp.Header.Get("Location"))
			if err != nil || resp.StatusCode != http.StatusFound {
				t.Fatalf("provider: %d %q", resp.StatusCode, resp.Header.Get("Location"))
			}
			if tt.callback != nil {
				tt.callback(loc)
			}
			if resp := r.b.Get(loc.String()); resp.StatusCode < 400 {
				t.Fatalf("callback: %d, want an error", resp.StatusCode)
			}
			cb := r.oneSpan("oidcauth.callback")
			if attr(cb, "oidcauth.outcome") != "failure" || attr(cb, "error.type") != tt.want ||
				cb.Status.Code != codes.Error || cb.Status.Description != tt.want {
				t.Errorf("callback span: attributes %v status %v, want failure %s", cb.Attributes, cb.Status, tt.want)
			}
			rm := r.metrics()
			if n := count(rm, "oidcauth.login.failed", "error.type", tt.want); n != 1 {
				t.Errorf("oidcauth.login.failed{error.type=%s} = %d, want 1", tt.want, n)
			}
			if n := count(rm, "oidcauth.login.completed"); n != -1 {
				t.Errorf("oidcauth.login.completed = %d, want no point", n)
			}
			for _, v := range r.allAttributes() {
				if strings.Contains(v, "made_up") {
					t.Errorf("an attribute holds the made-up error code: %s", v)
				}
			}
			lines := r.logLines("oidcauth: request failed")
			if len(lines) != 1 || lines[0]["trace_id"] != cb.SpanContext.TraceID().String() || lines[0]["span_id"] != cb.SpanContext.SpanID().String() {
				t.Errorf("failure log lines %v, want one with the callback span's IDs", lines)
			}
			r.checkNoSecrets(5) // the client secret, state, nonce, challenge, login cookie
		})
	}
}

// TestRefreshTelemetry: a refresh has its span, with the token request as
// its child, and counts oidcauth.refresh by outcome: success, then
// login_ended once the provider refuses the refresh token. The refreshes
// are those of UserInfo, whose call the provider refuses with 401 once it
// has expired the access tokens.
func TestRefreshTelemetry(t *testing.T) {
	r := newRig(t, oidctest.Config{})
	r.login()
	r.op.ExpireAccessTokens()
	if resp := r.b.Get("/userinfo"); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /userinfo: %d %s", resp.StatusCode, resp.Body)
	}
	if n := len(r.spansNamed("oidcauth.userinfo")); n != 2 {
		t.Errorf("%d userinfo spans, want 2 (refused, then with the refreshed token)", n)
	}
	rs := r.oneSpan("oidcauth.refresh")
	if attr(rs, "oidcauth.outcome") != "success" {
		t.Errorf("refresh span attributes %v, want success", rs.Attributes)
	}
	var tokens int
	for _, s := range r.spansNamed("POST token") {
		if s.Parent.SpanID() == rs.SpanContext.SpanID() {
			tokens++
		}
	}
	if tokens != 1 {
		t.Errorf("%d token requests under the refresh span, want 1", tokens)
	}
	if n := count(r.metrics(), "oidcauth.refresh", "oidcauth.outcome", "success"); n != 1 {
		t.Errorf("oidcauth.refresh{success} = %d, want 1", n)
	}

	r.op.RevokeRefreshTokens()
	r.op.ExpireAccessTokens()
	if resp := r.b.Do(http.MethodGet, "/userinfo", oidctest.APICall, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /userinfo after revocation: %d, want 401", resp.StatusCode)
	}
	rm := r.metrics()
	if n := count(rm, "oidcauth.refresh", "oidcauth.outcome", "login_ended"); n != 1 {
		t.Errorf("oidcauth.refresh{login_ended} = %d, want 1", n)
	}
	ended := r.spansNamed("oidcauth.refresh")
	if len(ended) != 2 || attr(ended[1], "error.type") != "login_expired" {
		t.Errorf("refresh spans %v, want a second one with error.type login_expired", ended)
	}
	r.checkNoSecrets(loginSecrets)
}

// TestBackchannelLogoutTelemetry: a back-channel logout has its span and
// counts an oidcauth.logout of kind backchannel; a refused logout token
// ends its span with invalid_request and counts nothing.
func TestBackchannelLogoutTelemetry(t *testing.T) {
	r := newRig(t, oidctest.Config{})
	c, _ := r.op.Client("client")
	c.BackchannelLogoutURI = r.b.AppURL + "/backchannel-logout"
	r.op.SetClient(c)
	r.login()

	forged := oidctest.NewBrowser(t, r.b.AppURL)
	if resp := forged.Do(http.MethodPost, "/backchannel-logout", nil, url.Values{"logout_token": {"not.a.jwt"}}); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("forged logout token: %d, want 400", resp.StatusCode)
	}
	refused := r.oneSpan("oidcauth.backchannel_logout")
	if attr(refused, "oidcauth.outcome") != "failure" || attr(refused, "error.type") != "invalid_request" {
		t.Errorf("refused back-channel logout span: %v", refused.Attributes)
	}
	if n := count(r.metrics(), "oidcauth.logout"); n != -1 {
		t.Errorf("oidcauth.logout = %d after a refused logout token, want no point", n)
	}

	if err := r.op.LogoutSubject("alice"); err != nil {
		t.Fatal(err)
	}
	spans := r.spansNamed("oidcauth.backchannel_logout")
	if len(spans) != 2 || attr(spans[1], "oidcauth.outcome") != "success" || attr(spans[1], "oidcauth.logout.kind") != "backchannel" {
		t.Fatalf("back-channel logout spans %v, want a second one with success", spans)
	}
	if n := count(r.metrics(), "oidcauth.logout", "oidcauth.logout.kind", "backchannel"); n != 1 {
		t.Errorf("oidcauth.logout{backchannel} = %d, want 1", n)
	}
	lines := r.logLines("oidcauth: back-channel logout")
	if len(lines) != 1 || lines[0]["span_id"] != spans[1].SpanContext.SpanID().String() {
		t.Errorf("back-channel logout log lines %v, want one with the span's ID", lines)
	}
	if resp := r.b.Get("/private"); resp.StatusCode != http.StatusFound {
		t.Errorf("GET /private after the back-channel logout: %d, want a redirect to log in", resp.StatusCode)
	}
	r.checkNoSecrets(loginSecrets)
}

// TestFrontchannelLogoutTelemetry: a front-channel logout has its span and
// counts an oidcauth.logout of kind frontchannel; a refused one (a foreign
// iss) ends its span with invalid_request and counts nothing.
func TestFrontchannelLogoutTelemetry(t *testing.T) {
	r := newRig(t, oidctest.Config{})
	r.login()
	sid := r.b.Get("/sid").Body
	if sid == "" {
		t.Fatal("no sid in the login's claims")
	}
	frame := oidctest.NewBrowser(t, r.b.AppURL) // the provider's iframe: no cookie of the app
	if resp := frame.Get("/frontchannel-logout?" + url.Values{"iss": {"https://other.example"}, "sid": {sid}}.Encode()); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a foreign iss: %d, want 400", resp.StatusCode)
	}
	refused := r.oneSpan("oidcauth.frontchannel_logout")
	if attr(refused, "oidcauth.outcome") != "failure" || attr(refused, "error.type") != "invalid_request" {
		t.Errorf("refused front-channel logout span: %v", refused.Attributes)
	}
	if n := count(r.metrics(), "oidcauth.logout"); n != -1 {
		t.Errorf("oidcauth.logout = %d after a refused logout, want no point", n)
	}
	if resp := frame.Get("/frontchannel-logout?" + url.Values{"iss": {r.op.Issuer}, "sid": {sid}}.Encode()); resp.StatusCode != http.StatusOK {
		t.Fatalf("front-channel logout: %d", resp.StatusCode)
	}
	spans := r.spansNamed("oidcauth.frontchannel_logout")
	if len(spans) != 2 || attr(spans[1], "oidcauth.outcome") != "success" || attr(spans[1], "oidcauth.logout.kind") != "frontchannel" {
		t.Fatalf("front-channel logout spans %v, want a second one with success", spans)
	}
	if n := count(r.metrics(), "oidcauth.logout", "oidcauth.logout.kind", "frontchannel"); n != 1 {
		t.Errorf("oidcauth.logout{frontchannel} = %d, want 1", n)
	}
	lines := r.logLines("oidcauth: front-channel logout")
	if len(lines) != 1 || lines[0]["span_id"] != spans[1].SpanContext.SpanID().String() {
		t.Errorf("front-channel logout log lines %v, want one with the span's ID", lines)
	}
	if resp := r.b.Get("/private"); resp.StatusCode != http.StatusFound {
		t.Errorf("GET /private after the front-channel logout: %d, want a redirect to log in", resp.StatusCode)
	}
	r.checkNoSecrets(loginSecrets)
}

// TestLogoutRevocationAndUserInfoTelemetry: RP-initiated logout, the
// revocation of the login's tokens, and userinfo at login have their spans
// and points; a key rotation is fetched with reason unknown_key.
func TestLogoutRevocationAndUserInfoTelemetry(t *testing.T) {
	r := newRig(t, oidctest.Config{}, oidcauth.WithUserInfoClaims(), oidcauth.WithJWKSRefreshInterval(time.Millisecond))
	if err := r.op.RotateKeys(false); err != nil {
		t.Fatal(err)
	}
	r.login()
	ui := r.oneSpan("oidcauth.userinfo")
	cb := r.oneSpan("oidcauth.callback")
	if ui.Parent.SpanID() != cb.SpanContext.SpanID() {
		t.Errorf("the userinfo span is not the callback's child")
	}
	fetch := r.spansNamed("oidcauth.jwks.fetch")
	if len(fetch) != 2 || attr(fetch[1], "oidcauth.jwks.reason") != "unknown_key" {
		t.Errorf("jwks fetch spans %v, want the second for unknown_key", fetch)
	}
	if resp := r.b.Post("/logout", nil); resp.StatusCode != http.StatusFound {
		t.Fatalf("POST /logout: %d", resp.StatusCode)
	}
	lo := r.oneSpan("oidcauth.logout")
	rv := r.oneSpan("oidcauth.revocation")
	if attr(lo, "oidcauth.logout.kind") != "rp_initiated" || attr(lo, "oidcauth.outcome") != "success" || rv.Parent.SpanID() != lo.SpanContext.SpanID() {
		t.Errorf("logout span %v, revocation span parent %s", lo.Attributes, rv.Parent.SpanID())
	}
	rm := r.metrics()
	if n := count(rm, "oidcauth.logout", "oidcauth.logout.kind", "rp_initiated"); n != 1 {
		t.Errorf("oidcauth.logout{rp_initiated} = %d, want 1", n)
	}
	for _, ep := range []string{"userinfo", "revocation"} {
		if n := histogramCount(rm, "oidcauth.provider.request.duration", "oidcauth.endpoint", ep); n == 0 {
			t.Errorf("no oidcauth.provider.request.duration{endpoint=%s}", ep)
		}
	}
	if n := count(rm, "oidcauth.jwks.fetch", "oidcauth.jwks.reason", "unknown_key"); n != 1 {
		t.Errorf("oidcauth.jwks.fetch{unknown_key} = %d, want 1", n)
	}
	r.checkNoSecrets(loginSecrets)
}

// loginSecrets is how many secrets a test sees at least after a login:
// the state, nonce, PKCE challenge and verifier, code, access, refresh and
// id tokens, the client secret, the login and session cookies.
const loginSecrets = 10

// checkNoSecrets fails when any span or metric attribute (or span name,
// event or status) holds a secret the test saw: a token, code, state,
// nonce, PKCE value, the client secret or a cookie.
func (r *rig) checkNoSecrets(atLeast int) {
	r.t.Helper()
	for _, l := range r.leaks(atLeast) {
		r.t.Error(l)
	}
}

// leaks lists the attributes that hold a secret the test saw.
func (r *rig) leaks(atLeast int) []string {
	r.t.Helper()
	attrs := r.allAttributes()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.secrets) < atLeast {
		r.t.Fatalf("only %d secrets collected: the recorder does not see the traffic", len(r.secrets))
	}
	var out []string
	for v, where := range attrs {
		for s, seen := range r.secrets {
			if strings.Contains(v, s) {
				out = append(out, where+" holds the "+seen)
			}
		}
	}
	return out
}

// TestSecretSearchFindsLeaks: the search of checkNoSecrets finds a secret
// in a span attribute, so that its silence in the other tests means
// something.
func TestSecretSearchFindsLeaks(t *testing.T) {
	r := newRig(t, oidctest.Config{})
	r.login()
	if leaks := r.leaks(loginSecrets); len(leaks) != 0 {
		t.Fatalf("leaks before the planted one: %v", leaks)
	}
	r.mu.Lock()
	var access string
	for v, where := range r.secrets {
		if strings.HasPrefix(where, "response access_token") {
			access = v
		}
	}
	r.mu.Unlock()
	if access == "" {
		t.Fatal("the recorder saw no access token")
	}
	_, span := r.tp.Tracer("test").Start(t.Context(), "planted")
	span.SetAttributes(attribute.String("planted", "Bearer "+access))
	span.End()
	if leaks := r.leaks(loginSecrets); len(leaks) != 1 || !strings.Contains(leaks[0], "access_token") {
		t.Fatalf("leaks %v, want the planted access token", leaks)
	}
}

// TestEndSessionsTelemetry: EndSessions has its span, with the number of
// sessions it found and the outcome; an empty subject ends it with
// invalid_request.
func TestEndSessionsTelemetry(t *testing.T) {
	r := newRig(t, oidctest.Config{})
	r.login()
	if err := r.auth.EndSessions(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	s := r.oneSpan("oidcauth.end_sessions")
	if attr(s, "oidcauth.sessions") != "1" || attr(s, "oidcauth.outcome") != "success" || attr(s, "oidcauth.provider") != r.op.Issuer {
		t.Errorf("end_sessions span: %v", s.Attributes)
	}
	if resp := r.b.Get("/private"); resp.StatusCode != http.StatusFound {
		t.Errorf("after EndSessions: %d, want a new login (302)", resp.StatusCode)
	}
	if err := r.auth.EndSessions(context.Background(), ""); !errors.Is(err, oidcauth.ErrBadRequest) {
		t.Fatalf("empty subject: %v", err)
	}
	spans := r.spansNamed("oidcauth.end_sessions")
	if len(spans) != 2 || attr(spans[1], "oidcauth.outcome") != "failure" || attr(spans[1], "error.type") != "invalid_request" || spans[1].Status.Code != codes.Error {
		t.Errorf("refused end_sessions spans %v", spans)
	}
}
