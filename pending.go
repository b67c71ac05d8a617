package oidcauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
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

func hashString(s string) string {
	h := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

func pendingKey(stateHash string) string { return "oidcauth.pending." + stateHash }

// startLogin stores a pending login and redirects the browser to the
// provider. returnTo must already be sanitized.
func (a *Auth) startLogin(w http.ResponseWriter, r *http.Request, returnTo string) {
	state, nonce, verifier, secret := random(32), random(32), random(32), random(32)
	sh := hashString(state)
	now := time.Now()
	binding := sha256.Sum256([]byte(secret))
	rec, _ := json.Marshal(pendingLogin{
		Binding: binding[:], Nonce: nonce, Verifier: verifier, ReturnTo: returnTo, Created: now.Unix(),
	})
	if err := a.storeCommit(r.Context(), pendingKey(sh), rec, now.Add(pendingTTL)); err != nil {
		a.fail(w, r, http.StatusServiceUnavailable, newError(ErrSession, "session_unavailable",
			"The login could not be started. Please try again later.", err))
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
	challenge := sha256.Sum256([]byte(verifier))
	u := a.authorizeURL + "&state=" + state + "&nonce=" + nonce +
		"&code_challenge=" + base64.RawURLEncoding.EncodeToString(challenge[:]) + "&code_challenge_method=S256"
	private(w.Header())
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

// takePending finds, checks and consumes the pending login of state: it must
// exist, be bound to this browser by its cookie, and be younger than
// pendingTTL. It is deleted before anything else happens, so it is used once.
func (a *Auth) takePending(ctx context.Context, w http.ResponseWriter, r *http.Request, state string) (*pendingLogin, error) {
	mismatch := func(why string, cause error) error {
		if cause != nil {
			why = why + ": " + cause.Error()
		}
		return newError(ErrStateMismatch, "state_mismatch",
			"This login link is invalid, expired or already used. Please start again.", errors.New(why))
	}
	if state == "" {
		return nil, mismatch("the callback has no state", nil)
	}
	if len(state) > maxStateLen {
		return nil, mismatch("the state is too long", nil)
	}
	sh := hashString(state)
	cookie, err := r.Cookie(a.cookies.loginPrefix + sh)
	if err != nil {
		return nil, mismatch("no login cookie for this state in this browser", nil)
	}
	a.expireLoginCookie(w, sh)
	b, found, err := a.storeFind(ctx, pendingKey(sh))
	if err != nil {
		return nil, newError(ErrSession, "session_unavailable", "The login could not be completed. Please try again later.", err)
	}
	if !found {
		return nil, mismatch("unknown, expired or used state", nil)
	}
	if err := a.storeDelete(ctx, pendingKey(sh)); err != nil {
		return nil, newError(ErrSession, "session_unavailable", "The login could not be completed. Please try again later.", err)
	}
	var p pendingLogin
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, mismatch("the pending login record is corrupt", err)
	}
	_, secret, _ := strings.Cut(cookie.Value, ".")
	got := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(got[:], p.Binding) != 1 {
		return nil, mismatch("the login cookie does not match the pending login", nil)
	}
	if time.Since(time.Unix(p.Created, 0)) > pendingTTL {
		return nil, mismatch("the pending login expired", nil)
	}
	return &p, nil
}
