// An OpenID Connect provider (the certified npm package oidc-provider) for
// the oidcauth end-to-end suite. It is started by the Go tests, which pass
// its whole configuration in the environment variable PROVIDER_CONFIG:
//
//   {
//     "port": 43121,                      // listens on 127.0.0.1 (and ::1 when it can)
//     "issuer": "http://localhost:43121",
//     "accessTokenTTL": 12,               // seconds
//     "backchannelAllowedHosts": ["127.0.0.1"],
//     "clients": [ { "client_id": "...", "client_secret": "...",
//                    "token_endpoint_auth_method": "client_secret_basic",
//                    "redirect_uris": [...], "post_logout_redirect_uris": [...],
//                    "backchannel_logout_uri": "...",
//                    "frontchannel_logout_uri": "..." } ],  // optional, see below
//     "stepUpACRs": ["urn:..."],          // optional: acr values a login can step up to
//     "pushedAuthorizationRequests": true, // the PAR endpoint (RFC 9126)
//     "dpop": { "requireNonce": true }    // optional: features.dPoP (RFC 9449), nonces demanded
//   }
//
// A client may also register "token_endpoint_auth_method": "private_key_jwt"
// with "jwks" or "jwks_uri", "require_pushed_authorization_requests",
// "dpop_bound_access_tokens" and "id_token_signed_response_alg" (RS256, the
// default, or ES256: the provider has a key for each).
//
// oidc-provider 9 has no Front-Channel Logout 1.0 (it was removed in 8.0), so
// a client's frontchannel_logout_uri is kept here, not registered with it:
// when any client has one, discovery advertises frontchannel_logout_supported
// and frontchannel_logout_session_supported, and the logout confirmation page
// renders, once the user confirms, a hidden iframe per client of the session
// that has one, at frontchannel_logout_uri?iss=<issuer>&sid=<the client's
// sid>, as the spec's OP does, waits for them to load (at most 5 s), then
// completes the logout; such a client's id_tokens carry sid.
//
// With stepUpACRs, an authorization request whose acr_values names one of
// them needs a login (the development login form) unless the session
// already has that acr, and that login sets it (amr pwd+otp): a small
// interaction policy for the step-up tests.
//
// ACCESS_TOKEN_TTL (seconds) overrides accessTokenTTL.
//
// It writes one JSON object per line on stdout for each event the tests may
// want to observe (the first is {"event":"listening"}); diagnostics go to
// stderr.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import Provider, { interactionPolicy } from 'oidc-provider';

function fail(msg) {
  process.stderr.write(`e2e provider: ${msg}\n`);
  process.exit(2);
}

let config;
try {
  config = JSON.parse(process.env.PROVIDER_CONFIG || '');
} catch (err) {
  fail(`PROVIDER_CONFIG must be a JSON object: ${err.message}`);
}
const port = Number(config.port);
if (!Number.isInteger(port) || port <= 0) fail('PROVIDER_CONFIG.port must be a port number');
const issuer = config.issuer || `http://localhost:${port}`;
const accessTokenTTL = Number(process.env.ACCESS_TOKEN_TTL || config.accessTokenTTL || 60);
if (!(accessTokenTTL > 0)) fail('ACCESS_TOKEN_TTL must be a positive number of seconds');
const backchannelAllowedHosts = new Set(config.backchannelAllowedHosts || ['127.0.0.1']);
if (!Array.isArray(config.clients) || config.clients.length === 0) fail('PROVIDER_CONFIG.clients must be a non-empty array');

function emit(event, fields = {}) {
  process.stdout.write(`${JSON.stringify({ event, time: Date.now(), ...fields })}\n`);
}

// Fresh signing keys for every start, each with its own kid: RS256, every
// client's default (first in the set), and ES256 (P-256) for a client that
// registers id_token_signed_response_alg ES256, as FAPI 2.0 wants (PS256,
// ES256 or EdDSA, not RS256).
function newSigningKey(type, options, alg) {
  const { privateKey } = generateKeyPairSync(type, options);
  return {
    ...privateKey.export({ format: 'jwk' }),
    kid: `e2e-${randomBytes(6).toString('hex')}`,
    alg,
    use: 'sig',
  };
}
const signingKey = newSigningKey('rsa', { modulusLength: 2048 }, 'RS256');
const ecSigningKey = newSigningKey('ec', { namedCurve: 'P-256' }, 'ES256');

