package oidcauth

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/oidcauth/oidcauth/oidctest"
)

// The Error an ErrorHandler gets says whether the request is an API
// request, so a custom handler needs no reference to the Auth.
func TestErrorSaysAPI(t *testing.T) {
	var last error
	h := newHarness(t, oidctest.Config{}, recordErrors(&last))
	tests := []struct {
		name   string
		path   string
		header http.Header
		api    bool
	}{
		{"browser navigation", "/callback?state=nope", http.Header{"Accept": {"text/html"}}, false},
		{"JSON client", "/callback?state=nope", http.Header{"Accept": {"application/json"}}, true},
		{"fetch", "/callback?state=nope", http.Header{"Sec-Fetch-Mode": {"cors"}}, true},
		{"anonymous API request (401)", "/api/me", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			last = nil
			h.do(http.MethodGet, tt.path, tt.header)
			var e *Error
			if !errors.As(last, &e) {
				t.Fatalf("the error handler got %v, want an *Error", last)
			}
			if e.API != tt.api {
				t.Fatalf("Error.API = %v, want %v (%v)", e.API, tt.api, e)
			}
		})
	}
}

// DefaultErrorHandler answers JSON to a request under an API prefix even
// when it fails with something other than 401 and accepts HTML.
func TestDefaultErrorHandlerAPIPrefix(t *testing.T) {
	h := newHarness(t, oidctest.Config{})
	h.mustLogin("/me")
	// A call the app makes with Client to a server that is not there: 500.
	resp := h.do(http.MethodGet, "/api/call?url=http://127.0.0.1:1/", http.Header{"Accept": {"text/html,*/*"}})
	if resp.StatusCode != http.StatusInternalServerError || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") ||
		!strings.Contains(body(resp), `"error":"server_error"`) {
		t.Fatalf("GET /api/call: %d %q %s, want 500 JSON", resp.StatusCode, resp.Header.Get("Content-Type"), body(resp))
	}
}
