package oidcauth

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
)

// The idle timeout of oidcauth's own session manager. scs enforces an idle
// timeout by writing the whole session back on every request; oidcauth's
// own manager instead keeps, in the login, when the session was last
// touched, and writes it at most once per touch interval. So between
// touches an authenticated request makes one store read and no write.
//
//   - A session untouched for longer than the idle timeout no longer
//     authenticates: it is destroyed at its next request. As it is touched
//     once per interval, it stops authenticating between idle - touch and
//     idle after its last use, never later.
//   - Its store record expires at the latest idle + touch after the last
//     touch: every write of a session record is capped so (idleStore).
//
// An application's own manager keeps scs's behaviour.

// maxTouchInterval bounds the touch interval; it is a tenth of the idle
// timeout when that is shorter.
const maxTouchInterval = time.Minute

// touchInterval is the touch interval for the idle timeout idle.
func touchInterval(idle time.Duration) time.Duration {
	return min(maxTouchInterval, idle/10)
}

// touch applies the idle timeout of oidcauth's own manager to the request's
// login: nil when the session has been idle too long (it is destroyed);
// otherwise the login, touched when a touch interval has passed.
func (a *Auth) touch(ctx context.Context, l *login, now time.Time) *login {
	if a.idle == 0 {
		return l
	}
	since := now.Sub(l.Seen)
	if since < a.touchEvery {
		return l
	}
	if since > a.idle {
		a.claims.forget(l.ID)
		if err := a.sm.Destroy(ctx); err != nil {
			a.log.WarnContext(ctx, "oidcauth: destroying an idle session failed", "err", err)
		}
		return nil
	}
	nl := &login{ID: l.ID, Subject: l.Subject, SessionID: l.SessionID, Issuer: l.Issuer, LoginTime: l.LoginTime, Tag: l.Tag, Seen: now}
	a.sm.Put(ctx, sessionKey, nl)
	return nl
}

// idleStore is the Store of oidcauth's own manager: it caps the expiry of
// every session record at idle + touch from its write, so that an idle
// session's record expires with it; oidcauth's own records keep theirs.
type idleStore struct {
	scs.Store
	life time.Duration
}

// idleLeaseStore is an idleStore over a LeaseStore.
type idleLeaseStore struct {
	*idleStore
	lease LeaseStore
}

// CommitIfAbsent is the wrapped store's.
func (s *idleLeaseStore) CommitIfAbsent(ctx context.Context, key string, b []byte, expiry time.Time) (bool, error) {
	return s.lease.CommitIfAbsent(ctx, key, b, s.cap(key, expiry))
}

// wrapIdle returns store with session records capped at life.
func wrapIdle(store scs.Store, life time.Duration) scs.Store {
	s := &idleStore{Store: store, life: life}
	if ls, ok := store.(LeaseStore); ok {
		return &idleLeaseStore{idleStore: s, lease: ls}
	}
	return s
}

func (s *idleStore) cap(key string, expiry time.Time) time.Time {
	if strings.HasPrefix(key, keyPrefix) {
		return expiry
	}
	if limit := time.Now().Add(s.life); limit.Before(expiry) {
		return limit
	}
	return expiry
}

// Find is the wrapped store's.
func (s *idleStore) Find(key string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), key)
}

// Commit is the wrapped store's, with a session record's expiry capped.
func (s *idleStore) Commit(key string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), key, b, expiry)
}

// Delete is the wrapped store's.
func (s *idleStore) Delete(key string) error {
	return s.DeleteCtx(context.Background(), key)
}

// FindCtx is the wrapped store's.
func (s *idleStore) FindCtx(ctx context.Context, key string) ([]byte, bool, error) {
	if cs, ok := s.Store.(scs.CtxStore); ok {
		return cs.FindCtx(ctx, key)
	}
	return s.Store.Find(key)
}

// CommitCtx is the wrapped store's, with a session record's expiry capped.
func (s *idleStore) CommitCtx(ctx context.Context, key string, b []byte, expiry time.Time) error {
	expiry = s.cap(key, expiry)
	if cs, ok := s.Store.(scs.CtxStore); ok {
		return cs.CommitCtx(ctx, key, b, expiry)
	}
	return s.Store.Commit(key, b, expiry)
}

// DeleteCtx is the wrapped store's.
func (s *idleStore) DeleteCtx(ctx context.Context, key string) error {
	if cs, ok := s.Store.(scs.CtxStore); ok {
		return cs.DeleteCtx(ctx, key)
	}
	return s.Store.Delete(key)
}

// All is the wrapped store's, when it has one.
func (s *idleStore) All() (map[string][]byte, error) {
	return s.AllCtx(context.Background())
}

// AllCtx is the wrapped store's, when it has one.
func (s *idleStore) AllCtx(ctx context.Context) (map[string][]byte, error) {
	switch is := s.Store.(type) {
	case scs.IterableCtxStore:
		return is.AllCtx(ctx)
	case scs.IterableStore:
		return is.All()
	}
	return nil, errors.New("oidcauth: the session store cannot list its records")
}
