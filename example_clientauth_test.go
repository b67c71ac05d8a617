package oidcauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/internal/apptest"
	"github.com/oidcauth/oidcauth/oidctest"
)

// private_key_jwt and PAR: the client authenticates with a signed assertion
// instead of a secret, pushes every authorization request, and publishes its
// public key for the provider at GET /jwks.
func ExampleWithClientKey() {
	op, err := oidctest.NewProvider(oidctest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()
	ctx, issuer := context.Background(), op.Issuer

	// In production: a key from a file, a KMS or an HSM (any crypto.Signer).
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	auth, err := oidcauth.New(ctx, issuer,
		oidcauth.WithClientID("client"),
		oidcauth.WithClientKey(key, ""), // kid: the key's RFC 7638 thumbprint
		oidcauth.WithPAR(true),          // push every authorization request (RFC 9126)
		oidcauth.WithRedirectURL("http://127.0.0.1:8080/callback"),
	)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	auth.Mount(mux)
	mux.Handle("GET /jwks", auth.ClientJWKSHandler()) // the client's jwks_uri: public keys only
	handler := auth.LoadAndSave(mux)

	// The provider knows the client by its public key.
	var set jose.JSONWebKeySet
	json.Unmarshal(auth.ClientJWKS(), &set)
	op.SetClient(oidctest.Client{ID: "client", AuthMethod: "private_key_jwt", JWKS: &set})

	// A login pushes its parameters; the browser carries only two.
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest("GET", "/login", nil))
	u, _ := url.Parse(rec.Header().Get("Location"))
	fmt.Println(rec.Code, slices.Sorted(func(yield func(string) bool) {
		for k := range u.Query() {
			if !yield(k) {
				return
			}
		}
	}))
	pushed := op.PushedRequests()[0]
	fmt.Println(pushed.Status, pushed.ClientAuth, pushed.Params.Get("code_challenge_method"))
	// Output:
	// 302 [client_id request_uri]
	// 201 private_key_jwt S256
}

// TestREADMEClientAuthSnippet keeps README.md's "FAPI 2.0 and enterprise
// providers" snippet the code of ExampleWithClientKey.
func TestREADMEClientAuthSnippet(t *testing.T) {
	apptest.CheckSnippet(t, "README.md", "FAPI 2.0 and enterprise providers", 0, "example_clientauth_test.go")
}
