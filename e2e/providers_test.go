//go:build linux

package e2e

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
)

// Two real providers for one app (contract, "A second provider"): two
// oidc-provider instances of this test's own, on two localhost ports with
// their own keys, each with one client of the app, and the example with
// OIDC_ISSUER (named alpha) and OIDC2_ISSUER (named beta).

// twoProviders is what TestTwoProviders runs.
type twoProviders struct {
	alpha, beta   *oidcProvider
	slotA, slotB  *slot
	app           *app
	callbackAlpha string // the redirect URIs, absolute
	callbackBeta  string
}

// startTwoProviders starts both providers (at once) and the app. alpha's
// client authenticates with client_secret_basic, beta's with
// client_secret_post; both register the app's back-channel logout URI.
func startTwoProviders(t *testing.T) *twoProviders {
	t.Helper()
	node, dir, miss := providerRuntime()
	if miss != "" {
		missing(t, "%s", miss)
	}
	needExample(t)
	needBrowser(t)
	port := freePort(t)
	tp := &twoProviders{
		slotA: &slot{name: "multi-alpha", auth: authBasic, secret: "secret-alpha-" + randomHex(8), ports: []int{port}},
		slotB: &slot{name: "multi-beta", auth: authPost, secret: "secret-beta-" + randomHex(8), ports: []int{port}},
	}
	origin := tp.slotA.origin(0)
	tp.callbackAlpha, tp.callbackBeta = origin+"/callback", origin+"/callback/beta"
	regB := tp.slotB.registration()
	regB["redirect_uris"] = []string{tp.callbackBeta} // OIDC2_REDIRECT_URL's default

	portA, portB := freePort(t), freePort(t)
	var wg sync.WaitGroup
	var errA, errB error
	wg.Go(func() {
		tp.alpha, errA = startProviderInstance(t, node, dir, "provider-alpha", portA, []map[string]any{tp.slotA.registration()})
	})
	wg.Go(func() {
		tp.beta, errB = startProviderInstance(t, node, dir, "provider-beta", portB, []map[string]any{regB})
	})
	wg.Wait()
	if errA != nil || errB != nil {
		t.Fatalf("starting the providers: %v", errorsJoin(errA, errB))
	}
	tp.app = startAppAt(t, tp.alpha.issuer, appConfig{slot: tp.slotA, env: []string{
		"OIDC_PROVIDER_NAME=alpha",
		"OIDC2_NAME=beta",
		"OIDC2_ISSUER=" + tp.beta.issuer,
		"OIDC2_CLIENT_ID=" + tp.slotB.clientID(),
		"OIDC2_CLIENT_SECRET=" + tp.slotB.secret,
		"OIDC2_CLIENT_AUTH=" + tp.slotB.auth,
	}})
	return tp
}

func errorsJoin(errs ...error) string {
	var s []string
	for _, err := range errs {
		if err != nil {
			s = append(s, err.Error())
		}
	}
	return strings.Join(s, "; ")
}

// loginWith opens a protected page, which sends the browser to the login
// chooser; it checks that the chooser links both providers, picks name's
// link and logs in there as user. It returns the claims of /api/me.
func (tp *twoProviders) loginWith(t *testing.T, b *tab, p *oidcProvider, name, user string) map[string]any {
	t.Helper()
	origin := tp.app.origin
	b.navigate(origin + "/me")
	chooser := origin + "/login?return_to=%2Fme"
	if got := b.location(); got != chooser {
		t.Fatalf("GET /me anonymous ended on %s, want the chooser %s", got, chooser)
	}
	links := eval[[]string](b, `Array.from(document.querySelectorAll('a[href]'), a => a.getAttribute('href'))`)
	for _, n := range []string{"alpha", "beta"} {
		if want := "/login?provider=" + n + "&return_to=%2Fme"; !slices.Contains(links, want) {
			t.Fatalf("the chooser does not link %s: %q", want, links)
		}
	}
	b.mark()
	b.do(10*time.Second, chromedp.Click(chromedp.CSS(`a[href^="/login?provider=`+name+`&"]`)))
	f := &flow{user: user, done: func(st pageState) bool { return st.URL == origin+"/me" }}
	b.drive(f, 45*time.Second)
	if !f.sawLogin {
		t.Errorf("%s did not ask for a login", name)
	}
	r := b.open(origin + "/api/me")
	if r.Status != 200 {
		t.Fatalf("GET /api/me after the login at %s: %d %q", name, r.Status, r.Body)
	}
	claims := jsonObject(t, "/api/me", r.Body)
	if claims["iss"] != p.issuer || claims["sub"] != user {
		t.Fatalf("logged in at %s: iss %v, sub %v; want %s, %s", name, claims["iss"], claims["sub"], p.issuer, user)
	}
	b.navigate(origin + "/")
	if text := b.text(); !strings.Contains(text, "with the provider "+name) {
		t.Errorf("GET / logged in at %s does not name it:\n%s", name, text)
	}
	return claims
}

