package main

import (
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// testApp is the example app served by httptest, and a browser-like client
// with a cookie jar that follows no redirect by itself.
type testApp struct {
	t      *testing.T
	url    string // http://127.0.0.1:PORT, no trailing slash
	issuer string
	client *http.Client
}

func startApp(t *testing.T, env map[string]string) *testApp {
	t.Helper()
	return serveApp(t, httptest.NewUnstartedServer(nil), env)
}

// serveApp serves the app for env on srv, an unstarted server whose
// address a test may have given its providers first.
func serveApp(t *testing.T, srv *httptest.Server, env map[string]string) *testApp {
	t.Helper()
	cfg, err := loadConfig(envOf(env))
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	cfg.Addr = srv.Listener.Addr().String()
	app, err := newApp(t.Context(), cfg, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	srv.Config.Handler = app.Handler
	srv.Start()
	t.Cleanup(srv.Close)
	if app.URL != srv.URL+"/" {
		t.Errorf("app.URL = %q, want %q", app.URL, srv.URL+"/")
	}
	return &testApp{t: t, url: srv.URL, issuer: app.Issuer, client: newClient()}
}

// newClient is a browser-like client: a cookie jar of its own, and no
// redirect followed by itself.
func newClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// browser returns another browser on the same app: its own cookies.
func (a *testApp) browser() *testApp {
	b := *a
	b.client = newClient()
	return &b
}

// do sends a request (a form POST when form is not nil) and returns the
// response with its body read.
func (a *testApp) do(method, target string, form url.Values, header map[string]string) (*http.Response, string) {
	a.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = a.url + target
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(a.t.Context(), method, target, body)
	if err != nil {
		a.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatalf("%s %s: reading the body: %v", method, target, err)
	}
	return resp, string(b)
}

func (a *testApp) get(target string, header map[string]string) (*http.Response, string) {
	a.t.Helper()
	return a.do(http.MethodGet, target, nil, header)
}

// wantRedirect checks that resp is a 302 to a URL that starts with prefix
// and returns the absolute target.
func (a *testApp) wantRedirect(resp *http.Response, prefix string) string {
	a.t.Helper()
	loc, err := resp.Location()
	if resp.StatusCode != http.StatusFound || err != nil {
		a.t.Fatalf("%s %s: %d (Location %q), want 302", resp.Request.Method, resp.Request.URL, resp.StatusCode, resp.Header.Get("Location"))
	}
	if !strings.HasPrefix(loc.String(), prefix) {
		a.t.Fatalf("%s %s: redirect to %s, want %s...", resp.Request.Method, resp.Request.URL, loc, prefix)
	}
	return loc.String()
}

var formAction = regexp.MustCompile(`<form method="post" action="([^"]*)"`)

// formActionURL returns the absolute URL the provider's login page posts
// its form to, as a browser would compute it.
func (a *testApp) formActionURL(resp *http.Response, body string) *url.URL {
	a.t.Helper()
	m := formAction.FindStringSubmatch(body)
	if m == nil {
		a.t.Fatalf("the provider's login page has no form:\n%s", body)
	}
	action, err := resp.Request.URL.Parse(html.UnescapeString(m[1]))
	if err != nil {
		a.t.Fatalf("the login form's action %q: %v", m[1], err)
	}
	return action
}

// formTarget returns where to post the provider's login form: its action.
func (a *testApp) formTarget(resp *http.Response, body string) string {
	a.t.Helper()
	return a.formActionURL(resp, body).String()
}

// login logs in from a protected page or from /login?return_to=..., through
// the development provider's form when it shows one, and returns the
// response of the page it comes back to.
func (a *testApp) login(start, user string) (*http.Response, string) {
	a.t.Helper()
	resp, _ := a.get(start, nil)
	authorize := a.wantRedirect(resp, a.issuer+"/authorize?")
	resp, body := a.get(authorize, nil)
	if resp.StatusCode == http.StatusOK {
		action := a.formTarget(resp, body)
		resp, _ = a.do(http.MethodPost, action, url.Values{"login": {user}, "password": {"dev"}}, nil)
	}
	callback := a.wantRedirect(resp, a.url+"/callback?")
	resp, _ = a.get(callback, nil)
	back := a.wantRedirect(resp, a.url+"/")
	want, _ := url.Parse(start)
	wantBack := want.RequestURI()
	if want.Path == "/login" {
		wantBack = want.Query().Get("return_to")
	}
	if back != a.url+wantBack {
		a.t.Fatalf("after the callback: redirect to %s, want %s", back, a.url+wantBack)
	}
	return a.get(back, nil)
}

func wantJSON(t *testing.T, resp *http.Response, body string, status int) map[string]any {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s %s: %d %s, want %d", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, body, status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s %s: Content-Type %q, want JSON", resp.Request.Method, resp.Request.URL.Path, ct)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%s %s: body %q is not a JSON object: %v", resp.Request.Method, resp.Request.URL.Path, body, err)
	}
	return v
}
