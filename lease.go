package oidcauth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"
)

// LeaseStore is an optional interface of a session Store that lets the
// instances sharing it refresh a login's tokens one at a time: a provider
// that rotates refresh tokens and detects their reuse (oidc-provider, Auth0,
// Okta, Keycloak) revokes the whole grant when two instances send the same
// refresh token, logging the user out everywhere. Before a refresh an
// instance takes a lease record for the login; the others wait for the
// tokens it stores and never send the old refresh token.
//
// The package github.com/oidcauth/oidcauth/leasestore has LeaseStores for
// Redis, PostgreSQL and memory. With a Store that is not one, the lease is
// taken on a best-effort basis (written, then read back), which leaves a
// window of one Store round trip in which two instances can both take it;
// the loser of such a race adopts the winner's tokens when the provider
// refuses its refresh token, unless the provider revokes the grant.
type LeaseStore interface {
	// CommitIfAbsent stores b under key until expiry when key has no
	// unexpired record, atomically for every client of the store, and
	// reports whether it stored it.
	CommitIfAbsent(ctx context.Context, key string, b []byte, expiry time.Time) (bool, error)
}

const (
	// leaseTTL is how long a refresh lease lives unless renewed; a crashed
	// holder's lease ends this long after its last renewal.
	leaseTTL = 5 * time.Second
	// leaseRenewEvery is how often the holder renews it while the grant is
	// in flight.
	leaseRenewEvery = leaseTTL / 3
	// leasePoll is how often an instance waiting for another's refresh
	// looks at the token record.
	leasePoll = 40 * time.Millisecond
	// leaseSettle is how long the best-effort lease waits between writing
	// and reading back, with a Store that is not a LeaseStore.
	leaseSettle = 25 * time.Millisecond
)

// errLeaseHeld means another instance holds the login's refresh lease.
var errLeaseHeld = errors.New("another instance is refreshing this login's tokens")

// lease is a refresh lease this instance holds.
type lease struct {
	a     *Auth
	key   string
	value []byte
	stop  chan struct{}
	done  chan struct{}
}

// takeLease takes the refresh lease of the login id and keeps renewing it
// until release; errLeaseHeld means another instance holds it.
func (a *Auth) takeLease(ctx context.Context, id string) (*lease, error) {
	key, value := leaseKey(id), []byte(random(16))
	expiry := time.Now().Add(leaseTTL)
	if ls, ok := a.sm.Store.(LeaseStore); ok {
		taken, err := ls.CommitIfAbsent(ctx, key, value, expiry)
		if err != nil {
			return nil, fmt.Errorf("%w: taking the refresh lease: %v", ErrSession, err)
		}
		if !taken {
			return nil, errLeaseHeld
		}
	} else {
		// Best effort: write when absent, then read back.
		if _, found, err := a.storeFind(ctx, key); err != nil || found {
			if err != nil {
				return nil, fmt.Errorf("%w: reading the refresh lease: %v", ErrSession, err)
			}
			return nil, errLeaseHeld
		}
		if err := a.storeCommit(ctx, key, value, expiry); err != nil {
			return nil, fmt.Errorf("%w: writing the refresh lease: %v", ErrSession, err)
		}
		// Let a rival that read "absent" at the same time write its own
		// first: the read-back then tells the last writer, who holds it.
		time.Sleep(leaseSettle)
		if back, _, err := a.storeFind(ctx, key); err != nil || !bytes.Equal(back, value) {
			if err != nil {
				return nil, fmt.Errorf("%w: reading the refresh lease back: %v", ErrSession, err)
			}
			return nil, errLeaseHeld
		}
	}
	l := &lease{a: a, key: key, value: value, stop: make(chan struct{}), done: make(chan struct{})}
	go l.renew()
	return l, nil
}

