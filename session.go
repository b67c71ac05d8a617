package oidcauth

import (
	"context"
	"encoding/base64"
	"encoding/gob"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
)

// sessionKey is the scs key of the login; every key oidcauth uses starts
// with "oidcauth." so it never collides with the application's own.
const sessionKey = "oidcauth.login"

// login is what a session holds after a successful login: who the user is,
// nothing that changes on refresh (the tokens are in their own record, see
// tokenSet). It is stored through scs with gob, so its fields are exported;
// the type is not. It is kept small: scs decodes it on every request.
type login struct {
	// ID names the login's token record; random, fixed for the login's life.
	ID string
	// IDToken is the raw, verified id_token of the login: the claims are
	// its payload, and it is the id_token_hint at logout.
	IDToken string
	// Claims holds the raw claims when they are not the id_token's payload
	// (merged with userinfo); usually nil, to keep sessions small.
	Claims    []byte
	Subject   string
	SessionID string
	LoginTime time.Time
	// Checked is when the middleware last found the login's token record
	// (see alive).
	Checked time.Time

	// Per request, never stored: scs decodes a fresh login on every request.
	cache   *claimsCache // set by the middleware
	rawOnce sync.Once
	raw     []byte
	rawErr  error
	stdOnce sync.Once
	std     *Claims
	stdErr  error
}

func init() {
	gob.Register(&login{})
}

// rawClaims returns the claims as JSON, decoding the id_token's payload at
// most once per request and only when asked.
func (l *login) rawClaims() ([]byte, error) {
	if l.Claims != nil {
		return l.Claims, nil
	}
	l.rawOnce.Do(func() { l.raw, l.rawErr = jwtPayload(l.IDToken) })
	return l.raw, l.rawErr
}

// claims returns the parsed standard claims, from the Auth's cache when the
// middleware set one, at most once per request.
func (l *login) claims() (*Claims, error) {
	l.stdOnce.Do(func() {
		if l.cache != nil {
			l.std, l.stdErr = l.cache.get(l)
			return
		}
		l.std, l.stdErr = parseClaims(l)
	})
	return l.std, l.stdErr
}

func parseClaims(l *login) (*Claims, error) {
	raw, err := l.rawClaims()
	if err != nil {
		return nil, err
	}
	c := new(Claims)
	if err := c.UnmarshalJSON(raw); err != nil {
		return nil, err
	}
	return c, nil
}

// jwtPayload returns the decoded payload of a compact JWS, whose signature
// was verified when it entered the session.
func jwtPayload(jwt string) ([]byte, error) {
	_, rest, ok := strings.Cut(jwt, ".")
	payload, _, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 {
		return nil, ErrIDToken
	}
	return base64.RawURLEncoding.DecodeString(payload)
}

// newSessionManager builds the manager oidcauth uses when the application
// brings none: memory store, strict cookie.
func newSessionManager(cfg config, secure bool) *scs.SessionManager {
	sm := scs.New()
	sm.Store = memstore.New()
	sm.IdleTimeout = cfg.idleTimeout
	sm.Lifetime = cfg.lifetime
	sm.Cookie.Name = cookieName("oidcauth", secure)
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Path = "/"
	sm.Cookie.Secure = secure
	sm.Cookie.Domain = ""
	return sm
}

// warnWeakCookies logs each setting of the application's manager that is
// weaker than oidcauth's defaults. It changes nothing.
func warnWeakCookies(log *slog.Logger, sm *scs.SessionManager, secure bool) {
	warn := func(setting, why string) {
		log.Warn("oidcauth: the session manager's "+setting+" is weaker than oidcauth's default", "why", why)
	}
	c := sm.Cookie
	if !c.HttpOnly {
		warn("Cookie.HttpOnly", "scripts can read the session cookie")
	}
	if c.SameSite != http.SameSiteLaxMode && c.SameSite != http.SameSiteStrictMode {
		warn("Cookie.SameSite", "the cookie is sent on cross-site requests; use Lax")
	}
	if secure && !c.Secure {
		warn("Cookie.Secure", "the redirect URL is https but the cookie may travel over http")
	}
	if secure && !strings.HasPrefix(c.Name, "__Host-") {
		warn("Cookie.Name", "without the __Host- prefix a sibling subdomain can plant the cookie")
	}
	if c.Path != "/" {
		warn("Cookie.Path", "a path other than / leaves the cookie out of some requests and forbids __Host-")
	}
	if c.Domain != "" {
		warn("Cookie.Domain", "the cookie is shared with subdomains")
	}
	if sm.IdleTimeout == 0 {
		warn("IdleTimeout", "sessions never expire for inactivity")
	}
	if sm.Lifetime > 24*time.Hour {
		warn("Lifetime", "sessions live longer than a day")
	}
	if _, ok := sm.Codec.(scs.GobCodec); !ok {
		log.Warn("oidcauth: the session manager's Codec is not scs.GobCodec; it must round-trip gob-registered types, or logins are lost")
	}
}

// cookieName gives name the __Host- prefix when cookies are Secure.
func cookieName(name string, secure bool) string {
	if secure {
		return "__Host-" + name
	}
	return name
}

// sessionGetter is the panic value of scs when no session is loaded.
const scsNoSession = "scs: no session data in context"

// current returns the request's login, or nil when anonymous. loaded is false
// when no scs session is loaded in ctx (no LoadAndSave around the handler).
func (a *Auth) current(ctx context.Context) (l *login, loaded bool) {
	defer func() {
		if v := recover(); v != nil {
			if v != scsNoSession {
				panic(v)
			}
			l, loaded = nil, false
		}
	}()
	l, _ = a.sm.Get(ctx, sessionKey).(*login)
	return l, true
}

// withSession runs h inside the session manager's LoadAndSave unless a
// session is already loaded, so oidcauth's handlers work with or without the
// application wrapping them.
func (a *Auth) withSession(h http.HandlerFunc) http.Handler {
	wrapped := a.sm.LoadAndSave(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, loaded := a.current(r.Context()); !loaded {
			wrapped.ServeHTTP(w, r)
			return
		}
		h(w, r)
	})
}

// Store access for oidcauth's own records (pending logins, logout indexes),
// which live beside the sessions in the same scs Store under keys that
// cannot collide with session tokens.

func (a *Auth) storeFind(ctx context.Context, key string) ([]byte, bool, error) {
	if s, ok := a.sm.Store.(scs.CtxStore); ok {
		return s.FindCtx(ctx, key)
	}
	return a.sm.Store.Find(key)
}

func (a *Auth) storeCommit(ctx context.Context, key string, b []byte, expiry time.Time) error {
	if s, ok := a.sm.Store.(scs.CtxStore); ok {
		return s.CommitCtx(ctx, key, b, expiry)
	}
	return a.sm.Store.Commit(key, b, expiry)
}

func (a *Auth) storeDelete(ctx context.Context, key string) error {
	if s, ok := a.sm.Store.(scs.CtxStore); ok {
		return s.DeleteCtx(ctx, key)
	}
	return a.sm.Store.Delete(key)
}
