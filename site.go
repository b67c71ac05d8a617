package oidcauth

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// site is where the application lives for browsers, as its redirect URL
// says. Behind a reverse proxy the request's Host can be an internal name;
// the redirect URL is the address browsers use, so the checks that need the
// application's own origin take it from here, never from Host.
type site struct {
	origin   string // scheme://host[:port], lower case, without a default port
	scheme   string
	host     string // host[:port] as a browser's Host header names it
	loopback bool   // the host is localhost or a loopback address: development

	// lastHostWarning is when warnOtherHost last logged (unix nanoseconds).
	lastHostWarning atomic.Int64
}

// hostWarningEvery spaces the warnings about logins started on another
// host, so that a flood of them does not flood the log.
const hostWarningEvery = time.Minute

func newSite(redirect *url.URL) *site {
	origin := canonicalOrigin(redirect)
	return &site{
		scheme:   strings.ToLower(redirect.Scheme),
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

// warnOtherHost logs, at most once per hostWarningEvery, that a login
// starts on a request for another host than the redirect URL's: the
// browser keeps the login cookie for the host that set it, so the callback,
// on the redirect URL's host, will not find it. That is the classic
// development mistake of opening localhost while the redirect URL says
// 127.0.0.1. Behind a reverse proxy the host compared is X-Forwarded-Host
// when the proxy sets it; it decides nothing but this warning.
func (a *Auth) warnOtherHost(r *http.Request) {
	host := r.Host
	if fwd := r.Header.Get("X-Forwarded-Host"); fwd != "" {
		host, _, _ = strings.Cut(fwd, ",")
		host = strings.TrimSpace(host)
	}
	if strings.TrimPrefix(canonicalOrigin(&url.URL{Scheme: a.site.scheme, Host: host}), a.site.scheme+"://") == a.site.host {
		return
	}
	now := time.Now().UnixNano()
	last := a.site.lastHostWarning.Load()
	if now-last < int64(hostWarningEvery) || !a.site.lastHostWarning.CompareAndSwap(last, now) {
		return
	}
	a.log.WarnContext(r.Context(), "oidcauth: a login started on another host than the redirect URL's; the browser will not bring its login cookie to the callback, which will fail with state_mismatch",
		"request_host", printable(host, 200), "redirect_host", a.site.host,
		"fix", "open the app at "+a.site.origin+" (localhost and 127.0.0.1 are different hosts to a browser); behind a reverse proxy that rewrites Host, have it set X-Forwarded-Host")
}

// noLoginCookie is the error of a callback whose browser has no login
// cookie for its state. Its likeliest cause is a login started on another
// host than the redirect URL's, whose cookie the browser kept for that
// host: the log says so, and so does the page in development (the redirect
// URL on a loopback host), where localhost against 127.0.0.1 is the usual
// slip.
func (a *Auth) noLoginCookie() *Error {
	e := stateMismatch("no login cookie for this state in this browser; a likely cause is a login started on another host than " +
		a.site.host + ", the redirect URL's (the browser keeps a cookie for the host that set it)")
	if a.site.loopback {
		e.Description += " Logins must start at " + a.site.origin + ", the address of the redirect URL: " +
			"if you opened the app at another one (localhost instead of 127.0.0.1, say), open " + a.site.origin + " and log in again."
	}
	return e
}
