package oidcauth

import (
	"context"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2/memstore"
)

// memLeaseStore is leasestore.Memory for the tests of this module:
// memstore with an atomic CommitIfAbsent, a LeaseStore for several
// instances in one process. leasestore is its own module (it requires the
// Redis and Postgres drivers), which this one does not require.
type memLeaseStore struct {
	*memstore.MemStore
	mu sync.Mutex
}

func newMemLeaseStore() *memLeaseStore { return &memLeaseStore{MemStore: memstore.New()} }

func (m *memLeaseStore) CommitIfAbsent(ctx context.Context, key string, b []byte, expiry time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, found, err := m.Find(key); err != nil || found {
		return false, err
	}
	return true, m.Commit(key, b, expiry)
}

var _ LeaseStore = newMemLeaseStore()
