// Package leasestore has scs session Stores that implement
// [oidcauth.LeaseStore], so that the instances of an application sharing
// them refresh a login's tokens one at a time: [Redis] (the scs
// goredisstore with SET NX), [Postgres] (the scs pgxstore with INSERT ... ON
// CONFLICT) and [Memory] (the scs memstore, for several oidcauth instances in
// one process, as in tests). Each is the scs store it wraps plus one method,
// and stores sessions exactly as that store does: switching to it keeps the
// sessions that are there.
//
//	sm := scs.New()
//	sm.Store = leasestore.Redis(redisClient)
//	auth, err := oidcauth.New(ctx, issuer, oidcauth.WithSessionManager(sm), ...)
package leasestore
