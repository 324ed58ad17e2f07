// OAuth: POST /restapi/oauth/token and /restapi/oauth/revoke, and bearer-token checks for the REST
// API. Shapes: guide/authentication/jwt-flow, refresh-tokens, tokens; TokenInfo and GetTokenRequest
// in the API reference (ringcentral-extensible's generated definitions); error codes from
// guide/basics/errors.

import { oauthError, rcError, token } from './util.mjs';

const JWT_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

export class TokenStore {
  constructor() { this.reset(); }
  reset() {
    this.access = new Map(); // token -> {extensionId, accountId, clientId, expiresAt, revoked, sessionId, scope}
    this.refresh = new Map(); // token -> {..., expiresAt, usedAt, replacedBy}
  }

  issue(emu, { extensionId, accountId, clientId, scope, sessionId, accessTtl, refreshTtl }) {
    const now = emu.now();
    const at = token(46);
    const rt = token(46);
    const session = sessionId ?? token(12);
    const aTtl = accessTtl ?? emu.config.accessTokenTtl;
    const rTtl = refreshTtl ?? emu.config.refreshTokenTtl;
    this.access.set(at, { extensionId, accountId, clientId, scope, sessionId: session, expiresAt: now + aTtl * 1000, revoked: false, used: false });
    this.refresh.set(rt, { extensionId, accountId, clientId, scope, sessionId: session, expiresAt: now + rTtl * 1000, usedAt: null, replacedBy: null, access: at });
    return {
      access_token: at,
      token_type: 'bearer',
      expires_in: aTtl,
      refresh_token: rt,
      refresh_token_expires_in: rTtl,
      scope: scope.join(' '),
      owner_id: extensionId,
      endpoint_id: token(22),
      session_id: session,
    };
  }

  revokeSession(sessionId) {
    for (const t of this.access.values()) if (t.sessionId === sessionId) t.revoked = true;
    for (const t of this.refresh.values()) if (t.sessionId === sessionId) t.expiresAt = 0;
  }

  expireAll(now) { for (const t of this.access.values()) t.expiresAt = Math.min(t.expiresAt, now); }
}

/** Client authentication: `Authorization: Basic base64(client_id:client_secret)`. */
function clientFrom(emu, headers, form) {
  const h = headers.authorization || '';
  const m = /^Basic\s+(.+)$/i.exec(h);
  if (!m) {
    // A "Client-side web app" sends client_id in the body instead (refresh-tokens guide).
    const pub = form.client_id ? emu.dir.apps.get(form.client_id) : null;
    if (pub && pub.public) return { app: pub };
    return { error: oauthError(401, 'invalid_client', 'OAU-123', 'Client authentication is required') };
  }
  const [id, ...rest] = Buffer.from(m[1], 'base64').toString('utf8').split(':');
  const secret = rest.join(':');
  const app = emu.dir.apps.get(id);
  if (!app) return { error: oauthError(401, 'invalid_client', 'OAU-120', 'Wrong Application ID') };
  if (app.clientSecret !== secret) return { error: oauthError(401, 'invalid_client', 'OAU-146', 'Invalid client credentials') };
  return { app };
}

