package oidcauth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// TestMetricCodeIsBounded: the error.type of a failure is the Error's code,
// but a provider's error code outside the specifications' set is _OTHER:
// anyone who starts a login can send any ?error= to the callback, and an
// attribute taking any value would grow the application's metrics without
// bound.
func TestMetricCodeIsBounded(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{newError(ErrProvider, "access_denied", "", nil), "access_denied"},
		{newError(ErrProvider, "login_required", "", nil), "login_required"},
		{newError(ErrProvider, "made_up_by_an_attacker_1", "", nil), "_OTHER"},
		{newError(ErrProvider, strings.Repeat("x", 64), "", nil), "_OTHER"},
		{stateMismatch("why"), "state_mismatch"},
		{idTokenError(errors.New("bad")), "invalid_id_token"},
		{refuse("no", nil), "invalid_request"},
		{context.DeadlineExceeded, "timeout"},
		{errors.New("anything"), "_OTHER"},
		{fmt.Errorf("%w: EndSessions: the subject is empty", ErrBadRequest), "invalid_request"},
	} {
		if got := metricCode(tt.err); got != tt.want {
			t.Errorf("metricCode(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestTelemetryOptions: a nil provider is a wrong option.
func TestTelemetryOptions(t *testing.T) {
	var c config
	for name, opt := range map[string]Option{
		"WithTracerProvider": WithTracerProvider(nil),
		"WithMeterProvider":  WithMeterProvider(nil),
	} {
		if err := opt(&c); !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s(nil): %v, want ErrInvalidOption naming it", name, err)
		}
	}
}

// TestLogLinesCarryTraceIDs: a line logged with a context holding a span
// has its trace_id and span_id; without one it has neither.
func TestLogLinesCarryTraceIDs(t *testing.T) {
	var buf bytes.Buffer
	log := withTraceIDs(slog.New(slog.NewTextHandler(&buf, nil)).With("app", "x"))
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6}, TraceFlags: trace.FlagsSampled,
	})
	log.InfoContext(trace.ContextWithSpanContext(context.Background(), sc), "with")
	log.InfoContext(context.Background(), "without")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("lines %q", lines)
	}
	if !strings.Contains(lines[0], "app=x trace_id="+sc.TraceID().String()+" span_id="+sc.SpanID().String()) {
		t.Errorf("line with a span: %q", lines[0])
	}
	if strings.Contains(lines[1], "trace_id") || strings.Contains(lines[1], "span_id") {
		t.Errorf("line without a span: %q", lines[1])
	}
	if withTraceIDs(log) != log {
		t.Error("withTraceIDs wraps its own logger again")
	}
}

// TestDurationSetsAreBounded: the attribute sets of the provider request
// durations are kept, but no more than maxDurationSets, whatever statuses a
// provider answers; a set made past the bound is still the point's.
func TestDurationSetsAreBounded(t *testing.T) {
	tel := &telemetry{provider: attrProvider.String("https://op.example")}
	for status := 100; status < 100+2*maxDurationSets; status++ {
		k := durationKey{endpoint: "token", method: "POST", status: status, errType: strconv.Itoa(status)}
		s := tel.durationSet(k)
		if v, ok := s.Value("http.response.status_code"); !ok || v.AsInt64() != int64(status) {
			t.Fatalf("status %d: the set has %v", status, v)
		}
		if v, _ := s.Value(attrError); v.AsString() != strconv.Itoa(status) {
			t.Fatalf("status %d: error.type %v", status, v)
		}
		if v, _ := s.Value(attrProvider); v.AsString() != "https://op.example" || s.Len() != 5 {
			t.Fatalf("status %d: %v", status, s.Encoded(attribute.DefaultEncoder()))
		}
	}
	if n := len(tel.durationSets); n != maxDurationSets {
		t.Errorf("%d sets kept, want %d", n, maxDurationSets)
	}
	if s := tel.durationSet(durationKey{endpoint: "jwks", method: "GET", status: 200}); s.Len() != 4 {
		t.Errorf("a success has %d attributes, want 4 (no error.type)", s.Len())
	}
}
