package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/bench/internal/serve"
	"github.com/redis/go-redis/v9"
)

// claimsJSON is what every handler answers: the claims of the logged-in
// user as JSON, about the size of the example's /api/me.
const claimsJSON = `{"sub":"alice","name":"Alice Example","email":"alice@example.com"}`

// serveMain is the process of one in-process target (load -serve NAME):
// it listens on a free loopback port, prints "load: listening url=URL" and
// serves until SIGTERM. The floor targets set a session on GET /seed; the
// oidcauth target logs in through its /callback against -issuer.
func serveMain(name, issuer, redisAddr string) error {
	return serve.Run(name, func(ctx context.Context, base string) (http.Handler, error) {
		return handlerFor(ctx, name, base, issuer, redisAddr)
	})
}

func writeClaims(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// handlerFor builds the target's handler: GET /me is what wrk loads.
func handlerFor(ctx context.Context, name, base, issuer, redisAddr string) (http.Handler, error) {
	mux := http.NewServeMux()
	switch name {
	case "bare":
		mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) { writeClaims(w, []byte(claimsJSON)) })
		return mux, nil
	case "floor", "floor-idle", "floor-redis", "floor-redis-idle":
		// The floor a user writes by hand: a fresh scs.New() holding the
		// claims as one []byte, read with one Get; with "-idle",
		// oidcauth's default idle timeout, with which scs writes the
		// session back on every request; with "-redis", goredisstore.
		sm := scs.New()
		if name == "floor-idle" || name == "floor-redis-idle" {
			sm.IdleTimeout = oidcauth.DefaultIdleTimeout
		}
		if name == "floor-redis" || name == "floor-redis-idle" {
			if redisAddr == "" {
				return nil, errors.New("-redis is required")
			}
			sm.Store = goredisstore.New(redis.NewClient(&redis.Options{Addr: redisAddr}))
		}
		sm.Cookie.Name = "floor"
		mux.HandleFunc("GET /seed", func(w http.ResponseWriter, r *http.Request) {
			sm.Put(r.Context(), "claims", []byte(claimsJSON))
		})
		mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
			c, _ := sm.Get(r.Context(), "claims").([]byte)
			if c == nil {
				http.Error(w, "no session", http.StatusUnauthorized)
				return
			}
			writeClaims(w, c)
		})
		return sm.LoadAndSave(mux), nil
	case "oidcauth":
		if issuer == "" {
			return nil, errors.New("-issuer is required")
		}
		auth, err := oidcauth.New(ctx, issuer,
			oidcauth.WithClientID("client"), oidcauth.WithClientSecret("secret"),
			oidcauth.WithRedirectURL(base+"/callback"),
			oidcauth.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
		if err != nil {
			return nil, fmt.Errorf("oidcauth.New: %w", err)
		}
		mux.Handle("GET /callback", auth.CallbackHandler())
		mux.Handle("GET /me", auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			raw, ok := oidcauth.RawClaimsFromContext(r.Context())
			if !ok {
				http.Error(w, "no claims", http.StatusInternalServerError)
				return
			}
			writeClaims(w, raw)
		})))
		return auth.LoadAndSave(mux), nil
	}
	return nil, fmt.Errorf("unknown target %q", name)
}
