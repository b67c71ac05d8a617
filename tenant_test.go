package oidcauth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidctest"
)

const (
	tenantA = "0b5d4f3e-1c2a-4b6d-8e9f-a1b2c3d4e5f6"
	tenantB = "7e8f9a0b-3c4d-4e5f-9a6b-c7d8e9f0a1b2"
)

// tenantIssuer is the issuer of tenant at the multi-tenant provider op.
func tenantIssuer(op *oidctest.Provider, tenant string) string {
	return strings.TrimSuffix(op.Issuer, "/common") + "/" + tenant
}

func TestMultiTenantLogin(t *testing.T) {
	t.Parallel()
	op := newProvider(t, oidctest.Config{Tenant: tenantA})
	h := newHarnessWith(t, op, WithMultiTenantIssuer())
	if want := strings.TrimSuffix(op.Issuer, "/common") + "/{tenantid}"; h.auth.Issuer() != want {
		t.Fatalf("Issuer() %q, want the template %q", h.auth.Issuer(), want)
	}
	h.serveBackchannel()
	fc := h.serveFrontchannel()

	h.mustLogin("/me")
	if iss := h.claims()["iss"]; iss != tenantIssuer(op, tenantA) {
		t.Fatalf("iss %v, want tenant A's issuer", iss)
	}
	sid, sub := h.sidSub()
	// Back-channel logout, with the tenant's issuer and tid.
	if err := op.Logout(sid); err != nil {
		t.Fatal(err)
	}
	h.mustBeLoggedOut("after the back-channel logout")

	// Front-channel logout, with the tenant's issuer.
	h.mustLogin("/me")
	sid, _ = h.sidSub()
	if resp := frontchannel(t, http.MethodGet, fc, fcQuery(op.Issuer, sid)); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("front-channel logout with the common issuer: %d, want 400", resp.StatusCode)
	}
	if resp := frontchannel(t, http.MethodGet, fc, fcQuery(tenantIssuer(op, tenantA), sid)); resp.StatusCode != http.StatusOK {
		t.Fatalf("front-channel logout: %d %s", resp.StatusCode, body(resp))
	}
	h.mustBeLoggedOut("after the front-channel logout")

	// EndSessions needs the tenant.
	h.mustLogin("/me")
	if err := h.auth.EndSessions(context.Background(), sub); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("EndSessions with a multi-tenant issuer: %v, want ErrBadRequest", err)
	}
	if err := h.auth.EndIssuerSessions(context.Background(), tenantIssuer(op, tenantB), sub); err != nil {
		t.Fatal(err)
	}
	if s := h.apiStatus(); s != http.StatusOK {
		t.Fatalf("EndIssuerSessions of another tenant ended the session: %d", s)
	}
	if err := h.auth.EndIssuerSessions(context.Background(), tenantIssuer(op, tenantA), sub); err != nil {
		t.Fatal(err)
	}
	h.mustBeLoggedOut("after EndIssuerSessions")
}

// TestTenantsDoNotShareSessions: two tenants' identical sub and sid are two
// users: a logout in one tenant ends nothing in the other.
func TestTenantsDoNotShareSessions(t *testing.T) {
	t.Parallel()
	op := newProvider(t, oidctest.Config{Tenant: tenantA})
	h := newHarnessWith(t, op, WithMultiTenantIssuer())
	h.serveBackchannel()
	fc := h.serveFrontchannel()
	op.SetTamper(oidctest.Tamper{IDTokenClaims: func(c map[string]any) { c["sid"] = "same-sid" }})
	h.mustLogin("/me")
	op.SetTenant(tenantB)
	b := h.newBrowser()
	b.mustLogin("/me")

	if resp := frontchannel(t, http.MethodGet, fc, fcQuery(tenantIssuer(op, tenantB), "same-sid")); resp.StatusCode != http.StatusOK {
		t.Fatalf("front-channel logout: %d", resp.StatusCode)
	}
	b.mustBeLoggedOut("tenant B's browser")
	if s := h.apiStatus(); s != http.StatusOK {
		t.Fatalf("tenant B's logout ended tenant A's session with the same sid: %d", s)
	}
	// A back-channel logout of the same sub in tenant B ends nothing in A.
	// (The login after the logout has a newer id_token.)
	op.SetTamper(oidctest.Tamper{IDTokenClaims: func(c map[string]any) {
		c["sid"], c["iat"] = "same-sid", time.Now().Add(2*time.Second).Unix()
	}})
	b.mustLogin("/me")
	if err := op.LogoutSubject("alice"); err != nil { // signed for tenant B
		t.Fatal(err)
	}
	b.mustBeLoggedOut("tenant B's browser, by sub")
	if s := h.apiStatus(); s != http.StatusOK {
		t.Fatalf("tenant B's logout by sub ended tenant A's session: %d", s)
	}
}

