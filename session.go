package oidcauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
)

// newSessionManager builds the manager oidcauth uses when the application
// brings none: memory store, strict cookie.
func newSessionManager(cfg config, secure bool) *scs.SessionManager {
	sm := scs.New()
	var store scs.Store = memstore.New()
	if cfg.sessionStore != nil {
		store = cfg.sessionStore
	}
	// The idle timeout is oidcauth's (touch.go): scs would write every
	// session on every request.
	sm.IdleTimeout = 0
	if cfg.idleTimeout > 0 {
		store = wrapIdle(store, cfg.idleTimeout+touchInterval(cfg.idleTimeout))
	}
	sm.Store = store
	sm.Codec = sessionCodec{}
	sm.Lifetime = cfg.lifetime
	sm.Cookie.Name = cookieName("oidcauth", secure)
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Path = "/"
	sm.Cookie.Secure = secure
	sm.Cookie.Domain = ""
	// The Store keys sessions by the token's hash: a stolen Store dump
	// holds no usable cookie, and no cookie names another record.
	sm.HashTokenInStore = true
	return sm
}

// weakSetting is a setting of an application's session manager weaker
// than oidcauth's defaults.
type weakSetting struct{ setting, why string }

// weakSettings lists the settings of the application's manager that are
// weaker than oidcauth's defaults; New logs them, or refuses them with
// WithStrictSessionManager.
func weakSettings(sm *scs.SessionManager, secure bool) []weakSetting {
	var weak []weakSetting
	add := func(setting, why string) { weak = append(weak, weakSetting{setting, why}) }
	c := sm.Cookie
	if !c.HttpOnly {
		add("Cookie.HttpOnly", "scripts can read the session cookie")
	}
	if c.SameSite != http.SameSiteLaxMode && c.SameSite != http.SameSiteStrictMode {
		add("Cookie.SameSite", "the cookie is sent on cross-site requests; use Lax")
	}
	if secure && !c.Secure {
		add("Cookie.Secure", "the redirect URL is https but the cookie may travel over http")
	}
	if secure && !strings.HasPrefix(c.Name, "__Host-") {
		add("Cookie.Name", "without the __Host- prefix a sibling subdomain can plant the cookie")
	}
	if c.Path != "/" {
		add("Cookie.Path", "a path other than / leaves the cookie out of some requests and forbids __Host-")
	}
	if c.Domain != "" {
		add("Cookie.Domain", "the cookie is shared with subdomains")
	}
	if !sm.HashTokenInStore {
		add("HashTokenInStore", "the Store holds usable session tokens, and any value a client sends is looked up as a key")
	}
	if sm.IdleTimeout == 0 {
		add("IdleTimeout", "sessions never expire for inactivity")
	}
	if sm.Lifetime > 24*time.Hour {
		add("Lifetime", "sessions live longer than a day")
	}
	return weak
}

// checkSessionManager warns about, or with strict refuses, an application's
// manager weaker than oidcauth's defaults.
func checkSessionManager(log *slog.Logger, sm *scs.SessionManager, secure, strict bool) error {
	weak := weakSettings(sm, secure)
	if strict && len(weak) > 0 {
		var b strings.Builder
		for i, w := range weak {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(w.setting + ": " + w.why)
		}
		return optionError("WithStrictSessionManager", "the session manager is weaker than oidcauth's defaults: %s", b.String())
	}
	for _, w := range weak {
		log.Warn("oidcauth: the session manager's "+w.setting+" is weaker than oidcauth's default", "why", w.why)
	}
	if _, ok := sm.Codec.(scs.GobCodec); !ok {
		log.Warn("oidcauth: the session manager's Codec is not scs.GobCodec; it must round-trip gob-registered types, or logins are lost")
	}
	return nil
}

// cookieName gives name the __Host- prefix when cookies are Secure.
func cookieName(name string, secure bool) string {
	if secure {
		return "__Host-" + name
	}
	return name
}

// scsNoSession is the value scs panics with when a session is used in a
// context that LoadAndSave did not load.
const scsNoSession = "scs: no session data in context"

// sessionLogin returns the login of the session loaded in ctx, or nil when
// anonymous. loaded is false when no scs session is loaded in ctx (no
// LoadAndSave around the handler).
func (a *Auth) sessionLogin(ctx context.Context) (l *login, loaded bool) {
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
		if _, loaded := a.sessionLogin(r.Context()); !loaded {
			wrapped.ServeHTTP(w, r)
			return
		}
		h(w, r)
	})
}

// capDeadline moves the session's absolute deadline to the id_token's exp
// when that comes first. scs stores the deadline with the session and expires
// the record with it, so requests pay nothing for the cap.
func (a *Auth) capDeadline(ctx context.Context, idToken string) error {
	payload, err := jwtPayload(idToken)
	if err != nil {
		return fmt.Errorf("reading the id_token's exp: %w", err)
	}
	var c struct {
		Exp *jsonTime `json:"exp"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return fmt.Errorf("reading the id_token's exp: %v", err)
	}
	if c.Exp == nil {
		return errors.New("the id_token has no exp")
	}
	exp := c.Exp.time()
	// The verifier accepted exp up to the clock skew in the past; a session
	// ending at once would send the browser straight back to the provider.
	if floor := time.Now().Add(a.clockSkew); exp.Before(floor) {
		exp = floor
	}
	if exp.Before(a.sm.Deadline(ctx)) {
		a.sm.SetDeadline(ctx, exp.UTC())
	}
	return nil
}
