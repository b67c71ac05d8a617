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
//   - [Auth.CallbackHandler], [Auth.LoginHandler] and [Auth.LogoutHandler],
//     the handlers the application mounts on its routes;
//   - [ClaimsFromContext], [RawClaimsFromContext] and [DecodeClaims], which a
//     handler uses to learn who the user is;
//   - [Auth.Token], [Auth.TokenSource], [Auth.Client] and [Auth.UserInfo],
//     which call APIs with the user's access token, refreshed when needed;
//   - [Auth.BackchannelLogoutHandler] and [Auth.EndSessions], which end every
//     session of a user on every instance, when the provider or the
//     application says so.
//
// Logins live server-side in scs sessions (github.com/alexedwards/scs/v2),
// so any scs store works: memory by default, Redis or Postgres when the
// application runs on several machines.
package oidcauth