func TestMultiTenantRefusals(t *testing.T) {
	t.Parallel()
	set := func(k string, v any) func(map[string]any) { return func(c map[string]any) { c[k] = v } }
	tests := []struct {
		name    string
		tenants []string
		tamper  oidctest.Tamper
		issParm bool // the provider sends the RFC 9207 iss parameter
		want    error
		// early: refused before any token request
		early bool
	}{
		{name: "iss names another tenant than tid", tamper: oidctest.Tamper{IDTokenClaims: func(c map[string]any) {
			c["iss"] = strings.Replace(c["iss"].(string), tenantA, tenantB, 1)
		}}, want: ErrIDToken},
		{name: "tid names another tenant than iss", tamper: oidctest.Tamper{IDTokenClaims: set("tid", tenantB)}, want: ErrIDToken},
		{name: "missing tid", tamper: oidctest.Tamper{IDTokenClaims: func(c map[string]any) { delete(c, "tid") }}, want: ErrIDToken},
		{name: "malformed tid", tamper: oidctest.Tamper{IDTokenClaims: func(c map[string]any) {
			c["tid"] = "common"
			c["iss"] = strings.Replace(c["iss"].(string), tenantA, "common", 1)
		}}, want: ErrIDToken},
		{name: "tid not a string", tamper: oidctest.Tamper{IDTokenClaims: set("tid", 42)}, want: ErrIDToken},
		{name: "iss is the template", tamper: oidctest.Tamper{IDTokenClaims: func(c map[string]any) {
			c["iss"] = strings.Replace(c["iss"].(string), tenantA, "{tenantid}", 1)
		}}, want: ErrIDToken},
		{name: "tenant not allowed", tenants: []string{tenantB}, want: ErrIDToken},
		{name: "iss parameter of a tenant not allowed", tenants: []string{tenantB}, issParm: true, want: ErrIssuerMismatch, early: true},
		{name: "iss parameter not a tenant's", issParm: true, tamper: oidctest.Tamper{Iss: "COMMON"}, want: ErrIssuerMismatch, early: true},
		{name: "iss parameter of another provider", issParm: true, tamper: oidctest.Tamper{Iss: "https://attacker.example/" + tenantA}, want: ErrIssuerMismatch, early: true},
		{name: "iss parameter of another allowed tenant than the id_token's", tenants: []string{tenantA, tenantB}, issParm: true,
			tamper: oidctest.Tamper{Iss: "TENANT_B"}, want: ErrIssuerMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var last error
			op := newProvider(t, oidctest.Config{Tenant: tenantA, IssParameter: tt.issParm})
			h := newHarnessWith(t, op, WithMultiTenantIssuer(tt.tenants...), recordErrors(&last))
			switch tt.tamper.Iss {
			case "TENANT_B":
				tt.tamper.Iss = tenantIssuer(op, tenantB)
			case "COMMON":
				tt.tamper.Iss = op.Issuer
			}
			op.SetTamper(tt.tamper)
			resp := h.login("/me")
			if resp.StatusCode < 400 || !errors.Is(last, tt.want) {
				t.Fatalf("login: status %d error %v, want %v", resp.StatusCode, last, tt.want)
			}
			if s := h.apiStatus(); s != http.StatusUnauthorized {
				t.Fatalf("a session after a refused login: %d", s)
			}
			if n := op.Hits("/token"); tt.early && n != 0 {
				t.Fatalf("%d token requests, want the response refused before any", n)
			}
		})
	}
	// The same rules hold with each tenant allowed, for a check of the
	// allow-list itself.
	t.Run("tenant allowed", func(t *testing.T) {
		t.Parallel()
		op := newProvider(t, oidctest.Config{Tenant: tenantA, IssParameter: true})
		h := newHarnessWith(t, op, WithMultiTenantIssuer(tenantB, strings.ToUpper(tenantA)))
		h.mustLogin("/me")
	})
}

