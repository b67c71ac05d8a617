// Command app is the load test's oidcauth target as its own small program,
// the floor's (bench/floor) with oidcauth in place of the session kept by
// hand: oidcauth.New with its defaults, Require, and the claims answered
// from RawClaimsFromContext; like the floor it links go-redis and
// goredisstore (-redis), so that its RSS beside the floor's is what
// oidcauth adds to a small app. bench/load starts it (-app).
//
//	app -issuer URL [-redis ADDR]
//
// It listens on a free loopback port, prints "load: oidcauth listening
// url=URL", logs in through GET /callback, answers GET /me, and serves
// until SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/bench/internal/serve"
	"github.com/redis/go-redis/v9"
)

func main() {
	issuer := flag.String("issuer", "", "the provider")
	redisAddr := flag.String("redis", "", "keep the sessions in this Redis")
	flag.Parse()
	if err := run(*issuer, *redisAddr); err != nil {
		fmt.Fprintln(os.Stderr, "app:", err)
		os.Exit(1)
	}
}

func run(issuer, redisAddr string) error {
	if issuer == "" {
		return errors.New("-issuer is required")
	}
	return serve.Run("oidcauth", func(ctx context.Context, base string) (http.Handler, error) {
		opts := []oidcauth.Option{
			oidcauth.WithClientID("client"), oidcauth.WithClientSecret("secret"),
			oidcauth.WithRedirectURL(base + "/callback"),
			oidcauth.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))),
		}
		if redisAddr != "" {
			opts = append(opts, oidcauth.WithSessionStore(goredisstore.New(redis.NewClient(&redis.Options{Addr: redisAddr}))))
		}
		auth, err := oidcauth.New(ctx, issuer, opts...)
		if err != nil {
			return nil, err
		}
		mux := http.NewServeMux()
		mux.Handle("GET /callback", auth.CallbackHandler())
		mux.Handle("GET /me", auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			raw, ok := oidcauth.RawClaimsFromContext(r.Context())
			if !ok {
				http.Error(w, "no claims", http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write(raw)
		})))
		return auth.LoadAndSave(mux), nil
	})
}
