package leasestore

import (
	"context"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/redis/go-redis/v9"
)

// RedisStore is goredisstore's Store with an atomic CommitIfAbsent.
type RedisStore struct {
	*goredisstore.RedisStore
	client *redis.Client
	prefix string
}

// Redis returns the Store goredisstore.New(client) returns, with
// CommitIfAbsent; its keys have goredisstore's prefix "scs:session:".
func Redis(client *redis.Client) *RedisStore {
	return RedisWithPrefix(client, "scs:session:")
}

// RedisWithPrefix is Redis with goredisstore.NewWithPrefix's key prefix.
func RedisWithPrefix(client *redis.Client, prefix string) *RedisStore {
	return &RedisStore{RedisStore: goredisstore.NewWithPrefix(client, prefix), client: client, prefix: prefix}
}

// CommitIfAbsent stores b under key until expiry unless key exists (SET NX
// with a millisecond expiry), and reports whether it did.
func (r *RedisStore) CommitIfAbsent(ctx context.Context, key string, b []byte, expiry time.Time) (bool, error) {
	ttl := time.Until(expiry)
	if ttl < time.Millisecond {
		return false, nil
	}
	return r.client.SetNX(ctx, r.prefix+key, string(b), ttl).Result()
}