// TestMultiTenantRefreshKeepsTheTenant: the login keeps its tenant across
// requests and refreshes; a refreshed id_token of another tenant than the
// login's ends the login.
func TestMultiTenantRefreshKeepsTheTenant(t *testing.T) {
	t.Parallel()
	var last error
	op := newProvider(t, oidctest.Config{Tenant: tenantA})
	h := newHarnessWith(t, op, WithMultiTenantIssuer(), offline, recordErrors(&last))
	h.mustLogin("/me")
	expireTokens(t, h)
	if resp := h.do(http.MethodGet, "/api/token", nil); resp.StatusCode != http.StatusOK || op.CountGrants("refresh_token") != 1 {
		t.Fatalf("a refresh of the login's own tenant: %d %s, error %v", resp.StatusCode, body(resp), last)
	}
	expireTokens(t, h)
	op.SetTenant(tenantB) // a valid tenant, but not the login's
	resp := h.do(http.MethodGet, "/api/token", nil)
	if resp.StatusCode != http.StatusBadGateway || !errors.Is(last, ErrIDToken) || op.CountGrants("refresh_token") != 2 {
		t.Fatalf("GET /api/token: %d %s, error %v; want 502 ErrIDToken after a second refresh", resp.StatusCode, body(resp), last)
	}
	if stored(t, h) != nil || h.apiStatus() != http.StatusUnauthorized {
		t.Fatal("the login survived a refresh with another tenant's id_token")
	}
}

func TestMultiTenantLogoutTokenRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		tenants []string
		edit    func(op *oidctest.Provider, c map[string]any)
	}{
		{"iss of another tenant than tid", nil, func(op *oidctest.Provider, c map[string]any) { c["iss"] = tenantIssuer(op, tenantB) }},
		{"missing tid", nil, func(op *oidctest.Provider, c map[string]any) { delete(c, "tid") }},
		{"malformed tid", nil, func(op *oidctest.Provider, c map[string]any) { c["tid"] = "x" + tenantA[1:] + "x" }},
		{"tenant not allowed", []string{tenantB}, func(op *oidctest.Provider, c map[string]any) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			op := newProvider(t, oidctest.Config{Tenant: tenantA})
			allowed := append([]string{tenantA}, tt.tenants...)
			if tt.tenants != nil {
				allowed = tt.tenants
			}
			h := newHarnessWith(t, op, WithMultiTenantIssuer(allowed...))
			uri := h.serveBackchannel()
			if tt.tenants != nil {
				// The login itself would be refused: index a session of the
				// tenant by hand, through a second Auth that allows it.
				h2 := newHarnessWith(t, op, WithMultiTenantIssuer(), WithSessionManager(h.auth.sm))
				h2.mustLogin("/me")
				h = h2
			} else {
				h.mustLogin("/me")
			}
			sid, sub := h.sidSub()
			c := op.LogoutClaims("client", sub, sid)
			tt.edit(op, c)
			checkRefused(t, postLogout(t, uri, logoutForm(op.SignTyped(c, "logout+jwt")), nil))
			if s := h.apiStatus(); s != http.StatusOK {
				t.Fatalf("a refused logout token ended the session: %d", s)
			}
		})
	}
}

