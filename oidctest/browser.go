package oidctest

import (
	"bytes"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Browser is a browser for tests: a cookie jar and a client that does not
// follow redirects, so a test can walk a login through the application and
// the provider step by step, or in one call with Login.
type Browser struct {
	// AppURL is the application's base URL; targets starting with / are
	// relative to it.
	AppURL string
	// Client is the browser's HTTP client.
	Client *http.Client

	t testing.TB
}

// Response is a response whose body has been read.
type Response struct {
	*http.Response
	Body string
}

// Headers of the requests Browser sends: a page navigation, and an API call.
var (
	Navigation = http.Header{"Accept": {"text/html"}, "Sec-Fetch-Mode": {"navigate"}}
	APICall    = http.Header{"Accept": {"application/json"}}
)

// NewBrowser returns a browser with an empty cookie jar for the application
// at appURL.
func NewBrowser(t testing.TB, appURL string) *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{
		AppURL: strings.TrimSuffix(appURL, "/"),
		Client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		t:      t,
	}
}

// Do sends a request with header and reads the response; it does not follow
// redirects. A failed request fails the test.
func (b *Browser) Do(method, target string, header http.Header, form url.Values) Response {
	b.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = b.AppURL + target
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.Client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, target, err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(data))
	return Response{resp, string(data)}
}

// Get navigates to target, as a browser does when the user follows a link.
func (b *Browser) Get(target string) Response {
	b.t.Helper()
	return b.Do(http.MethodGet, target, Navigation, nil)
}

var formAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)

// Login logs in at the provider p starting from the application's path:
// the application redirects to p, p approves (filling its login form when
// it is interactive), and the callback must redirect back to path (to its
// return_to for /login?return_to=...). It fails the test otherwise.
func (b *Browser) Login(p *Provider, path string) {
	b.t.Helper()
	resp := b.Get(path)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, p.Issuer+"/") {
		b.t.Fatalf("GET %s: %d to %q, want 302 to the provider", path, resp.StatusCode, loc)
	}
	resp = b.Get(loc)
	if m := formAction.FindStringSubmatch(resp.Body); resp.StatusCode == http.StatusOK && m != nil {
		action := html.UnescapeString(m[1])
		resp = b.Do(http.MethodPost, p.Issuer+action, Navigation, url.Values{"password": {"test"}})
	}
	if resp.StatusCode != http.StatusFound {
		b.t.Fatalf("provider: %d %s", resp.StatusCode, resp.Body)
	}
	want := path
	if u, err := url.Parse(path); err == nil && u.Path == "/login" {
		want = u.Query().Get("return_to")
	}
	resp = b.Get(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
		b.t.Fatalf("callback: %d to %q, want 302 to %s; body %s", resp.StatusCode, resp.Header.Get("Location"), want, resp.Body)
	}
}

// Post posts form to target as a form on the application's own pages
// would (same origin).
func (b *Browser) Post(target string, form url.Values) Response {
	b.t.Helper()
	return b.Do(http.MethodPost, target, http.Header{"Origin": {b.AppURL}, "Sec-Fetch-Site": {"same-origin"}}, form)
}

// Cookie returns the browser's cookie for the application named name, or nil.
func (b *Browser) Cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.AppURL)
	for _, c := range b.Client.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// SetsCookie reports whether the response sets the cookie named name.
func (r Response) SetsCookie(name string) bool {
	for _, c := range r.Cookies() {
		if c.Name == name {
			return true
		}
	}
	return false
}
