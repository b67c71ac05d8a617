package oidcauth

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Multi-tenant issuers: Microsoft Entra ID's common and organizations
// endpoints publish the issuer https://login.microsoftonline.com/{tenantid}/v2.0,
// and each token names its tenant, in its iss and its tid claim. go-oidc
// checks iss against one fixed string, so with a template the verifiers skip
// that check and tokenIssuer does it instead.

// tenantPlaceholder is the placeholder a multi-tenant issuer has for the
// tenant.
const tenantPlaceholder = "{tenantid}"

// tenancy is a multi-tenant issuer (WithMultiTenantIssuer).
type tenancy struct {
	// prefix and suffix are the template before and after the placeholder.
	prefix, suffix string
	// allowed are the tenants allowed, lowercase; empty allows every tenant.
	allowed []string
}

// WithMultiTenantIssuer accepts a provider whose issuer is a template with a
// {tenantid} placeholder, as Microsoft Entra ID's common and organizations
// endpoints publish: pass New the URL of the discovery document's issuer
// (https://login.microsoftonline.com/organizations/v2.0); its discovery
// document must name the same URL with that path segment replaced by
// {tenantid}. With WithEndpoints, pass New the template itself.
//
// Every id_token and logout token must then carry a tid claim that is a
// tenant ID (a GUID), and an iss that is exactly the template with that tid
// substituted; a present RFC 9207 iss parameter must name an allowed tenant
// and equal the id_token's iss. When tenants are given, only those tenants
// (GUIDs, compared case-insensitively) may log in; otherwise any tenant of
// the provider can, which is what "common" means: restrict the users in the
// application, or list the tenants. Sessions, logouts and the session index
// are keyed by each token's own issuer, so tenants never share sessions.
func WithMultiTenantIssuer(tenants ...string) Option {
	return func(c *config) error {
		for _, t := range tenants {
			if !isTenantID(t) {
				return optionError("WithMultiTenantIssuer", "the tenant %q is not a tenant ID (a GUID)", printable(t, 64))
			}
		}
		c.multiTenant = true
		c.tenants = nil
		for _, t := range tenants {
			c.tenants = append(c.tenants, strings.ToLower(t))
		}
		return nil
	}
}

// parseTenantTemplate reads a multi-tenant issuer: exactly one placeholder,
// as a whole path segment, no other brace.
func parseTenantTemplate(template string) (*tenancy, error) {
	prefix, suffix, ok := strings.Cut(template, tenantPlaceholder)
	if !ok || strings.ContainsAny(prefix, "{}") || strings.ContainsAny(suffix, "{}") {
		return nil, fmt.Errorf("%q does not have exactly one %s placeholder", template, tenantPlaceholder)
	}
	u, err := url.Parse(prefix)
	if err != nil || u.Host == "" || !strings.HasSuffix(u.Path, "/") || suffix != "" && !strings.HasPrefix(suffix, "/") {
		return nil, fmt.Errorf("the %s placeholder of %q is not a whole segment of its path", tenantPlaceholder, template)
	}
	return &tenancy{prefix: prefix, suffix: suffix}, nil
}

// fits reports whether issuer is the template with its placeholder replaced
// by one path segment, such as "common": the discovery document at issuer
// may publish the template.
func (t *tenancy) fits(issuer string) bool {
	seg, ok := strings.CutPrefix(issuer, t.prefix)
	if !ok {
		return false
	}
	seg, ok = strings.CutSuffix(seg, t.suffix)
	return ok && seg != "" && !strings.ContainsAny(seg, "/?#{}")
}

// setupTenancy sets the Auth's issuer from the configuration: with
// WithMultiTenantIssuer, the template (given, or published by discovery at
// issuer); without it, a template is refused.
func (p *provider) setupTenancy(cfg config, issuer, discovered string) error {
	if !cfg.multiTenant {
		if strings.Contains(discovered, tenantPlaceholder) {
			return optionError("WithMultiTenantIssuer", "the provider's issuer %q is a multi-tenant template; accept it with WithMultiTenantIssuer", discovered)
		}
		return nil
	}
	t, err := parseTenantTemplate(discovered)
	if err != nil {
		return optionError("WithMultiTenantIssuer", "the provider's issuer: %v", err)
	}
	if discovered != issuer && !t.fits(issuer) {
		return optionError("WithMultiTenantIssuer", "the provider's issuer %q is not %q with one path segment replaced by %s", discovered, issuer, tenantPlaceholder)
	}
	t.allowed = cfg.tenants
	p.issuer, p.tenancy = discovered, t
	return nil
}

// isTenantID reports whether s is a tenant ID: a GUID, 8-4-4-4-12 hex digits.
func isTenantID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}

// tenantAllowed reports whether the well-formed tenant ID tid may log in.
func (t *tenancy) tenantAllowed(tid string) bool {
	return len(t.allowed) == 0 || slices.Contains(t.allowed, strings.ToLower(tid))
}

// tokenIssuer checks the iss of a verified token, whose tid claim is tid,
// and returns it: the session's issuer. Without a template iss must be the
// issuer (go-oidc checked it already; this checks again). With one, tid
// must be a tenant ID, iss exactly the template with tid substituted, and
// the tenant allowed.
func (p *provider) tokenIssuer(iss, tid string) (string, error) {
	t := p.tenancy
	if t == nil {
		if iss != p.issuer {
			return "", fmt.Errorf("the token's iss %q is not the issuer %q", printable(iss, 200), p.issuer)
		}
		return iss, nil
	}
	switch {
	case !isTenantID(tid):
		return "", fmt.Errorf("the token's tid %q is missing or not a tenant ID, which a multi-tenant issuer requires", printable(tid, 64))
	case iss != t.prefix+tid+t.suffix:
		return "", fmt.Errorf("the token's iss %q is not the issuer of its tenant %q", printable(iss, 200), tid)
	case !t.tenantAllowed(tid):
		return "", fmt.Errorf("the tenant %q is not allowed (WithMultiTenantIssuer)", tid)
	}
	return iss, nil
}

// acceptsIssuer reports whether iss, from a request (the RFC 9207 iss
// parameter, a front-channel logout), names this provider: the issuer, or
// with a template the issuer of an allowed tenant.
func (p *provider) acceptsIssuer(iss string) bool {
	t := p.tenancy
	if t == nil {
		return iss == p.issuer
	}
	tid, ok := strings.CutPrefix(iss, t.prefix)
	if !ok {
		return false
	}
	tid, ok = strings.CutSuffix(tid, t.suffix)
	return ok && isTenantID(tid) && t.tenantAllowed(tid)
}
