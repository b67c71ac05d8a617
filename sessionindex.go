package oidcauth

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The session index: how it works and what it cannot promise is in the
// package doc, "The session index".

const (
	// maxIndexEntries bounds a list; beyond it the sessions of the oldest
	// entries are ended (and logged): a user with more live sessions than
	// this is not a human.
	maxIndexEntries = 100
	// indexGrace is how long a new entry is kept even though its session is
	// not in the Store: scs writes the session when the callback answers,
	// after the entry.
	indexGrace = 2 * time.Minute
	// indexAttempts bounds the write-and-read-back loop.
	indexAttempts = 4
)

// indexState is an Auth's own state for the session index.
type indexState struct {
	// locks serialize the writes of a list within this process.
	locks [64]sync.Mutex
	// fullWarned is when the full-list warning was last logged.
	fullWarned atomic.Int64
	// redeleteAfter are the delays of the package's redeleteAfter; tests
	// shorten them.
	redeleteAfter []time.Duration
	// redeletes counts the ends that scheduled second deletes.
	redeletes atomic.Int64
	// local: the Store is oidcauth's own memory store, which no other
	// process writes, so that the locks above serialize every write of a
	// list and the read-back after a write can only find it as written.
	local bool
}

// indexEntry is one session in a sid or sub list.
type indexEntry struct {
	// Key is the session's key in the Store: its token, or the token's hash
	// when the manager has HashTokenInStore.
	Key string
	// Login is the login's ID, which names its token record.
	Login string
	// Subject is the hash of the login's sub, in sid lists only.
	Subject string
	// Expiry is the session's absolute deadline, Created when the entry was
	// made, both in Unix seconds.
	Expiry  int64
	Created int64
}

// An index record is a line per entry: key, login, expiry, created and, in
// sid lists, the subject's hash, separated by spaces. Every field is
// base64url or decimal. Cheaper than JSON for the user whose list is long
// (a load test logging one user in again and again).

func encodeIndex(list []indexEntry) []byte {
	n := 0
	for _, x := range list {
		n += len(x.Key) + len(x.Login) + len(x.Subject) + 2*20 + 5
	}
	b := make([]byte, 0, n)
	for _, x := range list {
		b = append(b, x.Key...)
		b = append(b, ' ')
		b = append(b, x.Login...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, x.Expiry, 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, x.Created, 10)
		if x.Subject != "" {
			b = append(b, ' ')
			b = append(b, x.Subject...)
		}
		b = append(b, '\n')
	}
	return b
}

// decodeIndex parses a record; ok is false when a line is malformed (it is
// left out).
func decodeIndex(b []byte) (list []indexEntry, ok bool) {
	if len(b) == 0 {
		return nil, true
	}
	rest := string(b)
	list = make([]indexEntry, 0, strings.Count(rest, "\n")+1)
	ok = true
	for rest != "" {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		if x, good := decodeEntry(line); good {
			list = append(list, x)
		} else {
			ok = false
		}
	}
	return list, ok
}

func decodeEntry(line string) (x indexEntry, ok bool) {
	var exp, created string
	var ok1, ok2, ok3 bool
	x.Key, line, ok1 = strings.Cut(line, " ")
	x.Login, line, ok2 = strings.Cut(line, " ")
	exp, line, ok3 = strings.Cut(line, " ")
	created, x.Subject, _ = strings.Cut(line, " ")
	if !ok1 || !ok2 || !ok3 || x.Key == "" || x.Login == "" || strings.Contains(x.Subject, " ") {
		return x, false
	}
	var err1, err2 error
	x.Expiry, err1 = strconv.ParseInt(exp, 10, 64)
	x.Created, err2 = strconv.ParseInt(created, 10, 64)
	return x, err1 == nil && err2 == nil
}

func (a *Auth) indexLock(key string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(key))
	return &a.index.locks[h.Sum32()%uint32(len(a.index.locks))]
}

