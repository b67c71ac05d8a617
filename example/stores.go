package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/oidcauth/oidcauth/leasestore"
	"github.com/redis/go-redis/v9"
)

// storeTimeout bounds connecting to a session store at start.
const storeTimeout = 10 * time.Second

// newSessionStore returns the store the configuration names (Redis or
// Postgres) for oidcauth's own session manager, and a function that closes
// it. It returns a nil store when none is configured: oidcauth then keeps
// sessions in memory.
func newSessionStore(ctx context.Context, cfg config, log *slog.Logger) (scs.Store, func(), error) {
	switch {
	case cfg.RedisURL != "":
		redis.SetLogger(redisLogger{log}) // go-redis logs through slog too
		s, c, err := redisStore(ctx, cfg.RedisURL)
		if err != nil {
			return nil, nil, fmt.Errorf("SESSION_REDIS_URL: %w", err)
		}
		log.Info("sessions are kept in Redis")
		return s, c, nil
	case cfg.PostgresURL != "":
		s, c, err := postgresStore(ctx, cfg.PostgresURL, log)
		if err != nil {
			return nil, nil, fmt.Errorf("SESSION_POSTGRES_URL: %w", err)
		}
		log.Info("sessions are kept in Postgres")
		return s, c, nil
	}
	log.Info("sessions are kept in memory")
	return nil, func() {}, nil
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
