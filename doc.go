// Package oidcauth logs the users of a net/http application in with OpenID
// Connect.
//
// An [Auth] is built once with [New]. It discovers the provider (or takes its
// endpoints by hand), and then gives the application:
//
//   - [Auth.Require], a middleware that sends anonymous browsers to the
//     provider (authorization code flow with state, nonce and PKCE S256) and
//     answers API requests with 401;
//   - [Auth.Optional], a middleware that loads the login when there is one;
//   - [Auth.CallbackHandler], [Auth.LoginHandler], [Auth.LogoutHandler] and
//     [Auth.PostLogoutHandler], the handlers the application mounts on its
//     routes ([Auth.Mount] mounts them all on a ServeMux), and
//     [Auth.LoggedOut], which tells the page the user lands on after
//     logout;
//   - [ClaimsFromContext], [RawClaimsFromContext] and [DecodeClaims], which a
//     handler uses to learn who the user is;
//   - [Auth.Token], [Auth.TokenSource], [Auth.Client] and [Auth.UserInfo],
//     which call APIs with the user's access token, refreshed when needed
//     (with [WithDPoP], sender-constrained: [Auth.Client], [Auth.UserInfo]
//     and [Auth.AuthHeaders] add a DPoP proof);
//   - [Auth.BackchannelLogoutHandler] and [Auth.EndSessions], which end every
//     session of a user on every instance, when the provider or the
//     application says so;
//   - for providers that refuse shared secrets, [WithClientKey]
//     (private_key_jwt client assertions) with [Auth.ClientJWKSHandler]
//     (the client's public keys), and [WithPAR] (pushed authorization
//     requests); [WithFAPI2] turns on the whole FAPI 2.0 Security Profile;
//   - [Auth.RequireACR], [Auth.RequireFreshLogin], [Auth.RequireClaim] and
//     [Auth.RequireCheck], per-route policy: a step-up login for an acr or a
//     recent authentication, a 403 for a missing claim, and RFC 9470
//     challenges, from the application and from resource servers
//     ([StepUpError]).
//
// Logins live server-side in scs sessions (github.com/alexedwards/scs/v2),
// so any scs store works: memory by default, Redis or Postgres when the
// application runs on several machines.
//
// # Words
//
// The code and its documentation use these words in one sense each:
//
//   - A login is what a successful callback makes: who the user is (the
//     login record, kept in the session) and the login's tokens (a token
//     record of its own in the Store).
//   - To end a session is to make its cookie stop authenticating on every
//     instance: its session record and its login's token record are deleted
//     from the Store, and deleted again a little later. Logout, back-channel
//     logout and EndSessions end sessions.
//   - A login expires when its tokens can no longer be refreshed (the
//     provider refused the refresh token, or there is none): its token record
//     is deleted.
//   - A session forgets a login when the login is removed from the session in
//     hand, which then goes on anonymous: after the login expired or was
//     ended elsewhere.
//   - To delete is one Store operation on one record.
//
// # Sessions and records
//
// scs saves a session whole at the end of each request (on every request
// when there is an idle timeout). So nothing that changes after login lives
// in the session: the tokens live in their own record, keyed by the login's
// ID, which a refresh rewrites and logout deletes. A request that began
// before a refresh and writes the session back writes an older id_token at
// worst: verified and about the same user; the next accessor call puts the
// newer one back. A request that began before its session ended can write
// the session back too, which is why ended sessions are deleted again and
// why the middleware checks, once per liveness interval, that the login's
// token record still exists (SECURITY.md, "Ending sessions").
//
// # The session index
//
// Back-channel and front-channel logout and EndSessions must find the
// sessions of a provider session (sid) or of a user (sub) from any instance,
// so the index lives in the Store beside the sessions: one record per sid and
// one per sub, keyed by the issuer as well (the token's own, a tenant's with
// a multi-tenant issuer), each a short list of the sessions that logged in
// with it. An entry names the
// session's key in the Store and the login's ID (which names its token
// record). Entries are added at login, right after the session token is
// renewed, and expire with the session's absolute deadline. Ending sessions
// does not edit the lists: an entry whose session is gone is dropped the
// next time a login of the same sid or sub rewrites the list.
//
// The scs Store has no transactions and no prefix scan, so adding an entry
// is a read-modify-write of the list, serialized by a lock within one
// process. Across instances, two logins of one user finishing within the
// same few milliseconds can overwrite each other's entry; each write is read
// back and retried when its entry is missing, which narrows that window to
// the rare write landing between another's write and its read-back. An entry
// lost that way leaves one session that a logout by sub does not find (a
// logout by sid still does); it still ends at its idle timeout or lifetime.
package oidcauth
