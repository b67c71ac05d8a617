package oidcauth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A login under way (between the redirect to the provider and the callback)
// lives in a cookie of the browser that started it, sealed (AES-256-GCM)
// with a key every instance reads from the Store. Anonymous navigations so
// store nothing, and the cookie is its own binding to the browser: a state
// without its cookie is worth nothing. A browser has at most maxPending
// such cookies, in fixed slots, whatever the concurrency; a callback marks
// its state used in the Store, once (SECURITY.md, "Logins under way").

const (
	// pendingTTL is how long a started login may take.
	pendingTTL = 10 * time.Minute
	// maxPending is how many logins one browser may have under way: the
	// number of cookie slots.
	maxPending = 5
	// maxStateLen bounds the state accepted at the callback.
	maxStateLen = 512
	// maxSealedReturnTo bounds the return-to path kept in the cookie; a
	// longer one loses its query, then falls back to "/".
	maxSealedReturnTo = 512
	// loginKeyLife is how long the sealing key lives in the Store; a new one
	// then replaces it (logins under way at that moment start again).
	loginKeyLife = 90 * 24 * time.Hour
	// loginKeyReload bounds the rereads of the key after a cookie that does
	// not open (another instance may have made a new key).
	loginKeyReload = 10 * time.Second
	// loginKeyRefresh is how long an instance seals with the key it read
	// before it reads the Store's again, so that all instances follow a new
	// key (the old one expired, or the Store lost it).
	loginKeyRefresh = time.Minute
)

// pendingLogin is a login under way, as sealed into its cookie.
type pendingLogin struct {
	StateHash string `json:"s"`
	Nonce     string `json:"n"`
	Verifier  string `json:"v"`
	ReturnTo  string `json:"r"`
	Created   int64  `json:"t"` // unix seconds

	// What this login asked of the user's authentication, which the
	// callback enforces (stepup.go): the acr_values, and max_age in
	// seconds. Nil/empty: nothing asked.
	ACR    []string `json:"a,omitempty"`
	MaxAge *int64   `json:"m,omitempty"`
	// Silent marks a prompt=none login (silent.go): the provider's
	// login_required and the like bring the user back anonymous.
	Silent bool `json:"p,omitempty"`
	// Provider is the name of the provider the login was started at
	// (providers.go); empty for New's provider.
	Provider string `json:"i,omitempty"`
}

// pendingProvider is the provider p was started at; nil when the Auth has
// no provider of that name (any more).
func (a *Auth) pendingProvider(p *pendingLogin) *provider {
	if p.Provider == "" {
		return a.primary()
	}
	return a.providerNamed(p.Provider)
}

// pendingState is an Auth's state for logins under way.
type pendingState struct {
	slots []string // the cookie names, one per slot

	mu     sync.Mutex
	key    []byte
	aead   cipher.AEAD // seals and opens
	prev   cipher.AEAD // the key before, still opens: logins started just before a change
	loaded time.Time

	// locks serialize the use of a state within this process.
	locks [64]sync.Mutex
}

// slotNames returns the names of the login cookies.
func slotNames(secure bool) []string {
	var names []string
	for i := range maxPending {
		names = append(names, cookieName("oidcauth_login_"+strconv.Itoa(i), secure))
	}
	return names
}

// random returns n random bytes, base64url-encoded.
func random(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// loginAEAD returns the sealing key and the one before it (nil when none),
// read from the Store (or made there) at most once per loginKeyRefresh;
// reload rereads it sooner (at most once per loginKeyReload).
func (a *Auth) loginAEAD(ctx context.Context, reload bool) (cur, prev cipher.AEAD, err error) {
	p := &a.pending
	p.mu.Lock()
	defer p.mu.Unlock()
	age := time.Since(p.loaded)
	if p.aead != nil && age < loginKeyRefresh && (!reload || age < loginKeyReload) {
		return p.aead, p.prev, nil
	}
	key, found, err := a.storeFind(ctx, loginKeyKey)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the login key: %w", err)
	}
	if !found || len(key) != 32 {
		if key, err = a.newLoginKey(ctx); err != nil {
			return nil, nil, err
		}
	}
	p.loaded = time.Now()
	if p.aead != nil && subtle.ConstantTimeCompare(key, p.key) == 1 {
		return p.aead, p.prev, nil
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nil, err
	}
	p.key, p.prev, p.aead = key, p.aead, aead
	return p.aead, p.prev, nil
}

