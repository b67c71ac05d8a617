// Command floor is the load test's scs floor as its own small program, the
// way a user writes it by hand: a fresh scs.New() holding the claims as one
// []byte, read with one Get per request; nothing else linked in, so that
// its RSS is that of such an app. bench/load starts it (-floor).
//
//	floor -name floor|floor-idle|floor-redis|floor-redis-idle [-redis ADDR]
//
// It listens on a free loopback port, prints "load: NAME listening
// url=URL", sets the session on GET /seed, answers it on GET /me, and
// serves until SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/oidcauth/oidcauth/bench/internal/serve"
	"github.com/redis/go-redis/v9"
)

// claimsJSON is the same as bench/load's.
const claimsJSON = `{"sub":"alice","name":"Alice Example","email":"alice@example.com"}`

// idleTimeout is oidcauth's default idle timeout (oidcauth.DefaultIdleTimeout).
const idleTimeout = 30 * time.Minute

func main() {
	name := flag.String("name", "floor", "floor, floor-idle, floor-redis or floor-redis-idle")
	redisAddr := flag.String("redis", "", "the Redis of the -redis floors")
	flag.Parse()
	if err := run(*name, *redisAddr); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(name, redisAddr string) error {
	sm := scs.New()
	switch name {
	case "floor":
	case "floor-idle":
		sm.IdleTimeout = idleTimeout
	case "floor-redis", "floor-redis-idle":
		if redisAddr == "" {
			return errors.New("-redis is required")
		}
		sm.Store = goredisstore.New(redis.NewClient(&redis.Options{Addr: redisAddr}))
		if name == "floor-redis-idle" {
			sm.IdleTimeout = idleTimeout
		}
	default:
		return fmt.Errorf("unknown floor %q", name)
	}
	sm.Cookie.Name = "floor"
	mux := http.NewServeMux()
	mux.HandleFunc("GET /seed", func(w http.ResponseWriter, r *http.Request) {
		sm.Put(r.Context(), "claims", []byte(claimsJSON))
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		c, _ := sm.Get(r.Context(), "claims").([]byte)
		if c == nil {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(c)
	})
	return serve.Run(name, func(context.Context, string) (http.Handler, error) { return sm.LoadAndSave(mux), nil })
}
