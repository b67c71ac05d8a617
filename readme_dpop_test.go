package oidcauth_test

import (
	"testing"

	"github.com/oidcauth/oidcauth/internal/apptest"
)

// TestREADMEDPoPSnippets keeps the code of README.md's DPoP section
// compiled, in example_dpop_test.go.
func TestREADMEDPoPSnippets(t *testing.T) {
	// Block 0 is private_key_jwt's (example_clientauth_test.go).
	for n := 1; n <= 3; n++ {
		apptest.CheckSnippet(t, "README.md", "FAPI 2.0 and enterprise providers", n, "example_dpop_test.go")
	}
}
