package oidcauth

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

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
