package oidcauth

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// site is where the application lives for browsers, as its redirect URL
// says. Behind a reverse proxy the request's Host can be an internal name;
// the redirect URL is the address browsers use, so the checks that need the
// application's own origin take it from here, never from Host.
type site struct {
	origin   string // scheme://host[:port], lower case, without a default port
	host     string // host[:port] as a browser's Host header names it
	loopback bool   // the host is localhost or a loopback address: development
}

func newSite(redirect *url.URL) site {
	origin := canonicalOrigin(redirect)
	return site{
		origin:   origin,
		host:     strings.TrimPrefix(origin, redirect.Scheme+"://"),
		loopback: isLoopback(redirect.Hostname()),
	}
}

// canonicalOrigin is the origin of u (RFC 6454) as a browser serializes it
// in an Origin header: lower-case scheme and host, the port only when it is
// not the scheme's default.
func canonicalOrigin(u *url.URL) string {
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if port == "80" && scheme == "http" || port == "443" && scheme == "https" {
		port = ""
	}
	if port != "" || strings.Contains(host, ":") {
		host = net.JoinHostPort(host, port)
		host = strings.TrimSuffix(host, ":") // an IPv6 literal without a port
	}
	return scheme + "://" + host
}

// errCrossOrigin is the cause of a refused cross-origin request.
var errCrossOrigin = errors.New("cross-origin request refused")

// checkSameOrigin refuses a request that a browser sent from another
// origin, as http.CrossOriginProtection does, but against the application's
// origin (the redirect URL's) rather than the request's Host, which a
// reverse proxy may rewrite. A Sec-Fetch-Site of same-origin or none (typed
// by the user) passes and any other value is refused; without it, an Origin
// header must be the application's origin. A request with neither header is
// not a browser's cross-origin request and passes.
func (a *Auth) checkSameOrigin(r *http.Request) error {
	switch sfs := r.Header.Get("Sec-Fetch-Site"); sfs {
	case "same-origin", "none":
		return nil
	case "":
	default:
		return fmt.Errorf("%w: Sec-Fetch-Site is %q", errCrossOrigin, printable(sfs, 40))
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	if o, err := url.Parse(origin); err == nil && o.Host != "" && canonicalOrigin(o) == a.site.origin {
		return nil
	}
	return fmt.Errorf("%w: Origin %q is not the redirect URL's origin %s", errCrossOrigin, printable(origin, 200), a.site.origin)
}
