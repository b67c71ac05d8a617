package oidcauth_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"

	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidctest"
)

// newDPoPAuth turns DPoP on: each login gets its own key, and every token
// is bound to it.
func newDPoPAuth(ctx context.Context, issuer string) (*oidcauth.Auth, error) {
	return oidcauth.New(ctx, issuer,
		oidcauth.WithClientID("client"),
		oidcauth.WithClientSecret("secret"),
		oidcauth.WithRedirectURL("https://app.example.com/callback"),
		oidcauth.WithScopes("openid", "profile", "offline_access"),
		oidcauth.WithDPoP(), // ES256 unless the provider lists only ES384 or EdDSA
	)
}

// orders calls an API with the user's DPoP-bound token: Client adds a
// fresh proof to every request and answers the API's nonce challenge.
func dpopOrders(auth *oidcauth.Auth) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		resp, err := auth.Client(r).Get("https://api.example.com/orders")
		if err != nil {
			auth.HandleError(w, r, err)
			return
		}
		defer resp.Body.Close()
		io.Copy(w, resp.Body)
	}
}

// grpcHeaders gives a client other than Client the headers of one call:
// Authorization: DPoP <token> and the call's own proof.
func grpcHeaders(auth *oidcauth.Auth, r *http.Request) (http.Header, error) {
	return auth.AuthHeaders(r, http.MethodPost, "https://api.example.com/orders.v1.Orders/List")
}

// WithDPoP makes the login's tokens sender-constrained (RFC 9449).
func ExampleWithDPoP() {
	op, err := oidctest.NewProvider(oidctest.Config{DPoP: true, DPoPNonce: true})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()
	auth, err := newDPoPAuth(context.Background(), op.Issuer)
	if err != nil {
		log.Fatal(err)
	}
	_, _ = dpopOrders(auth), grpcHeaders
	fmt.Println(auth.Issuer() == op.Issuer)
	// Output: true
}
