package leasestore

import (
	"context"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresStore is pgxstore's Store with an atomic CommitIfAbsent, on the
// same sessions table (token TEXT PRIMARY KEY, data BYTEA, expiry
// TIMESTAMPTZ).
type PostgresStore struct {
	*pgxstore.PostgresStore
	pool *pgxpool.Pool
}

// Postgres returns the Store pgxstore.New(pool) returns, with
// CommitIfAbsent.
func Postgres(pool *pgxpool.Pool) *PostgresStore {
	return &PostgresStore{PostgresStore: pgxstore.New(pool), pool: pool}
}

// PostgresWithCleanupInterval is Postgres with
// pgxstore.NewWithCleanupInterval: 0 starts no cleanup goroutine.
func PostgresWithCleanupInterval(pool *pgxpool.Pool, interval time.Duration) *PostgresStore {
	return &PostgresStore{PostgresStore: pgxstore.NewWithCleanupInterval(pool, interval), pool: pool}
}

// CommitIfAbsent stores b under key until expiry unless key has an
// unexpired row, in one statement: a new row, or an expired one taken over.
func (p *PostgresStore) CommitIfAbsent(ctx context.Context, key string, b []byte, expiry time.Time) (bool, error) {
	tag, err := p.pool.Exec(ctx, `INSERT INTO sessions (token, data, expiry) VALUES ($1, $2, $3)
		ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry
		WHERE sessions.expiry <= current_timestamp`, key, b, expiry)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}