export function tokenEndpoint(emu, ctx) {
  if (ctx.contentType !== 'application/x-www-form-urlencoded') {
    return oauthError(400, 'invalid_request', 'OAU-101', 'Unsupported content type, application/x-www-form-urlencoded is expected');
  }
  const form = ctx.form;
  const { app, error } = clientFrom(emu, ctx.headers, form);
  if (error) return error;
  ctx.clientId = app.clientId;
  const grant = form.grant_type;
  if (!grant) return oauthError(400, 'invalid_request', 'OAU-101', 'Parameter [grant_type] is invalid');
  const unauthorized = () => oauthError(400, 'unauthorized_client', 'OAU-251', 'Unauthorized for this grant type');
  const scopeFor = () => app.scopes.slice();
  const ttl = (v, min, max, def) => {
    if (v === undefined) return def;
    const n = Number(v);
    return Number.isInteger(n) ? Math.max(min, Math.min(max, n)) : def;
  };
  const ttls = {
    accessTtl: form.access_token_ttl !== undefined ? ttl(form.access_token_ttl, 600, 3600, emu.config.accessTokenTtl) : undefined,
    refreshTtl: form.refresh_token_ttl !== undefined ? ttl(form.refresh_token_ttl, 1, 2592000, emu.config.refreshTokenTtl) : undefined,
  };

  if (grant === JWT_GRANT) {
    if (!app.grantTypes.includes(JWT_GRANT)) return unauthorized();
    const cred = form.assertion ? emu.dir.jwts.get(form.assertion) : null;
    const invalid = () => oauthError(400, 'invalid_grant', 'OAU-140', 'Invalid resource owner credentials');
    if (!cred || cred.revoked) return invalid();
    if (cred.expiresAt && cred.expiresAt <= emu.now()) return invalid();
    if (cred.clientIds && !cred.clientIds.includes(app.clientId)) return invalid();
    const ext = emu.dir.extension(cred.extensionId);
    if (!ext || ext.status !== 'Enabled') return oauthError(400, 'invalid_grant', 'OAU-141', 'Login for extension in current state is not allowed');
    return { status: 200, body: emu.tokens.issue(emu, { extensionId: ext.id, accountId: ext.accountId, clientId: app.clientId, scope: scopeFor(), ...ttls }) };
  }

  if (grant === 'refresh_token') {
    if (!app.grantTypes.includes('refresh_token')) return unauthorized();
    const rt = form.refresh_token ? emu.tokens.refresh.get(form.refresh_token) : null;
    if (!rt || rt.clientId !== app.clientId) return oauthError(400, 'invalid_grant', 'OAU-213', 'Token not found');
    const now = emu.now();
    if (rt.expiresAt <= now) return oauthError(400, 'invalid_grant', 'OAU-210', 'Token expired');
    if (rt.usedAt !== null) {
      // guide/authentication/refresh-tokens: re-using a refresh token within ~10 s returns the
      // same new pair; later it is an error.
      if (now - rt.usedAt <= emu.config.refreshReuseGraceMs && rt.replacedBy) return { status: 200, body: rt.replacedBy };
      return oauthError(400, 'invalid_grant', 'OAU-211', 'Token is revoked');
    }
    // The previous access token is invalidated immediately (refresh-tokens guide).
    const old = emu.tokens.access.get(rt.access);
    if (old) old.revoked = true;
    const body = emu.tokens.issue(emu, { extensionId: rt.extensionId, accountId: rt.accountId, clientId: app.clientId, scope: rt.scope, sessionId: rt.sessionId, ...ttls });
    rt.usedAt = now;
    rt.replacedBy = body;
    return { status: 200, body };
  }

  if (grant === 'password') {
    // Deprecated (guide/getting-started/register-app); off unless config.passwordGrant.
    if (!emu.config.passwordGrant || !app.grantTypes.includes('password')) return unauthorized();
    const user = String(form.username || '');
    const ext = [...emu.dir.extensions.values()].find((e) => e.type === 'User' && e.password && e.password === form.password
      && (e.email === user || e.phoneNumber === user || emu.dir.account(e.accountId).mainNumber === user)
      && (!form.extension || form.extension === e.extensionNumber));
    if (!ext) return oauthError(400, 'invalid_grant', 'OAU-140', 'Invalid resource owner credentials');
    return { status: 200, body: emu.tokens.issue(emu, { extensionId: ext.id, accountId: ext.accountId, clientId: app.clientId, scope: scopeFor(), ...ttls }) };
  }

  return oauthError(400, 'unsupported_grant_type', 'OAU-101', `Unsupported grant type: ${grant}`);
}

export function revokeEndpoint(emu, ctx) {
  const { app, error } = clientFrom(emu, ctx.headers, ctx.form || {});
  if (error) return error;
  ctx.clientId = app.clientId;
  const t = ctx.form?.token;
  const rec = emu.tokens.access.get(t) || emu.tokens.refresh.get(t);
  if (rec) emu.tokens.revokeSession(rec.sessionId);
  return { status: 200, body: '' };
}

/**
 * Bearer check for /restapi/v1.0/...: `Authorization: Bearer <t>` or `?access_token=<t>`
 * (guide/authentication/tokens). Failure bodies: OAU-123 when the header is missing (as in
 * ringcentral-php#28); an unknown or revoked token answers TokenInvalid / OAU-213 "Token not
 * found" and an expired one OAU-128 "Access token expired" (codes from guide/basics/errors; the
 * top-level "TokenInvalid" is how community threads quote it).
 */
export function authenticate(emu, ctx) {
  const h = ctx.headers.authorization;
  let t = null;
  if (h) {
    const m = /^Bearer\s+(\S+)$/i.exec(h);
    if (!m) return rcError(401, 'OAU-123', 'Invalid Authorization header value');
    t = m[1];
  } else if (ctx.query.get('access_token')) t = ctx.query.get('access_token');
  else return rcError(401, 'OAU-123', 'Authorization header is not specified');
  const rec = emu.tokens.access.get(t);
  if (!rec || rec.revoked) return rcError(401, 'OAU-213', 'Token not found', {}, 'TokenInvalid');
  if (rec.expiresAt <= emu.now()) return rcError(401, 'OAU-128', 'Access token expired', {}, 'TokenInvalid');
  const ext = emu.dir.extension(rec.extensionId);
  if (!ext) return rcError(401, 'OAU-136', 'Extension not found', {}, 'TokenInvalid');
  rec.used = true;
  ctx.auth = { ...rec, token: t, extension: ext, account: emu.dir.account(rec.accountId), app: emu.dir.apps.get(rec.clientId) };
  ctx.clientId = rec.clientId;
  return null;
}