// newLoginKey makes a sealing key in the Store, or adopts the one another
// instance made at the same time.
func (a *Auth) newLoginKey(ctx context.Context) ([]byte, error) {
	key := make([]byte, 32)
	rand.Read(key)
	expiry := time.Now().Add(loginKeyLife)
	if ls, ok := a.sm.Store.(LeaseStore); ok {
		made, err := ls.CommitIfAbsent(ctx, loginKeyKey, key, expiry)
		if err != nil {
			return nil, fmt.Errorf("writing the login key: %w", err)
		}
		if made {
			return key, nil
		}
	} else if err := a.storeCommit(ctx, loginKeyKey, key, expiry); err != nil {
		return nil, fmt.Errorf("writing the login key: %w", err)
	}
	back, found, err := a.storeFind(ctx, loginKeyKey)
	if err != nil || !found || len(back) != 32 {
		return nil, fmt.Errorf("reading the login key back: found %v, %v", found, err)
	}
	return back, nil
}

// seal returns the cookie value of p: the time it is sealed, in unix
// nanoseconds, then the sealed record. The time is in clear so that the
// oldest slot can be found.
func (a *Auth) seal(ctx context.Context, p *pendingLogin) (string, error) {
	aead, _, err := a.loginAEAD(ctx, false)
	if err != nil {
		return "", err
	}
	plain, _ := json.Marshal(p)
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	rand.Read(nonce)
	sealed := aead.Seal(nonce, nonce, plain, a.sealAAD())
	return strconv.FormatInt(time.Now().UnixNano(), 10) + "." + base64.RawURLEncoding.EncodeToString(sealed), nil
}

// open returns the login sealed in a cookie value, or an error when the
// value was not sealed by this application.
func (a *Auth) open(aead cipher.AEAD, value string) (*pendingLogin, error) {
	_, enc, ok := strings.Cut(value, ".")
	sealed, err := base64.RawURLEncoding.DecodeString(enc)
	if !ok || err != nil || len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("malformed login cookie")
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], a.sealAAD())
	if err != nil {
		return nil, err
	}
	var p pendingLogin
	if err := json.Unmarshal(plain, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// sealAAD binds sealed logins to this client of this provider.
func (a *Auth) sealAAD() []byte { return []byte(a.primary().issuer + "\x00" + a.primary().clientID) }

// freeSlot returns the cookie name for a new login: a free slot, chosen at
// random so that tabs opened at once spread over the slots, else the slot
// of the oldest login. Only the slot names are looked at.
func (a *Auth) freeSlot(r *http.Request) string {
	var free []string
	oldest, oldestAt := "", int64(1<<62)
	for _, name := range a.pending.slots {
		c, err := r.Cookie(name)
		if err != nil {
			free = append(free, name)
			continue
		}
		at, _, _ := strings.Cut(c.Value, ".")
		if t, err := strconv.ParseInt(at, 10, 64); err == nil && t < oldestAt {
			oldest, oldestAt = name, t
		} else if err != nil {
			free = append(free, name) // garbage: as good as free
		}
	}
	if len(free) > 0 {
		return free[mrand.IntN(len(free))]
	}
	return oldest
}

// findPending returns the login of the state whose hash is sh from the
// browser's login cookies, and the cookie's name.
func (a *Auth) findPending(ctx context.Context, r *http.Request, sh string) (*pendingLogin, string, error) {
	for _, reload := range []bool{false, true} {
		cur, prev, err := a.loginAEAD(ctx, reload)
		if err != nil {
			return nil, "", err
		}
		opened := 0
		for _, name := range a.pending.slots {
			c, err := r.Cookie(name)
			if err != nil {
				continue
			}
			p, err := a.open(cur, c.Value)
			if err != nil && prev != nil {
				p, err = a.open(prev, c.Value)
			}
			if err != nil {
				continue
			}
			opened++
			if subtle.ConstantTimeCompare([]byte(p.StateHash), []byte(sh)) == 1 {
				return p, name, nil
			}
		}
		if opened > 0 {
			break // the key opens this browser's cookies: no reload
		}
	}
	return nil, "", nil
}

// useState marks the state whose hash is sh used, once: false means it was
// used before. With a LeaseStore the mark is atomic across instances; with
// another Store, within this process.
func (a *Auth) useState(ctx context.Context, sh string, created time.Time) (bool, error) {
	key, expiry := usedStateKey(sh), created.Add(pendingTTL+time.Minute)
	if ls, ok := a.sm.Store.(LeaseStore); ok {
		return ls.CommitIfAbsent(ctx, key, []byte{1}, expiry)
	}
	h := fnv.New32a()
	h.Write([]byte(sh))
	mu := &a.pending.locks[h.Sum32()%uint32(len(a.pending.locks))]
	mu.Lock()
	defer mu.Unlock()
	if _, used, err := a.storeFind(ctx, key); err != nil || used {
		return false, err
	}
	return true, a.storeCommit(ctx, key, []byte{1}, expiry)
}

// shortReturnTo keeps a return-to path within maxSealedReturnTo: without
// its query when needed, else "/".
func shortReturnTo(returnTo string) string {
	if len(returnTo) <= maxSealedReturnTo {
		return returnTo
	}
	if path, _, _ := strings.Cut(returnTo, "?"); len(path) <= maxSealedReturnTo {
		return path
	}
	return "/"
}