// renew extends the lease while the refresh is in flight, as long as it is
// still this instance's.
func (l *lease) renew() {
	defer close(l.done)
	t := time.NewTicker(leaseRenewEvery)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), leaseRenewEvery)
		if l.mine(ctx) {
			if err := l.a.storeCommit(ctx, l.key, l.value, time.Now().Add(leaseTTL)); err != nil {
				l.a.log.Warn("oidcauth: renewing the refresh lease failed", "err", err)
			}
		}
		cancel()
	}
}

// mine reports whether the lease record is still this lease's.
func (l *lease) mine(ctx context.Context) bool {
	b, found, err := l.a.storeFind(ctx, l.key)
	return err == nil && found && bytes.Equal(b, l.value)
}

// release stops the renewal and deletes the lease if it is still this one.
func (l *lease) release(ctx context.Context) {
	close(l.stop)
	<-l.done
	if l.mine(ctx) {
		if err := l.a.storeDelete(ctx, l.key); err != nil {
			l.a.log.WarnContext(ctx, "oidcauth: releasing the refresh lease failed; it expires by itself", "err", err)
		}
	}
}

// leaseHeld reports whether some instance holds the lease of the login id.
func (a *Auth) leaseHeld(ctx context.Context, id string) (bool, error) {
	_, found, err := a.storeFind(ctx, leaseKey(id))
	return found, err
}

// refreshBound bounds a whole refresh: waiting for another instance's
// (timeout plus the lease's life), its own grant (timeout), the race grace
// and the retries of a failed save.
func refreshBound(timeout, raceGrace time.Duration) time.Duration {
	return 2*timeout + leaseTTL + raceGrace + saveRetryFor + time.Second
}

// awaitLease waits while another instance holds the lease of l: it returns
// nil once the token record changed from cur or the lease is gone (the
// caller looks again), and an error when the deadline or ctx ends first.
func (a *Auth) awaitLease(ctx context.Context, l *login, cur *tokenSet, deadline time.Time) error {
	for {
		ts, err := a.loadTokens(ctx, l)
		if err != nil {
			return asTokenError(err)
		}
		if ts.Version != cur.Version {
			return nil
		}
		held, err := a.leaseHeld(ctx, l.ID)
		if err != nil {
			return asTokenError(fmt.Errorf("%w: reading the refresh lease: %v", ErrSession, err))
		}
		if !held {
			return nil
		}
		if !time.Now().Before(deadline) {
			return refreshError(errors.New("another instance's refresh of this login did not finish in time"))
		}
		select {
		case <-time.After(leasePoll):
		case <-ctx.Done():
			return refreshError(fmt.Errorf("gave up waiting for another instance's refresh: %w", ctx.Err()))
		}
	}
}

// saveRetryFor is how long a refresh retries storing the tokens it got: a
// rotated refresh token that is not stored is lost, and the old one would
// be refused (or, with reuse detection, end the grant).
const saveRetryFor = 5 * time.Second

// saveRefreshed stores next, refreshed from cur, and returns it. It stores
// only over cur: a logout may have deleted it (ErrNotLoggedIn), or, without
// rotation, another instance stored a newer set, which it returns instead.
// A failing store is retried for up to saveRetryFor, within ctx.
func (a *Auth) saveRefreshed(ctx context.Context, l *login, cur, next *tokenSet) (*tokenSet, error) {
	deadline := time.Now().Add(saveRetryFor)
	wait := 50 * time.Millisecond
	for {
		latest, err := a.loadTokens(ctx, l)
		switch {
		case errors.Is(err, ErrNotLoggedIn):
			return nil, err // logged out meanwhile: store nothing
		case err == nil && latest.Version != cur.Version:
			return latest, nil
		case err == nil:
			if err = a.saveTokens(ctx, l, next, a.sm.Deadline(ctx)); err == nil {
				return next, nil
			}
		}
		if !time.Now().Before(deadline) {
			return nil, err
		}
		a.log.WarnContext(ctx, "oidcauth: storing refreshed tokens failed; retrying", "sub", l.Subject, "err", err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, err
		}
		wait = min(2*wait, time.Second)
	}
}
