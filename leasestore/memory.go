package leasestore

import (
	"context"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2/memstore"
)

// MemoryStore is memstore's Store with CommitIfAbsent, atomic within the
// process: for several oidcauth instances sharing one memory store.
type MemoryStore struct {
	*memstore.MemStore
	mu sync.Mutex // serializes CommitIfAbsent
}

// Memory returns memstore.New() with CommitIfAbsent.
func Memory() *MemoryStore {
	return &MemoryStore{MemStore: memstore.New()}
}

// CommitIfAbsent stores b under key until expiry unless key has an
// unexpired record, and reports whether it did.
func (m *MemoryStore) CommitIfAbsent(ctx context.Context, key string, b []byte, expiry time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, found, err := m.Find(key); err != nil || found {
		return false, err
	}
	return true, m.Commit(key, b, expiry)
}