// codeGrants counts the authorization_code requests the provider's token
// endpoint received.
func codeGrants(p *oidcProvider) int {
	return len(p.events.filter(func(e event) bool {
		return e.Event == "request" && e.Path == "/token" && e.GrantType == "authorization_code"
	}))
}

var providerCallCount = regexp.MustCompile(`(?m)^oidcauth_provider_request_duration_seconds_count\{([^}]*)\} (\d+)$`)

// tokenCalls is the number of requests the app says (GET /metrics) it sent
// to a token endpoint, or to a URL that is no endpoint of the provider
// whose client sent it ("other": another provider's token endpoint).
func (tp *twoProviders) tokenCalls(t *testing.T) int {
	t.Helper()
	r := tp.app.get(t, "/metrics")
	if r.status != 200 {
		t.Fatalf("GET /metrics: %d", r.status)
	}
	n := 0
	for _, m := range providerCallCount.FindAllStringSubmatch(r.body, -1) {
		if strings.Contains(m[1], `oidcauth_endpoint="token"`) || strings.Contains(m[1], `oidcauth_endpoint="other"`) {
			c, _ := strconv.Atoi(m[2])
			n += c
		}
	}
	return n
}

// holder makes a tab's requests to the URLs that match a pattern answer a
// page of the test's, without reaching the app, while it holds.
type holder struct {
	t       *testing.T
	b       *tab
	pattern string
	held    chan string
}

// newHolder listens to b's paused requests for pattern (a Fetch domain
// URL pattern); hold turns the holding on.
func newHolder(t *testing.T, b *tab, pattern string) *holder {
	t.Helper()
	h := &holder{t: t, b: b, pattern: pattern, held: make(chan string, 1)}
	paused := make(chan *fetch.EventRequestPaused, 8)
	if err := chromedp.Listen(b.ctx, func(ev any) {
		if e, ok := ev.(*fetch.EventRequestPaused); ok {
			select {
			case paused <- e:
			default:
			}
		}
	}); err != nil {
		t.Fatalf("browser: listen: %v", err)
	}
	go func() {
		for {
			select {
			case <-b.ctx.Done():
				return
			case e := <-paused:
				select {
				case h.held <- e.Request.URL:
				default:
				}
				_, _ = chromedp.Call(b.ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{
					RequestID:       e.RequestID,
					ResponseCode:    200,
					ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "text/html"}},
					Body:            []byte("<!doctype html><title>held</title><p>held by the test</p>"),
				})
			}
		}
	}()
	return h
}

// catch opens start, answers the provider's pages as user until the
// browser asks for a URL that matches the pattern, and returns that URL,
// which the app never got.
func (h *holder) catch(start, user string) *url.URL {
	h.t.Helper()
	b := h.b
	if _, err := chromedp.Call(b.ctx, fetch.Enable, fetch.EnableParams{
		Patterns: []*fetch.RequestPattern{{URLPattern: h.pattern, RequestStage: fetch.RequestStageRequest}},
	}); err != nil {
		h.t.Fatalf("browser: fetch.enable: %v", err)
	}
	defer func() {
		if _, err := chromedp.Call(b.ctx, fetch.Disable, cdp.Empty{}); err != nil {
			h.t.Fatalf("browser: fetch.disable: %v", err)
		}
	}()
	b.navigate(start)
	b.drive(&flow{user: user, done: func(st pageState) bool { return st.Title == "held" }}, 45*time.Second)
	select {
	case raw := <-h.held:
		u, err := url.Parse(raw)
		if err != nil {
			h.t.Fatal(err)
		}
		return u
	case <-time.After(5 * time.Second):
		h.t.Fatalf("the browser's request to %s was not held", h.pattern)
		return nil
	}
}

