package oidctest_test

import (
	"testing"

	"github.com/oidcauth/oidcauth/internal/apptest"
)

// TestREADMETestingSnippet keeps the net/http test in README.md's "Testing
// your app" the code of Example.
func TestREADMETestingSnippet(t *testing.T) {
	apptest.CheckSnippet(t, "../README.md", "Testing your app", 0, "example_test.go")
}
