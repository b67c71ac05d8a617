package oidcauth

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidctest"
)

// The forms providers send the standard claims in, each read by Claims and
// by a struct that embeds Claims beside claims of its own.
func TestClaimsDecoding(t *testing.T) {
	exp := time.Unix(1700000000, 0).UTC()
	tests := []struct {
		name, json string
		check      func(c *Claims) bool
	}{
		{"aud as a string", `{"aud":"client"}`, func(c *Claims) bool { return slices.Equal(c.Audience, []string{"client"}) }},
		{"aud as an array", `{"aud":["a","b"]}`, func(c *Claims) bool { return slices.Equal(c.Audience, []string{"a", "b"}) }},
		{"aud null", `{"aud":null}`, func(c *Claims) bool { return c.Audience == nil }},
		{"times as integers", `{"exp":1700000000,"iat":1699999000,"auth_time":1699998000}`, func(c *Claims) bool {
			return c.Expiry.Equal(exp) && c.IssuedAt.Unix() == 1699999000 && c.AuthTime.Unix() == 1699998000 && c.Expiry.Location() == time.UTC
		}},
		{"a time with a fraction", `{"exp":1700000000.75}`, func(c *Claims) bool { return c.Expiry.Equal(exp) }},
		{"times absent", `{}`, func(c *Claims) bool { return c.Expiry.IsZero() && c.IssuedAt.IsZero() && c.AuthTime.IsZero() }},
		{"time null", `{"exp":null}`, func(c *Claims) bool { return c.Expiry.IsZero() }},
		{"time as RFC 3339, as Claims encode", `{"exp":"2023-11-14T22:13:20Z"}`, func(c *Claims) bool { return c.Expiry.Equal(exp) }},
		{"booleans", `{"email_verified":true,"phone_number_verified":false}`, func(c *Claims) bool { return bool(c.EmailVerified && !c.PhoneNumberVerified) }},
		{"booleans as strings", `{"email_verified":"true","phone_number_verified":"false"}`, func(c *Claims) bool {
			return bool(c.EmailVerified && !c.PhoneNumberVerified)
		}},
		{"a boolean in another form is false", `{"email_verified":1}`, func(c *Claims) bool { return !bool(c.EmailVerified) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Claims
			if err := json.Unmarshal([]byte(tt.json), &c); err != nil || !tt.check(&c) {
				t.Fatalf("Claims from %s: %+v, %v", tt.json, c, err)
			}
			var own struct {
				Claims
				Groups []string `json:"groups"`
			}
			withGroups := tt.json[:len(tt.json)-1]
			if withGroups != "{" {
				withGroups += ","
			}
			withGroups += `"groups":["admins"]}`
			if err := json.Unmarshal([]byte(withGroups), &own); err != nil || !tt.check(&own.Claims) || !slices.Equal(own.Groups, []string{"admins"}) {
				t.Fatalf("embedded Claims from %s: %+v, %v", withGroups, own, err)
			}
		})
	}
	for _, bad := range []string{`{"exp":"tomorrow"}`, `{"exp":true}`, `{"aud":1}`, `{"aud":[1]}`} {
		if err := json.Unmarshal([]byte(bad), new(Claims)); err == nil {
			t.Errorf("Claims from %s: no error", bad)
		}
	}
}

// Claims encoded with encoding/json read back the same.
func TestClaimsRoundTrip(t *testing.T) {
	var c Claims
	if err := json.Unmarshal([]byte(`{"sub":"x","aud":"client","exp":1700000000,"email_verified":"true"}`), &c); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back Claims
	if err := json.Unmarshal(b, &back); err != nil || back.Subject != "x" || !back.Expiry.Equal(c.Expiry.Time) ||
		!slices.Equal(back.Audience, c.Audience) || !bool(back.EmailVerified) {
		t.Fatalf("round trip through %s: %+v, %v", b, back, err)
	}
}

// DecodeClaims into a struct that embeds Claims fills both the standard
// claims and the application's own.
func TestDecodeClaimsEmbedded(t *testing.T) {
	op := newProvider(t, oidctest.Config{User: oidctest.User{Subject: "carol", Claims: map[string]any{
		"email": "carol@example.com", "email_verified": "true", "groups": []string{"admins", "staff"},
	}}})
	h := newHarnessWith(t, op)
	type appClaims struct {
		Claims
		Groups []string `json:"groups"`
	}
	var got appClaims
	var gotPtr struct {
		*Claims
		Groups []string `json:"groups"`
	}
	var errs [2]error
	h.app.Config.Handler = h.auth.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/callback" {
			h.auth.CallbackHandler().ServeHTTP(w, r)
			return
		}
		h.auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			errs[0] = DecodeClaims(r.Context(), &got)
			errs[1] = DecodeClaims(r.Context(), &gotPtr)
		})).ServeHTTP(w, r)
	}))
	h.mustLogin("/x")
	h.get("/x")
	if errs[0] != nil || got.Subject != "carol" || !bool(got.EmailVerified) || got.Expiry.IsZero() ||
		!slices.Contains(got.Audience, "client") || !slices.Equal(got.Groups, []string{"admins", "staff"}) {
		t.Fatalf("embedded Claims: %+v, %v", got, errs[0])
	}
	if errs[1] != nil || gotPtr.Claims == nil || gotPtr.Subject != "carol" || !slices.Equal(gotPtr.Groups, []string{"admins", "staff"}) {
		t.Fatalf("embedded *Claims: %+v, %v", gotPtr, errs[1])
	}
}