// TestTwoProviders: two oidc-provider instances and one app. The chooser
// logs in at each; a response of alpha's delivered at beta's redirect URI
// is refused before any token request; each provider's back-channel logout
// ends its own sessions only, though both log in the same user (sub).
func TestTwoProviders(t *testing.T) {
	t.Parallel()
	tp := startTwoProviders(t)
	a := tp.app
	const user = "multi-user" // the same sub at both providers
	defer func() {
		if t.Failed() {
			tp.alpha.logClientEvents(t, tp.slotA.clientID())
			tp.beta.logClientEvents(t, tp.slotB.clientID())
		}
	}()

	// An anonymous page goes to the chooser, an API answers 401.
	if r := plainDo(t, "GET", a.origin+"/me", "", "", map[string]string{"Accept": "text/html"}); r.status != 302 || r.header.Get("Location") != "/login?return_to=%2Fme" {
		t.Errorf("GET /me anonymous: %d to %q, want 302 to /login?return_to=%%2Fme", r.status, r.header.Get("Location"))
	}
	if r := plainDo(t, "GET", a.origin+"/api/me", "", "", map[string]string{"Accept": "text/html"}); r.status != 401 {
		t.Errorf("GET /api/me anonymous: %d, want 401", r.status)
	}

	// 1. A login at each provider, in a browser of its own.
	atAlpha, atBeta := newTab(t), newTab(t)
	tp.loginWith(t, atAlpha, tp.alpha, "alpha", user)
	tp.loginWith(t, atBeta, tp.beta, "beta", user)
	for _, c := range []struct {
		p    *oidcProvider
		s    *slot
		want string
	}{{tp.alpha, tp.slotA, authBasic}, {tp.beta, tp.slotB, authPost}} {
		if reqs := c.p.tokenRequests(c.s.clientID()); len(reqs) != 1 || reqs[0].Auth != c.want || reqs[0].Status != 200 {
			t.Errorf("token requests of %s: %v, want one with %s", c.s.clientID(), reqs, c.want)
		}
	}

	// 2. Mix-up: a login started at alpha whose response is delivered at
	// beta's redirect URI. The browser's request to alpha's callback is
	// held, so the app never sees it; its query goes to beta's path.
	atMix := newTab(t)
	hold := newHolder(t, atMix, tp.callbackAlpha+"?*")
	calls, grantsA := tp.tokenCalls(t), codeGrants(tp.alpha)
	for i, forge := range []bool{true, false} {
		response := hold.catch(a.origin+"/login?provider=alpha&return_to=%2Fme", user)
		q := response.Query()
		if q.Get("code") == "" || q.Get("iss") != tp.alpha.issuer {
			t.Fatalf("alpha's authorization response %s has no code or not its iss", response)
		}
		what := "alpha's response"
		if forge {
			// The iss parameter (RFC 9207) would refuse it too: said to be
			// beta's, the redirect URI's binding to alpha is the only
			// defense left, the case of a provider without iss.
			q.Set("iss", tp.beta.issuer)
			what = "alpha's response, its iss made beta's,"
		}
		r := atMix.open(tp.callbackBeta + "?" + q.Encode())
		if r.Status != 400 || !strings.Contains(r.Body, "issuer_mismatch") {
			t.Errorf("%s at beta's redirect URI (try %d): %d %q, want 400 issuer_mismatch", what, i+1, r.Status, r.Body)
		}
	}
	// The proof that no token endpoint was asked for those codes: the
	// app's own count of its requests to a token endpoint (or to any URL
	// that is not an endpoint of the provider whose client sends it) is
	// what it was, read after its answers, so it cannot lag. And on the
	// providers' side: alpha logs every /token request (server.mjs), in
	// order, so once the login below has its authorization_code request
	// logged, any earlier one for a held code would have been logged
	// before it: alpha must have exactly one more than before the mix-up.
	// beta's are counted at the end of the test, seconds later.
	if got := tp.tokenCalls(t); got != calls {
		t.Errorf("the app made %d token requests for the refused responses, want none", got-calls)
	}
	if r := atMix.open(a.origin + "/api/me"); r.Status != 401 {
		t.Errorf("GET /api/me after the refused responses: %d, want 401", r.Status)
	}
	atMix.navigate(a.origin + "/login?provider=alpha&return_to=%2Fme")
	atMix.drive(&flow{user: user, done: func(st pageState) bool { return st.URL == a.origin+"/me" }}, 45*time.Second)
	if got := codeGrants(tp.alpha); got != grantsA+1 {
		t.Errorf("alpha's token endpoint got %d authorization_code requests around the mix-up and the login after it, want 1", got-grantsA)
	}

	// 3. Back-channel logout at each provider, the user's session there
	// ended at the provider itself: only that provider's sessions end.
	logoutAt := func(b *tab, p *oidcProvider, s *slot) {
		t.Helper()
		b.navigate(p.issuer + "/session/end")
		b.drive(&flow{done: func(st pageState) bool { return strings.Contains(st.URL, "/session/end/success") }}, 30*time.Second)
		e, ok := p.events.wait(10*time.Second, func(e event) bool {
			return e.ClientID == s.clientID() && strings.HasPrefix(e.Event, "backchannel.")
		})
		if !ok || e.Event != "backchannel.success" {
			t.Fatalf("back-channel logout of %s: %v (sent: %v)", s.clientID(), e, ok)
		}
	}
	status := func(b *tab) int {
		t.Helper()
		return b.open(a.origin + "/api/me").Status
	}
	logoutAt(atAlpha, tp.alpha, tp.slotA)
	if s := status(atAlpha); s != 401 {
		t.Errorf("alpha's session after alpha's back-channel logout: %d, want 401", s)
	}
	if s := status(atBeta); s != 200 {
		t.Errorf("beta's session after alpha's back-channel logout of the same sub: %d, want 200", s)
	}
	if s := status(atMix); s != 200 {
		t.Errorf("another alpha session (another sid) after alpha's back-channel logout: %d, want 200", s)
	}
	logoutAt(atBeta, tp.beta, tp.slotB)
	if s := status(atBeta); s != 401 {
		t.Errorf("beta's session after beta's back-channel logout: %d, want 401", s)
	}
	if s := status(atMix); s != 200 {
		t.Errorf("alpha's session after beta's back-channel logout of the same sub: %d, want 200", s)
	}
	// Seconds after the mix-up: beta's token endpoint had the one login's
	// code only.
	if got := codeGrants(tp.beta); got != 1 {
		t.Errorf("beta's token endpoint got %d authorization_code requests, want 1 (its own login)", got)
	}
}
