package oidcauth

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// The login chooser: with several providers (WithProvider), a login that
// names none goes to a page that lists them, each a link to the login
// path with its provider parameter.

// WithLoginChooser replaces the default login chooser, a minimal page with
// a link per provider. h serves GET requests of the login path
// (WithLoginPath) without a provider parameter; their return_to
// parameter is where the login returns. [Auth.Providers] and
// [Auth.LoginURL] give what its links need. Without several providers it
// is never used.
func WithLoginChooser(h http.Handler) Option {
	return func(c *config) error {
		if h == nil {
			return optionError("WithLoginChooser", "the handler is nil")
		}
		c.chooser = h
		return nil
	}
}

// toChooser sends an anonymous browser navigation that needs a login to
// the login chooser, to come back to returnTo.
func (a *Auth) toChooser(w http.ResponseWriter, r *http.Request, returnTo string) {
	setNoStore(w.Header())
	http.Redirect(w, r, a.loginPath+"?"+url.Values{"return_to": {returnTo}}.Encode(), http.StatusFound)
}

// showChooser answers the login path without a provider: the
// application's chooser, or the default page.
func (a *Auth) showChooser(w http.ResponseWriter, r *http.Request, returnTo string) {
	if a.chooser != nil {
		a.chooser.ServeHTTP(w, r)
		return
	}
	h := w.Header()
	setNoStore(h)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		var b strings.Builder
		b.WriteString(chooserHead)
		for _, p := range a.providers {
			fmt.Fprintf(&b, "<li><a href=\"%s\">Log in with %s</a></li>\n",
				html.EscapeString(a.LoginURL(p.name, returnTo)), html.EscapeString(p.name))
		}
		b.WriteString("</ul></body></html>\n")
		io.WriteString(w, b.String())
	}
}

// chooserHead opens the default chooser page. The pages oidcauth writes
// are built with html.EscapeString rather than html/template: a binary that
// executes a template keeps every exported method of every type it links
// (the linker cannot tell which a template calls), which doubles the size
// of a typical application and the memory its code takes.
const chooserHead = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}li{margin:.5rem 0}</style>
</head><body><h1>Log in</h1><ul>
`
