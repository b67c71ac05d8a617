package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oidcauth/oidcauth"
)

// homeHead opens GET /. The page has no script, so the CSP of pageHeaders
// holds; its forms post to the app itself (same origin). It is written with
// html.EscapeString rather than html/template: a binary that executes a
// template keeps every exported method of every type it links (go-redis's
// and pgx's whole APIs here), which doubles this program's size and the
// memory its code takes.
const homeHead = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>oidcauth example</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%;margin:1rem 0}
th,td{text-align:left;vertical-align:top;padding:.3rem .6rem;border-bottom:1px solid #ddd}
td{font-family:ui-monospace,monospace;font-size:.9rem;overflow-wrap:anywhere}
td small{font-family:system-ui,sans-serif;color:#666}
.actions form{display:inline-block;margin:0 .5rem .5rem 0}
button{font:inherit;padding:.3rem .9rem}
.note{color:#555;font-size:.9rem}
</style>
</head><body>
<h1>oidcauth example</h1>
`

// writeHome writes GET / for d, every value escaped.
func writeHome(w io.Writer, d homeData) error {
	e := html.EscapeString
	var b strings.Builder
	b.WriteString(homeHead)
	if d.LoggedIn {
		b.WriteString("<p>Logged in as <strong>" + e(d.Name) + "</strong> at <code>" + e(d.Issuer) + "</code>")
		if d.Provider != "" {
			b.WriteString(`, with the provider <strong class="provider">` + e(d.Provider) + "</strong>")
		}
		b.WriteString(".</p>\n")
		b.WriteString(`<p>Your session ends at <time datetime="` + e(d.DeadlineISO) + `">` + e(d.Deadline) + "</time> (in " + e(d.DeadlineIn) + ")")
		if d.Idle != "" {
			b.WriteString(", or after " + e(d.Idle) + " without a request")
		}
		b.WriteString(`.</p>
<div class="actions">
<form method="get" action="/api/userinfo"><button>Refresh: call userinfo</button></form>
<form method="post" action="/logout"><button>Log out</button></form>
</div>
<p class="note">"Refresh" calls the provider's userinfo endpoint with your access token and shows its JSON;
an access token that has expired is refreshed first (that needs a refresh token: add
<code>offline_access</code> to <code>OIDC_SCOPES</code>). "Log out" ends the session here and at the provider.</p>
<h2>Your id_token claims</h2>
<table>
<tr><th>claim</th><th>value</th></tr>
`)
		for _, c := range d.Claims {
			b.WriteString("<tr><th>" + e(c.Name) + "</th><td>" + e(c.Value))
			if c.Time != "" {
				b.WriteString(" <small>(" + e(c.Time) + ")</small>")
			}
			b.WriteString("</td></tr>\n")
		}
		b.WriteString(`</table>
<p>The same as JSON: <a href="/me">/me</a> (a page) and <a href="/api/me">/api/me</a> (an API).</p>`)
	} else {
		if d.LoggedOut {
			b.WriteString(`<p class="note" role="status">You have been logged out.</p>` + "\n")
		}
		b.WriteString(`<p>You are not logged in.</p>
<p>This is the demo of oidcauth, OpenID Connect login for Go web apps: a small app whose pages
are protected by oidcauth's middleware, with sessions kept by scs.`)
		if d.DevProvider {
			b.WriteString(" It runs with an embedded development provider, which accepts any user name and password.")
		} else {
			b.WriteString(" It logs in at <code>" + e(d.Issuer) + "</code>.")
		}
		b.WriteString("</p>\n" + `<p><a href="/login?return_to=/">Log in</a> to see your claims and your session here.</p>`)
		if len(d.Logins) > 0 {
			b.WriteString("\n<p>Or log in straight away with ")
			for i, l := range d.Logins {
				if i > 0 {
					b.WriteString(" or ")
				}
				b.WriteString(`<a href="` + e(l.URL) + `">` + e(l.Name) + "</a>")
			}
			b.WriteString(".</p>")
		}
		b.WriteString(`
<ul>
<li><a href="/me">/me</a> is a protected page: it sends you to the provider to log in, then shows your claims as JSON.</li>
<li><a href="/api/me">/api/me</a> is a protected API: without a login it answers 401, never a redirect.</li>
</ul>`)
	}
	b.WriteString("\n</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// homeData is what GET / shows.
type homeData struct {
	LoggedIn    bool
	LoggedOut   bool // just back from a logout (auth.LoggedOut)
	Issuer      string
	DevProvider bool
	// Provider is the name of the session's provider, and Logins a login
	// link per provider, when there are several.
	Provider string
	Logins   []loginLink

	Name                              string
	Deadline, DeadlineISO, DeadlineIn string
	Idle                              string // empty: no idle timeout
	Claims                            []claimRow
}

// loginLink is a link that starts a login at one provider.
type loginLink struct{ Name, URL string }

// claimRow is one claim of the table, its value as text; Time is the date a
// NumericDate claim (exp, iat, auth_time...) stands for.
type claimRow struct {
	Name, Value, Time string
}

// dateClaims are the claims whose values are seconds since the epoch.
var dateClaims = []string{"exp", "iat", "nbf", "auth_time", "updated_at"}

// home is the public page (behind auth.Optional): for a logged-in user the
// claims, the session's end, a refresh and a logout button; for anyone else
// what the demo is and how to log in, and a note after a logout. issuer is
// the provider's, dev says it is the embedded development provider. With
// several providers the page names the session's provider, and offers a
// login link per provider.
//
// GET / is also the post-logout redirect URL (OIDC_POST_LOGOUT_REDIRECT_URL
// by default): the provider sends the browser back to /?state=..., which
// auth.PostLogoutHandler checks and redirects to / without the state.
func home(auth *oidcauth.Auth, issuer string, dev bool, log *slog.Logger) http.Handler {
	postLogout := auth.PostLogoutHandler()
	several := len(auth.Providers()) > 1
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("state") {
			postLogout.ServeHTTP(w, r)
			return
		}
		data := homeData{Issuer: issuer, DevProvider: dev}
		if c, ok := oidcauth.ClaimsFromContext(r.Context()); ok {
			data.LoggedIn = true
			data.Name = displayName(c)
			if several {
				data.Provider = auth.ProviderName(r)
				data.Issuer = c.Issuer
			}
			sm := auth.SessionManager()
			deadline := sm.Deadline(r.Context())
			data.Deadline = deadline.UTC().Format("2006-01-02 15:04:05 UTC")
			data.DeadlineISO = deadline.UTC().Format(time.RFC3339)
			data.DeadlineIn = minutes(time.Until(deadline))
			if idle := auth.IdleTimeout(); idle > 0 {
				data.Idle = minutes(idle)
			}
			raw, _ := oidcauth.RawClaimsFromContext(r.Context())
			rows, err := claimRows(raw)
			if err != nil {
				log.Warn("reading the claims for the home page failed", "err", err)
			}
			data.Claims = rows
		} else {
			data.LoggedOut = auth.LoggedOut(w, r)
			if several {
				for _, name := range auth.Providers() {
					data.Logins = append(data.Logins, loginLink{name, auth.LoginURL(name, "/")})
				}
			}
		}
		pageHeaders(w, "text/html; charset=utf-8")
		if err := writeHome(w, data); err != nil {
			log.Warn("rendering the home page failed", "err", err)
		}
	})
}

// minutes writes d to the minute: 7h59m, 30m.
func minutes(d time.Duration) string {
	return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
}

// claimRows turns a JSON object of claims into rows sorted by name: strings
// as they are, other values as JSON, dates also in UTC.
func claimRows(raw json.RawMessage) ([]claimRow, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var claims map[string]any
	if err := d.Decode(&claims); err != nil {
		return nil, err
	}
	rows := make([]claimRow, 0, len(claims))
	for name, v := range claims {
		row := claimRow{Name: name}
		switch v := v.(type) {
		case string:
			row.Value = v
		case json.Number:
			row.Value = v.String()
			if slices.Contains(dateClaims, name) {
				if sec, err := strconv.ParseInt(v.String(), 10, 64); err == nil {
					row.Time = time.Unix(sec, 0).UTC().Format("2006-01-02 15:04:05 UTC")
				}
			}
		default:
			b, _ := json.Marshal(v)
			row.Value = string(b)
		}
		rows = append(rows, row)
	}
	slices.SortFunc(rows, func(a, b claimRow) int { return cmp.Compare(a.Name, b.Name) })
	return rows, nil
}

// displayName picks the friendliest name the provider sent.
func displayName(c *oidcauth.Claims) string {
	for _, s := range []string{c.Name, c.PreferredUsername, c.Email} {
		if s != "" {
			return s
		}
	}
	return c.Subject
}
