//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

var browser struct {
	once    sync.Once
	ctx     context.Context // the browser; tabs are made from it
	err     error
	missing string
}

// chromiumPath finds the browser: E2E_CHROMIUM, else Debian's chromium.
func chromiumPath() string {
	if p := os.Getenv("E2E_CHROMIUM"); p != "" {
		if p, err := exec.LookPath(p); err == nil {
			return p
		}
		return ""
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func startBrowser() (context.Context, string, error) {
	path := chromiumPath()
	if path == "" {
		return nil, "Chromium not found: `apt-get install chromium fonts-liberation` (or set E2E_CHROMIUM)" + installHint, nil
	}
	userData, err := os.MkdirTemp(suite.dir, "chromium-")
	if err != nil {
		return nil, "", err
	}
	logFile, err := os.Create(filepath.Join(suite.artifacts, "logs", "chromium.log"))
	if err != nil {
		return nil, "", err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(userData),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.WindowSize(1024, 768),
		chromedp.CombinedOutput(logFile),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	atExit(func() {
		cancelBrowser()
		cancelAlloc()
		logFile.Close()
		os.RemoveAll(userData)
	})
	// Starting the first tab starts the browser. It must run on ctx itself:
	// a browser or tab lives as long as the context it was started with.
	if err := chromedp.Do(ctx); err != nil {
		return nil, "", fmt.Errorf("start %s: %w", path, err)
	}
	return ctx, "", nil
}

// tab is a browser tab in a browser context of its own: a fresh cookie jar,
// like a private window.
type tab struct {
	t   testing.TB
	ctx context.Context

	shots int
}

// needBrowser starts the browser on first use; it is stopped when TestMain
// ends.
func needBrowser(t testing.TB) context.Context {
	t.Helper()
	browser.once.Do(func() {
		browser.ctx, browser.missing, browser.err = startBrowser()
	})
	if browser.missing != "" {
		missing(t, "%s", browser.missing)
	}
	if browser.err != nil {
		t.Fatalf("e2e: browser: %v", browser.err)
	}
	return browser.ctx
}

// newTab opens a tab for t, closed when t ends.
func newTab(t testing.TB) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(needBrowser(t), chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("e2e: new tab: %v", err)
	}
	return &tab{t: t, ctx: ctx}
}

// actx returns a context for one browser action, with a time limit.
func (b *tab) actx(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, d)
}

// navigate loads url and returns the response of the document it ends on.
func (b *tab) navigate(url string) *network.Response {
	b.t.Helper()
	ctx, cancel := b.actx(30 * time.Second)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil {
		b.t.Fatalf("navigate %s: %v", url, err)
	}
	return resp
}

// pageState is what the suite reads of the current page.
type pageState struct {
	URL           string `json:"url"`
	Ready         string `json:"ready"`
	Title         string `json:"title"`
	Text          string `json:"text"`
	Login         bool   `json:"login"`
	Consent       bool   `json:"consent"`
	LogoutConfirm bool   `json:"logoutConfirm"`
	Marked        bool   `json:"marked"`
	// DexError is the message of a Dex error page, or of its login form
	// refusing the password.
	DexError string `json:"dexError"`
}

const pageStateJS = `(() => ({
	url: location.href,
	ready: document.readyState,
	title: document.title,
	text: document.body ? document.body.innerText.slice(0, 4000) : '',
	login: !!document.querySelector('input[name="login"]'),
	consent: !!document.querySelector('input[name="prompt"][value="consent"]'),
	logoutConfirm: !!document.getElementById('op.logoutForm'),
	marked: window.__e2eMarked === true,
	dexError: (() => {
		const e = document.getElementById('login-error');
		if (e) return e.innerText.trim() || 'login refused';
		const h = document.querySelector('.theme-panel > h2.theme-heading');
		return h && !document.querySelector('.theme-panel form') ? (document.querySelector('.theme-panel').innerText.trim() || 'error') : '';
	})(),
}))()`

func (b *tab) state() (pageState, error) {
	ctx, cancel := b.actx(5 * time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[pageState](pageStateJS))
}

// mark tags the current document, so that the suite can tell when an action
// has replaced it with a new one.
func (b *tab) mark() {
	ctx, cancel := b.actx(5 * time.Second)
	defer cancel()
	_ = chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`window.__e2eMarked = true`))
}

// flow says how to answer the provider's pages.
type flow struct {
	user string
	// password is typed in the login form; "" types "any password", which
	// oidc-provider's development login takes.
	password string
	// done reports whether the browser has arrived; it is asked only about
	// a fully loaded page that no action of the suite is leaving.
	done func(pageState) bool
	// shotLogin names the screenshot of the login page ("" for none).
	shotLogin string
	// sawLogin is set when the provider asked for a login.
	sawLogin bool
	// sawLogoutConfirm is set when the provider asked to confirm a logout.
	sawLogoutConfirm bool
	// declineLogout answers the logout confirmation with "No".
	declineLogout bool
}

