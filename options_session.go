package oidcauth

import (
	"crypto/aes"
	"crypto/cipher"
	"time"

	"github.com/alexedwards/scs/v2"
)

// The options about sessions: where they are kept, how long they live, how
// they end and what their records hold.

// WithSessionManager makes oidcauth keep its state in the application's own
// scs session manager. Its cookie settings are left alone; New logs a warning
// for each one weaker than oidcauth's defaults. Without this option oidcauth
// makes its own manager with a memory store.
func WithSessionManager(sm *scs.SessionManager) Option {
	return func(c *config) error {
		if sm == nil || sm.Store == nil {
			return optionError("WithSessionManager", "the session manager or its Store is nil")
		}
		c.sessions = sm
		return nil
	}
}

// WithSessionStore keeps the sessions of oidcauth's own manager in store
// (Redis, Postgres, ...) instead of memory, with oidcauth's cookie
// defaults, idle timeout and session encoding; use it, rather than
// WithSessionManager, when several instances share sessions. A
// [LeaseStore] (package leasestore) also coordinates their refreshes.
func WithSessionStore(store scs.Store) Option {
	return func(c *config) error {
		if store == nil {
			return optionError("WithSessionStore", "the store is nil")
		}
		c.sessionStore = store
		return nil
	}
}

// WithSessionLifetime sets the idle timeout and the absolute lifetime of the
// sessions oidcauth creates (defaults: [DefaultIdleTimeout],
// [DefaultLifetime]). An idle of 0 turns the idle timeout off. It does not
// apply to a manager given with WithSessionManager.
func WithSessionLifetime(idle, absolute time.Duration) Option {
	return func(c *config) error {
		if absolute <= 0 || idle < 0 || idle > absolute {
			return optionError("WithSessionLifetime", "want 0 <= idle (%v) <= absolute (%v) and absolute > 0", idle, absolute)
		}
		c.idleTimeout, c.lifetime = idle, absolute
		return nil
	}
}

// WithBackchannelLogoutSessionRequired makes the back-channel logout handler
// reject logout tokens without a sid claim, so a logout at the provider ends
// only the sessions of that provider session, never every session of the
// user. Use it when the client is registered at the provider with
// backchannel_logout_session_required=true. Off by default: a logout token
// with only sub ends every session of that user.
func WithBackchannelLogoutSessionRequired() Option {
	return func(c *config) error {
		c.sidRequired = true
		return nil
	}
}

// WithSessionCappedByIDToken ends each session no later than the exp of the
// id_token it logged in with, on top of the idle timeout and the absolute
// lifetime; after that the next browser request logs in again and an API
// request gets 401. The cap is set once, at login (the middleware does no
// extra work), and a refreshed id_token does not extend it. It is never
// earlier than the login plus the clock skew, so an id_token accepted within
// the skew cannot cause a login loop. It applies to the manager of
// WithSessionManager too. Off by default.
func WithSessionCappedByIDToken() Option {
	return func(c *config) error {
		c.capByIDToken = true
		return nil
	}
}

// WithStrictSessionManager makes New refuse a session manager given with
// WithSessionManager whose settings are weaker than oidcauth's defaults
// (a cookie that is not HttpOnly, SameSite=None, not Secure with an https
// redirect URL, without the __Host- prefix, with a Domain or a Path, tokens
// not hashed in the Store, no idle timeout, a lifetime over a day), with
// an error naming each. Without it New logs a warning for each.
func WithStrictSessionManager() Option {
	return func(c *config) error {
		c.strictSessions = true
		return nil
	}
}

// WithTokenEncryption encrypts the token records (access, refresh and ID
// tokens of each login) in the session Store with AES-256-GCM, so that a
// dump of the Store holds no usable token. Each key is 32 bytes; the first
// encrypts, all decrypt, so a key is rotated by putting the new one first
// and removing the old one a session lifetime later. Records written
// before the option was set are still read. Every instance must have the
// same keys.
func WithTokenEncryption(keys ...[]byte) Option {
	return func(c *config) error {
		if len(keys) == 0 {
			return optionError("WithTokenEncryption", "no key")
		}
		c.tokenAEADs = nil
		for i, k := range keys {
			if len(k) != 32 {
				return optionError("WithTokenEncryption", "key %d is %d bytes, want 32", i, len(k))
			}
			block, _ := aes.NewCipher(k)
			aead, _ := cipher.NewGCM(block)
			c.tokenAEADs = append(c.tokenAEADs, aead)
		}
		return nil
	}
}

// WithLivenessInterval sets how often, per session, Require and Optional
// check that the login was not ended elsewhere (logout on another instance,
// back-channel logout, EndSessions) by reading its token record (default
// [DefaultLivenessInterval]). A request of a session ended elsewhere is
// anonymous at most this long after the end. 0 checks on every request.
func WithLivenessInterval(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 || d > 10*time.Minute {
			return optionError("WithLivenessInterval", "%v is outside 0..10m", d)
		}
		c.liveness = d
		return nil
	}
}
