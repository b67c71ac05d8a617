package oidcauth_test

import (
	"testing"

	"github.com/oidcauth/oidcauth/internal/apptest"
)

// TestREADMEDPoPSnippets keeps the code of README.md's DPoP section
// compiled, in example_dpop_test.go.
func TestREADMEDPoPSnippets(t *testing.T) {
	for n := range 3 {
		apptest.CheckSnippet(t, "README.md", "FAPI 2.0 and enterprise providers", n, "example_dpop_test.go")
	}
}