func TestMultiTenantOptions(t *testing.T) {
	t.Parallel()
	single := newProvider(t, oidctest.Config{})
	multi := newProvider(t, oidctest.Config{Tenant: tenantA})
	base := strings.TrimSuffix(multi.Issuer, "/common")
	endpoints := &Endpoints{Authorize: multi.Issuer + "/authorize", Token: multi.Issuer + "/token", JWKS: multi.Issuer + "/jwks"}
	elsewhere := newProvider(t, oidctest.Config{Tenant: tenantA})
	elsewhere.SetTamper(oidctest.Tamper{Metadata: func(doc map[string]any) { doc["issuer"] = base + "/{tenantid}" }})
	tests := []struct {
		name, issuer string
		opts         []Option
		ok           bool
	}{
		{"template from discovery without the option", multi.Issuer, nil, false},
		{"template by hand without the option", base + "/{tenantid}", []Option{WithEndpoints(*endpoints)}, false},
		{"template by hand with the option", base + "/{tenantid}", []Option{WithEndpoints(*endpoints), WithMultiTenantIssuer()}, true},
		{"the option, a provider of one issuer", single.Issuer, []Option{WithMultiTenantIssuer()}, false},
		{"the option, discovery", multi.Issuer, []Option{WithMultiTenantIssuer(tenantA)}, true},
		{"a tenant that is not a GUID", multi.Issuer, []Option{WithMultiTenantIssuer("contoso.onmicrosoft.com")}, false},
		{"a template of another host", elsewhere.Issuer, []Option{WithMultiTenantIssuer()}, false},
		{"two placeholders", base + "/{tenantid}/{tenantid}", []Option{WithEndpoints(*endpoints), WithMultiTenantIssuer()}, false},
		{"placeholder inside a segment", base + "/t-{tenantid}", []Option{WithEndpoints(*endpoints), WithMultiTenantIssuer()}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append([]Option{WithClientID("client"), WithClientSecret("secret"), WithRedirectURL("http://127.0.0.1:8080/callback")}, tt.opts...)
			_, err := New(context.Background(), tt.issuer, opts...)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "WithMultiTenantIssuer") {
				t.Fatalf("New: %v, want an ErrInvalidOption naming WithMultiTenantIssuer", err)
			}
		})
	}
}

func TestIsTenantID(t *testing.T) {
	for s, want := range map[string]bool{
		tenantA: true, strings.ToUpper(tenantA): true,
		"": false, "common": false, tenantA + "0": false, tenantA[:35]: false,
		strings.ReplaceAll(tenantA, "-", "_"): false, "g" + tenantA[1:]: false,
		"{" + tenantA[1:35] + "}": false,
	} {
		if got := isTenantID(s); got != want {
			t.Errorf("isTenantID(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestEndIssuerSessionsRefusesAForeignIssuer(t *testing.T) {
	t.Parallel()
	h := newHarness(t, oidctest.Config{})
	h.mustLogin("/me")
	_, sub := h.sidSub()
	if err := h.auth.EndIssuerSessions(context.Background(), "https://attacker.example", sub); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("EndIssuerSessions with a foreign issuer: %v, want ErrBadRequest", err)
	}
	if s := h.apiStatus(); s != http.StatusOK {
		t.Fatalf("the session ended: %d", s)
	}
	if err := h.auth.EndIssuerSessions(context.Background(), h.op.Issuer, sub); err != nil {
		t.Fatal(err)
	}
	h.mustBeLoggedOut("after EndIssuerSessions")
}

// TestIndexKeysUnchanged: for an Auth of one issuer the index keys are
// those earlier versions wrote, and a login records no issuer, so the
// sessions of an upgrade are found by logouts as they are.
func TestIndexKeysUnchanged(t *testing.T) {
	if got, want := sidIndexKey("https://op.example.com", "sid-1"), keyPrefix+"sid.QdndSDHj0r-aCDnk38xTDtKpZ_aTyEIPBBZ3DGhdGKE"; got != want {
		t.Errorf("sid key %q, want %q", got, want)
	}
	if got, want := subIndexKey("https://op.example.com", "alice"), keyPrefix+"sub.vIQGwrDMxcDaG-veQ8Tfy2yW9yf-WF4Sq8HoKmQnEBM"; got != want {
		t.Errorf("sub key %q, want %q", got, want)
	}
	h := newHarness(t, oidctest.Config{})
	h.mustLogin("/me")
	sid, sub := h.sidSub()
	for _, key := range []string{sidIndexKey(h.op.Issuer, sid), subIndexKey(h.op.Issuer, sub)} {
		if _, found, _ := h.auth.sm.Store.Find(key); !found {
			t.Errorf("no index record under %q", key)
		}
	}
	a := &Auth{providers: []*provider{{issuer: "https://op.example.com"}}}
	if got := a.issuerOf(&login{}); got != a.primary().issuer {
		t.Errorf("a login without Issuer (before the field) is of %q, want the Auth's", got)
	}
}