// Front-channel logout URIs by client ID (see the top of the file).
const frontchannelURIs = new Map();
const clients = config.clients.map(({ frontchannel_logout_uri: fcURI, ...c }) => {
  if (fcURI) frontchannelURIs.set(c.client_id, fcURI);
  return {
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    backchannel_logout_session_required: true,
    ...c,
  };
});

const htmlEscape = (s) => String(s).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

// frontchannelFrames are the front-channel logout URLs of the session's
// clients that registered one.
function frontchannelFrames(ctx) {
  const authorizations = ctx.oidc?.session?.authorizations || {};
  const frames = [];
  for (const [clientId, authz] of Object.entries(authorizations)) {
    const uri = frontchannelURIs.get(clientId);
    if (!uri || !authz?.sid) continue;
    const u = new URL(uri);
    u.searchParams.set('iss', issuer);
    u.searchParams.set('sid', authz.sid);
    frames.push({ clientId, url: u.href });
  }
  return frames;
}

// logoutSource is oidc-provider's logout confirmation page with the
// front-channel iframes loaded on confirmation.
async function logoutSource(ctx, form) {
  const frames = frontchannelFrames(ctx);
  for (const f of frames) emit('frontchannel.rendered', { client_id: f.clientId });
  ctx.body = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Logout Request</title></head>
<body>
<h1>Do you want to sign-out from ${htmlEscape(ctx.host)}?</h1>
${form}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>
<div id="frontchannel" hidden data-urls="${htmlEscape(JSON.stringify(frames.map((f) => f.url)))}"></div>
<script>
(() => {
  const form = document.getElementById('op.logoutForm');
  const box = document.getElementById('frontchannel');
  const urls = JSON.parse(box.dataset.urls);
  let done = false;
  form.addEventListener('submit', (e) => {
    if (done || !urls.length || !e.submitter || e.submitter.value !== 'yes') return;
    e.preventDefault();
    done = true;
    let left = urls.length;
    const finish = () => form.requestSubmit(e.submitter);
    const timer = setTimeout(finish, 5000);
    for (const url of urls) {
      const f = document.createElement('iframe');
      f.addEventListener('load', () => { if (--left === 0) { clearTimeout(timer); finish(); } });
      f.src = url;
      box.appendChild(f);
    }
  });
})();
</script>
</body></html>`;
}

// Step-up: the acr values a login can be asked for and given.
const stepUpACRs = Array.isArray(config.stepUpACRs) ? config.stepUpACRs.map(String) : [];
const askedStepUp = (acrValues) => String(acrValues || '').split(' ').filter((v) => stepUpACRs.includes(v));
const policy = interactionPolicy.base();
if (stepUpACRs.length) {
  policy.get('login').checks.push(new interactionPolicy.Check(
    'step_up_acr',
    'a stronger authentication is required',
    (ctx) => {
      const asked = askedStepUp(ctx.oidc.params.acr_values);
      return asked.length && !asked.includes(ctx.oidc.acr)
        ? interactionPolicy.Check.REQUEST_PROMPT
        : interactionPolicy.Check.NO_NEED_TO_PROMPT;
    },
  ));
}

const accounts = (sub) => ({
  accountId: sub,
  async claims() {
    return {
      sub,
      name: `E2E ${sub}`,
      given_name: 'E2E',
      family_name: sub,
      preferred_username: sub,
      email: `${sub}@example.test`,
      email_verified: true,
    };
  },
});

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingKey, ecSigningKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username'],
    email: ['email', 'email_verified'],
  },
  scopes: ['openid', 'offline_access', 'profile', 'email'],
  conformIdTokenClaims: false,
  findAccount: (ctx, sub) => accounts(sub),
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  ...(frontchannelURIs.size ? {
    discovery: { frontchannel_logout_supported: true, frontchannel_logout_session_supported: true },
  } : {}),
  ...(stepUpACRs.length ? { acrValues: stepUpACRs, interactions: { policy } } : {}),
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    userinfo: { enabled: true },
    rpInitiatedLogout: frontchannelURIs.size ? { enabled: true, logoutSource } : { enabled: true },
    backchannelLogout: { enabled: true },
    pushedAuthorizationRequests: { enabled: Boolean(config.pushedAuthorizationRequests) },
    // DPoP (RFC 9449) when PROVIDER_CONFIG.dpop is set; a client registered
    // with dpop_bound_access_tokens must use it. The nonce secret makes it
    // issue DPoP-Nonce; requireNonce makes it demand them.
    ...(config.dpop ? {
      dPoP: {
        enabled: true,
        nonceSecret: randomBytes(32),
        requireNonce: () => Boolean(config.dpop.requireNonce),
      },
    } : {}),
  },
  ttl: {
    AccessToken: accessTokenTTL,
    AuthorizationCode: 60,
    IdToken: 3600,
    RefreshToken: 24 * 3600,
    Interaction: 3600,
    Session: 24 * 3600,
    Grant: 24 * 3600,
  },
  // The provider refuses outgoing requests (back-channel logout) to loopback
  // and private addresses. The app under test listens on loopback, so the
  // guard is lifted for exactly the hosts the tests name, and no others.
  fetch: (url, options) => {
    if (backchannelAllowedHosts.has(new URL(url).hostname)) {
      // eslint-disable-next-line no-param-reassign
      delete options.dispatcher;
    }
    return globalThis.fetch(url, options);
  },
});

// A client with a frontchannel_logout_uri has frontchannel_logout_session_
// required: its id_tokens carry sid, as the spec's OP does (oidc-provider
// includes sid only for back-channel clients).
const includeSid = provider.Client.prototype.includeSid;
provider.Client.prototype.includeSid = function includeSidOrFrontchannel() {
  return frontchannelURIs.has(this.clientId) || includeSid.call(this);
};

const clientOf = (ctx) => ctx?.oidc?.client?.clientId;

// The development login form finishes a login with the account only: a
// login asked for a step-up acr gets it here.
if (stepUpACRs.length) {
  const finished = provider.interactionFinished.bind(provider);
  provider.interactionFinished = async (req, res, result, options) => {
    if (result?.login) {
      const { params } = await provider.interactionDetails(req, res);
      const [acr] = askedStepUp(params.acr_values);
      if (acr) {
        Object.assign(result.login, { acr, amr: ['pwd', 'otp'] });
        emit('step_up', { client_id: params.client_id, acr });
      }
    }
    return finished(req, res, result, options);
  };
}

// The provider accepts a confidential client's secret by either method,
// whatever the client registered, so record the method each back-channel
// request really used: the tests check it.
const observed = new Set(['/token', '/me', '/token/revocation', '/token/introspection', '/request']);
provider.use(async (ctx, next) => {
  await next();
  if (!observed.has(ctx.path)) return;
  const body = ctx.oidc?.body || {};
  const authz = ctx.headers.authorization || '';
  let auth = 'none';
  if (body.client_assertion) auth = 'private_key_jwt';
  else if (/^basic /i.test(authz)) auth = 'client_secret_basic';
  else if (body.client_secret) auth = 'client_secret_post';
  else if (/^bearer /i.test(authz)) auth = 'bearer';
  else if (/^dpop /i.test(authz)) auth = 'dpop';
  // DPoP: whether a proof came, the token_type answered, and the thumbprint
  // of the key the presented access token is bound to (cnf.jkt; public).
  const dpop = {};
  if (config.dpop) {
    dpop.dpop = Boolean(ctx.headers.dpop);
    if (ctx.path === '/token' && ctx.body && typeof ctx.body === 'object') {
      dpop.token_type = ctx.body.token_type;
      dpop.error = ctx.body.error;
    }
    const at = ctx.oidc?.entities?.AccessToken;
    if (at?.jkt) dpop.jkt = at.jkt;
  }
  // The alg of an id_token the token endpoint answered (its JOSE header).
  let idTokenAlg;
  if (ctx.path === '/token' && typeof ctx.body?.id_token === 'string') {
    try {
      idTokenAlg = JSON.parse(Buffer.from(ctx.body.id_token.split('.')[0], 'base64url')).alg;
    } catch {
      idTokenAlg = 'unreadable';
    }
  }
  emit('request', {
    ...dpop,
    id_token_alg: idTokenAlg,
    path: ctx.path,
    method: ctx.method,
    status: ctx.status,
    client_id: clientOf(ctx) || body.client_id,
    auth,
    grant_type: body.grant_type,
    code_verifier: Boolean(body.code_verifier),
  });
});

provider.on('pushed_authorization_request.error', (ctx, err) => emit('pushed_authorization_request.error', { client_id: clientOf(ctx), error: err.message, description: err.error_description }));
provider.on('authorization.success', (ctx) => emit('authorization.success', { client_id: clientOf(ctx) }));
provider.on('authorization.error', (ctx, err) => emit('authorization.error', { client_id: clientOf(ctx), error: err.message, description: err.error_description }));
provider.on('grant.success', (ctx) => emit('grant.success', {
  client_id: clientOf(ctx),
  grant_type: ctx.oidc.params?.grant_type,
  auth_method: ctx.oidc.client?.clientAuthMethod,
}));
provider.on('grant.error', (ctx, err) => emit('grant.error', {
  client_id: clientOf(ctx),
  grant_type: ctx?.oidc?.params?.grant_type,
  error: err.message,
  description: err.error_description,
}));
provider.on('grant.revoked', (ctx, grantId) => emit('grant.revoked', { client_id: clientOf(ctx), grant_id: grantId }));
provider.on('refresh_token.consumed', (token) => emit('refresh_token.consumed', { client_id: token.clientId, grant_id: token.grantId }));
provider.on('revocation.success', (ctx, token) => emit('revocation.success', { client_id: clientOf(ctx), kind: token?.kind }));
provider.on('revocation.error', (ctx, err) => emit('revocation.error', { client_id: clientOf(ctx), error: err.message }));
provider.on('userinfo.error', (ctx, err) => emit('userinfo.error', { client_id: clientOf(ctx), error: err.message, description: err.error_description }));
provider.on('end_session.success', (ctx) => emit('end_session.success', { client_id: clientOf(ctx) }));
provider.on('end_session.error', (ctx, err) => emit('end_session.error', { error: err.message, description: err.error_description }));
provider.on('backchannel.success', (ctx, client, accountId, sid) => emit('backchannel.success', { client_id: client.clientId, sub: accountId, sid }));
provider.on('backchannel.error', (ctx, err, client, accountId, sid) => emit('backchannel.error', {
  client_id: client.clientId, sub: accountId, sid, error: err.message, cause: err.cause?.message,
}));
provider.on('server_error', (ctx, err) => {
  process.stderr.write(`e2e provider: server_error: ${err.stack}\n`);
  emit('server_error', { error: err.message });
});

const handler = provider.callback();
const servers = [];

function listen(host) {
  return new Promise((resolve, reject) => {
    const server = http.createServer(handler);
    server.once('error', reject);
    server.listen({ port, host, ipv6Only: host === '::1' }, () => {
      servers.push(server);
      resolve();
    });
  });
}

await listen('127.0.0.1').catch((err) => fail(`listen on 127.0.0.1:${port}: ${err.message}`));
// Browsers may try ::1 for localhost first; serve there too when it can.
await listen('::1').catch(() => {});

emit('listening', { issuer, port, kid: signingKey.kid, es256_kid: ecSigningKey.kid, access_token_ttl: accessTokenTTL, clients: clients.map((c) => c.client_id) });

function shutdown() {
  for (const s of servers) s.close();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
// Exit with the test process that started us, if it dies without a signal.
process.stdin.on('end', shutdown);
process.stdin.resume();
