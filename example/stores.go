package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/oidcauth/oidcauth/leasestore"
	"github.com/redis/go-redis/v9"
)

// storeTimeout bounds connecting to a session store at start.
const storeTimeout = 10 * time.Second

// newSessionManager returns an scs session manager backed by the store the
// configuration names (Redis or Postgres), with the same cookie settings
// oidcauth uses for its own, and a function that closes the store. It
// returns a nil manager when no store is configured: oidcauth then makes
// its own, in memory.
func newSessionManager(ctx context.Context, cfg config, log *slog.Logger) (*scs.SessionManager, func(), error) {
	var store scs.Store
	var closeStore func()
	switch {
	case cfg.RedisURL != "":
		redis.SetLogger(redisLogger{log}) // go-redis logs through slog too
		s, c, err := redisStore(ctx, cfg.RedisURL)
		if err != nil {
			return nil, nil, fmt.Errorf("SESSION_REDIS_URL: %w", err)
		}
		store, closeStore = s, c
		log.Info("sessions are kept in Redis")
	case cfg.PostgresURL != "":
		s, c, err := postgresStore(ctx, cfg.PostgresURL, log)
		if err != nil {
			return nil, nil, fmt.Errorf("SESSION_POSTGRES_URL: %w", err)
		}
		store, closeStore = s, c
		log.Info("sessions are kept in Postgres")
	default:
		log.Info("sessions are kept in memory")
		return nil, func() {}, nil
	}

	u, _ := url.Parse(cfg.RedirectURL)
	secure := u.Scheme == "https"
	sm := scs.New()
	sm.Store = store
	sm.IdleTimeout = 30 * time.Minute
	sm.Lifetime = 8 * time.Hour
	sm.Cookie.Name = "oidcauth"
	if secure {
		// Only a Secure cookie with Path=/ and no Domain may have this
		// prefix, and a sibling subdomain cannot plant it.
		sm.Cookie.Name = "__Host-oidcauth"
	}
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Secure = secure
	sm.Cookie.Path = "/"
	return sm, closeStore, nil
}

// redisStore connects to Redis and returns the scs store.
func redisStore(ctx context.Context, rawURL string) (scs.Store, func(), error) {
	opts, err := parseRedisURL(rawURL)
	if err != nil {
		return nil, nil, err
	}
	client := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("cannot reach Redis at %s: %w", opts.Addr, err)
	}
	// A LeaseStore: the instances sharing Redis refresh a login one at a time.
	return leasestore.Redis(client), func() { client.Close() }, nil
}

// redisLogger hands go-redis's log lines to slog.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, fmt.Sprintf(format, v...)) // lines start with "redis:"
}

// sessionsSchema is the table pgxstore uses, created when missing.
const sessionsSchema = `CREATE TABLE IF NOT EXISTS sessions (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_expiry_idx ON sessions (expiry);`

// postgresStore connects to Postgres, creates the sessions table if it is
// missing, and returns the scs store.
func postgresStore(ctx context.Context, rawURL string, log *slog.Logger) (scs.Store, func(), error) {
	pcfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, nil, err
	}
	setupCtx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	if err := pool.Ping(setupCtx); err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("cannot reach Postgres at %s: %w", pcfg.ConnConfig.Host, err)
	}
	if _, err := pool.Exec(setupCtx, sessionsSchema); err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("creating the sessions table: %w", err)
	}

	// pgxstore's own cleanup goroutine cannot be stopped without a data
	// race, so expired sessions are deleted here, by a loop that stops
	// with the store.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Minute)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := pool.Exec(context.Background(), "DELETE FROM sessions WHERE expiry < current_timestamp"); err != nil {
					log.Warn("deleting expired sessions failed", "err", err)
				}
			}
		}
	})
	closeStore := func() {
		close(stop)
		wg.Wait()
		pool.Close()
	}
	return leasestore.PostgresWithCleanupInterval(pool, 0), closeStore, nil
}