// indexSession adds the request's session, just renewed at login, to the
// lists of its sid and its sub.
func (a *Auth) indexSession(ctx context.Context, l *login) error {
	token := a.sm.Token(ctx)
	if token == "" {
		return errors.New("indexing the session: it has no token yet")
	}
	now := time.Now()
	e := indexEntry{Key: a.sessionStoreKey(token), Login: l.ID, Expiry: a.sm.Deadline(ctx).Unix(), Created: now.Unix()}
	if l.SessionID != "" {
		se := e
		se.Subject = hashString(l.Subject)
		if err := a.indexAdd(ctx, sidIndexKey(a.issuerOf(l), l.SessionID), se); err != nil {
			return err
		}
	}
	return a.indexAdd(ctx, subIndexKey(a.issuerOf(l), l.Subject), e)
}

// indexAdd adds e to the list at key, pruning the list on the way.
func (a *Auth) indexAdd(ctx context.Context, key string, e indexEntry) error {
	mu := a.indexLock(key)
	mu.Lock()
	defer mu.Unlock()
	for attempt := 1; ; attempt++ {
		list, err := a.indexRead(ctx, key)
		if err != nil {
			return err
		}
		list = a.indexPrune(ctx, list, e.Key)
		list = append(list, e)
		if over := len(list) - maxIndexEntries; over > 0 {
			// A session the index forgets could not be ended any more: the
			// oldest sessions end instead.
			slices.SortStableFunc(list, func(x, y indexEntry) int { return cmp.Compare(x.Created, y.Created) })
			evicted := list[:over:over]
			list = list[over:]
			if err := a.endSessionsIn(ctx, evicted); err != nil {
				return err
			}
			if now := time.Now().Unix(); a.index.fullWarned.Swap(now) < now-60 {
				a.log.WarnContext(ctx, "oidcauth: too many live sessions for one user or provider session; the oldest were ended (logged at most once a minute)",
					"max", maxIndexEntries)
			}
		}
		if err := a.indexWrite(ctx, key, list); err != nil {
			return err
		}
		if a.index.local {
			return nil
		}
		// Read back: another instance may have rewritten the list meanwhile.
		back, err := a.indexRead(ctx, key)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(back, func(x indexEntry) bool { return x.Key == e.Key }) {
			return nil
		}
		if attempt == indexAttempts {
			return fmt.Errorf("indexing the session: the index record was rewritten concurrently %d times", attempt)
		}
		time.Sleep(time.Duration(2+rand.IntN(20)) * time.Millisecond)
	}
}

// indexPrune drops the entries that are expired, that name the session key
// skip, or whose session is no longer in the Store (unless they are new).
func (a *Auth) indexPrune(ctx context.Context, list []indexEntry, skip string) []indexEntry {
	now := time.Now()
	return slices.DeleteFunc(list, func(x indexEntry) bool {
		if x.Key == skip || x.Expiry <= now.Unix() {
			return true
		}
		if now.Sub(time.Unix(x.Created, 0)) < indexGrace {
			return false
		}
		_, found, err := a.storeFind(ctx, x.Key)
		return err == nil && !found
	})
}

func (a *Auth) indexRead(ctx context.Context, key string) ([]indexEntry, error) {
	b, found, err := a.storeFind(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("%w: reading the session index: %v", ErrSession, err)
	}
	if !found {
		return nil, nil
	}
	list, ok := decodeIndex(b)
	if !ok {
		// Keep what parses rather than refuse every login of the user.
		a.log.ErrorContext(ctx, "oidcauth: a session index record has malformed lines; they are dropped at the next write")
	}
	return list, nil
}

func (a *Auth) indexWrite(ctx context.Context, key string, list []indexEntry) error {
	var expiry int64
	for _, x := range list {
		expiry = max(expiry, x.Expiry)
	}
	if err := a.storeCommit(ctx, key, encodeIndex(list), time.Unix(expiry, 0)); err != nil {
		return fmt.Errorf("%w: writing the session index: %v", ErrSession, err)
	}
	return nil
}
