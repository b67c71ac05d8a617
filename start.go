package oidcauth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

const (
	// pendingTTL is how long a started login may take.
	pendingTTL = 10 * time.Minute
	// maxPending is how many logins one browser may have under way.
	maxPending = 5
	// maxStateLen bounds the state accepted at the callback.
	maxStateLen = 512
)

// pendingLogin is a login under way. It is stored as its own record in the
// scs Store, keyed by a hash of its state, so that two tabs starting a login
// at once do not overwrite each other's (as they would inside one session
// saved whole). It is bound to the browser by a cookie whose name carries
// the same hash and whose value is a secret the record holds the hash of.
type pendingLogin struct {
	Binding  []byte `json:"b"` // SHA-256 of the cookie's secret
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	ReturnTo string `json:"r"`
	Created  int64  `json:"t"` // unix seconds
}

// cookieNames are the names of the cookies oidcauth sets itself.
type cookieNames struct {
	loginPrefix string // + state hash
}

func newCookieNames(secure bool) cookieNames {
	return cookieNames{loginPrefix: cookieName("oidcauth_login_", secure)}
}

// random returns n random bytes, base64url-encoded.
func random(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// LoginHandler returns a handler that starts a login and then returns to the
// same-origin path in its return_to parameter ("/" by default).
func (a *Auth) LoginHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.requireMethod(w, r, "Use GET to log in.", http.MethodGet, http.MethodHead) {
			return
		}
		a.startLogin(w, r, SafeReturnTo(r.URL.Query().Get("return_to")))
	})
}

// startLogin stores a pending login and redirects the browser to the
// provider. returnTo must already be sanitized.
func (a *Auth) startLogin(w http.ResponseWriter, r *http.Request, returnTo string) {
	a.warnOtherHost(r)
	state, nonce, verifier, secret := random(32), random(32), oauth2.GenerateVerifier(), random(32)
	sh := hashString(state)
	now := time.Now()
	binding := sha256.Sum256([]byte(secret))
	rec, _ := json.Marshal(pendingLogin{
		Binding: binding[:], Nonce: nonce, Verifier: verifier, ReturnTo: returnTo, Created: now.Unix(),
	})
	if err := a.storeCommit(r.Context(), pendingKey(sh), rec, now.Add(pendingTTL)); err != nil {
		a.fail(w, r, sessionError("The login could not be started. Please try again later.", err))
		return
	}
	a.dropOldLogins(w, r)
	http.SetCookie(w, &http.Cookie{
		Name:  a.cookies.loginPrefix + sh,
		Value: strconv.FormatInt(now.Unix(), 10) + "." + secret,
		// Path=/ (required by __Host-): the cookie must reach the next login
		// start, which drops the oldest when there are too many.
		Path:     "/",
		MaxAge:   int(pendingTTL / time.Second),
		HttpOnly: true,
		Secure:   a.secure,
		// Lax: the provider's redirect back is a top-level GET navigation.
		SameSite: http.SameSiteLaxMode,
	})
	u := a.authorizeURL + "&state=" + state + "&nonce=" + nonce +
		"&code_challenge=" + oauth2.S256ChallengeFromVerifier(verifier) + "&code_challenge_method=S256"
	setNoStore(w.Header())
	http.Redirect(w, r, u, http.StatusFound)
}

// dropOldLogins expires the oldest login cookies of this browser beyond
// maxPending-1, and their records, to make room for one more.
func (a *Auth) dropOldLogins(w http.ResponseWriter, r *http.Request) {
	type old struct {
		hash    string
		created int64
	}
	var olds []old
	for _, c := range r.Cookies() {
		if h, ok := strings.CutPrefix(c.Name, a.cookies.loginPrefix); ok {
			ts, _, _ := strings.Cut(c.Value, ".")
			t, _ := strconv.ParseInt(ts, 10, 64)
			olds = append(olds, old{h, t})
		}
	}
	if len(olds) < maxPending {
		return
	}
	slices.SortFunc(olds, func(x, y old) int { return int(x.created - y.created) })
	for _, o := range olds[:len(olds)-maxPending+1] {
		a.expireLoginCookie(w, o.hash)
		if err := a.storeDelete(r.Context(), pendingKey(o.hash)); err != nil {
			a.log.Warn("oidcauth: deleting an old pending login failed", "err", err)
		}
	}
}

func (a *Auth) expireLoginCookie(w http.ResponseWriter, stateHash string) {
	http.SetCookie(w, &http.Cookie{
		Name: a.cookies.loginPrefix + stateHash, Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode,
	})
}

// authorizeBase returns the authorization endpoint with the parameters that
// are the same on every request, ready for state, nonce and code_challenge.
func authorizeBase(endpoint string, cfg config) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("%w: authorization_endpoint: %v", ErrDiscovery, err)
	}
	q := u.Query()
	for k, vs := range cfg.authParams {
		q[k] = append(q[k], vs...)
	}
	q.Set("response_type", "code")
	q.Set("client_id", cfg.clientID)
	q.Set("redirect_uri", cfg.redirectURL)
	q.Set("scope", strings.Join(cfg.scopes, " "))
	u.RawQuery = q.Encode()
	return u.String(), nil
}
