package oidcecho_test

import (
	"testing"

	"github.com/oidcauth/oidcauth/internal/apptest"
)

// TestREADMETestingSnippet keeps the Echo app in README.md's "Testing your
// app" the code of Example_testing.
func TestREADMETestingSnippet(t *testing.T) {
	apptest.CheckSnippet(t, "../README.md", "Testing your app", 1, "testing_example_test.go")
}