// drive answers the provider's login, consent and logout pages as a person
// would, until f.done says the browser has arrived.
func (b *tab) drive(f *flow, timeout time.Duration) pageState {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	var last pageState
	for {
		if time.Now().After(deadline) {
			b.screenshot("stuck")
			b.t.Fatalf("browser did not arrive in %s; last page %s (%q):\n%s", timeout, last.URL, last.Title, last.Text)
		}
		st, err := b.state()
		if err != nil {
			// Most likely a navigation is replacing the document.
			time.Sleep(100 * time.Millisecond)
			continue
		}
		last = st
		if st.Marked || st.Ready != "complete" {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if f.done(st) {
			return st
		}
		switch {
		case strings.Contains(st.Title, "oops! something went wrong"):
			b.screenshot("provider-error")
			b.t.Fatalf("the provider shows an error at %s:\n%s", st.URL, st.Text)
		case st.DexError != "":
			b.screenshot("provider-error")
			b.t.Fatalf("Dex shows an error at %s: %s", st.URL, st.DexError)
		case st.Login:
			f.sawLogin = true
			if f.shotLogin != "" {
				b.screenshot(f.shotLogin)
			}
			password := f.password
			if password == "" {
				password = "any password"
			}
			b.mark()
			b.do(20*time.Second,
				chromedp.SendKeys(chromedp.CSS(`input[name="login"]`), f.user),
				chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), password),
				chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
			)
		case st.Consent:
			b.mark()
			b.do(20*time.Second, chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
		case st.LogoutConfirm:
			f.sawLogoutConfirm = true
			b.mark()
			button := `button[name="logout"][value="yes"]`
			if f.declineLogout {
				button = `button[form="op.logoutForm"]:not([name])`
			}
			b.do(20*time.Second, chromedp.Click(chromedp.CSS(button)))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// do runs browser actions, failing the test on error.
func (b *tab) do(timeout time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.actx(timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// eval evaluates JavaScript in the page and decodes its result into T.
func eval[T any](b *tab, js string) T {
	b.t.Helper()
	ctx, cancel := b.actx(20 * time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("browser: evaluate: %v\n%s", err, js)
	}
	return v
}

// onOrigin returns a done func for a flow that ends on a page of origin.
func onOrigin(origin string) func(pageState) bool {
	return func(st pageState) bool { return strings.HasPrefix(st.URL, origin+"/") }
}

// pageResult is what a top-level navigation to a URL gave.
type pageResult struct {
	Status      int    // of the document the browser ended on, after redirects
	URL         string // where it ended
	ContentType string
	Body        string // the text of the page (of a JSON document: the JSON)
}

// open navigates to url, as a person typing it, and returns the response.
// The example's pages forbid scripts to make requests (CSP), so the suite
// reads the app with navigations, which carry the cookies the same way.
func (b *tab) open(url string) pageResult {
	b.t.Helper()
	resp := b.navigate(url)
	r := pageResult{Status: int(resp.Status), URL: b.location(), ContentType: resp.MimeType}
	r.Body = eval[string](b, `(() => {
		const pre = document.querySelector('body > pre');
		return pre ? pre.textContent : (document.body ? document.body.innerText : '');
	})()`)
	return r
}

// text returns the text of the page.
func (b *tab) text() string {
	b.t.Helper()
	return eval[string](b, `document.body ? document.body.innerText : ''`)
}

// pageJSON parses the page, a JSON document as the browser shows it.
func (b *tab) pageJSON() map[string]any {
	b.t.Helper()
	s := eval[string](b, `(() => { const pre = document.querySelector('pre'); return pre ? pre.textContent : document.body.innerText; })()`)
	return jsonObject(b.t, "page "+b.location(), s)
}

func (b *tab) location() string {
	b.t.Helper()
	return eval[string](b, `location.href`)
}

// cookies returns the cookies the browser keeps for the URLs.
func (b *tab) cookies(urls ...string) []*network.Cookie {
	b.t.Helper()
	ctx, cancel := b.actx(10 * time.Second)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: urls})
	if err != nil {
		b.t.Fatalf("browser: get cookies: %v", err)
	}
	return res.Cookies
}

// cookie returns the named cookie the browser sends to url, or nil.
func (b *tab) cookie(url, name string) *network.Cookie {
	for _, c := range b.cookies(url) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// screenshot saves a screenshot of the whole page under artifacts/.
func (b *tab) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := b.actx(20 * time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	b.shots++
	file := filepath.Join(suite.artifacts, artifactName(b.t, fmt.Sprintf("-%02d-%s.png", b.shots, name)))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
}

// submitForm makes the page submit a POST form to action with the fields:
// a form of the page's own origin when the page made it, as a user's click
// would send it.
func (b *tab) submitForm(action string, fields map[string]string) {
	b.t.Helper()
	if fields == nil {
		fields = map[string]string{}
	}
	f, _ := json.Marshal(fields)
	eval[chromedp.Void](b, fmt.Sprintf(`(() => {
		const f = document.createElement('form');
		f.method = 'post';
		f.action = %q;
		for (const [k, v] of Object.entries(%s)) {
			const i = document.createElement('input');
			i.type = 'hidden'; i.name = k; i.value = v;
			f.appendChild(i);
		}
		document.body.appendChild(f);
		window.__e2eMarked = true;
		f.submit();
	})()`, action, f))
}

// clickLogout submits the page's own POST /logout form when it has one, and
// otherwise a form made on the page (same origin). It reports whether the
// page had its own form.
func (b *tab) clickLogout() bool {
	b.t.Helper()
	return eval[bool](b, `(() => {
		let f = Array.from(document.forms).find(f => f.method.toLowerCase() === 'post' && new URL(f.action, location.href).pathname === '/logout');
		const own = !!f;
		if (!f) {
			f = document.createElement('form');
			f.method = 'post';
			f.action = '/logout';
			document.body.appendChild(f);
		}
		window.__e2eMarked = true;
		if (f.requestSubmit) { f.requestSubmit(); } else { f.submit(); }
		return own;
	})()`)
}
