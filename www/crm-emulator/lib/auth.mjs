// Per-vendor token store: access tokens (with optional expiry and scopes), refresh tokens,
// OAuth clients and one-shot authorization codes with optional PKCE challenges.

import { uuid, sha256b64url } from './util.mjs';

export class TokenStore {
  constructor(vendor) {
    this.vendor = vendor;
    this.reset();
  }

  reset() {
    const v = this.vendor;
    this.access = new Map(); // token -> {expiresAt|null, scopes, revoked}
    this.refresh = new Map(); // token -> {clientId, scopes, revoked}
    this.clients = new Map(); // clientId -> {secret, redirectUris|null}
    this.codes = new Map(); // code -> {clientId, redirectUri, challenge, method, scopes, used}
    this.access.set(`${v}-token`, { expiresAt: null, scopes: null });
    this.refresh.set(`${v}-refresh`, { clientId: `${v}-client`, scopes: null });
    this.clients.set(`${v}-client`, { secret: `${v}-secret`, redirectUris: null });
  }

  setAccess(token, { expiresIn = null, scopes = null } = {}) {
    this.access.set(token, { expiresAt: expiresIn == null ? null : Date.now() + expiresIn * 1000, scopes });
  }

  /** 'ok' | 'missing' | 'invalid' | 'expired' */
  check(token) {
    if (!token) return { state: 'missing' };
    const t = this.access.get(token);
    if (!t || t.revoked) return { state: 'invalid' };
    if (t.expiresAt !== null && t.expiresAt <= Date.now()) return { state: 'expired', expiredMs: Date.now() - t.expiresAt };
    return { state: 'ok', scopes: t.scopes };
  }

  expire(token) {
    const now = Date.now() - 1;
    if (token) { const t = this.access.get(token); if (t) t.expiresAt = now; return; }
    for (const t of this.access.values()) t.expiresAt = now;
  }

  issueCode({ clientId = `${this.vendor}-client`, redirectUri = null, codeChallenge = null, codeChallengeMethod = 'S256', scopes = null, code = null } = {}) {
    const c = code || `code-${uuid()}`;
    this.codes.set(c, { clientId, redirectUri, challenge: codeChallenge, method: codeChallengeMethod || 'plain', scopes, used: false });
    return c;
  }

  /**
   * Check a token request. Returns {ok:true, scopes, clientId, newRefresh?} or {ok:false, error, description}.
   * Confidential clients prove themselves with client_secret; public clients with PKCE.
   */
  grant(params) {
    const grantType = params.grant_type;
    const clientId = params.client_id;
    const client = clientId ? this.clients.get(clientId) : null;
    if (!grantType) return { ok: false, error: 'invalid_request', description: 'missing grant_type' };
    if (!clientId) return { ok: false, error: 'invalid_request', description: 'missing client_id' };
    if (!client) return { ok: false, error: 'invalid_client', description: 'unknown client_id' };
    if (params.client_secret !== undefined && params.client_secret !== client.secret) {
      return { ok: false, error: 'invalid_client', description: 'client_secret does not match' };
    }
    if (grantType === 'authorization_code') {
      const code = this.codes.get(params.code);
      if (!params.code) return { ok: false, error: 'invalid_request', description: 'missing code' };
      if (!code || code.used) return { ok: false, error: 'invalid_grant', description: 'authorization code is invalid, expired or already used' };
      if (code.clientId !== clientId) return { ok: false, error: 'invalid_grant', description: 'code was issued to another client' };
      if (code.redirectUri && params.redirect_uri !== code.redirectUri) return { ok: false, error: 'invalid_grant', description: 'redirect_uri does not match the authorization request' };
      if (code.challenge) {
        if (!params.code_verifier) return { ok: false, error: 'invalid_grant', description: 'code_verifier required (PKCE)' };
        const computed = code.method === 'S256' ? sha256b64url(params.code_verifier) : params.code_verifier;
        if (computed !== code.challenge) return { ok: false, error: 'invalid_grant', description: 'code_verifier does not match code_challenge' };
      } else if (params.client_secret === undefined) {
        return { ok: false, error: 'invalid_client', description: 'client_secret required (no PKCE challenge on this code)' };
      }
      code.used = true;
      const rt = `rt-${uuid()}`;
      this.refresh.set(rt, { clientId, scopes: code.scopes });
      return { ok: true, scopes: code.scopes, clientId, newRefresh: rt };
    }
    if (grantType === 'refresh_token') {
      if (!params.refresh_token) return { ok: false, error: 'invalid_request', description: 'missing refresh_token' };
      const rt = this.refresh.get(params.refresh_token);
      if (!rt || rt.revoked) return { ok: false, error: 'invalid_grant', description: 'refresh token is invalid or revoked' };
      if (rt.clientId && rt.clientId !== clientId) return { ok: false, error: 'invalid_grant', description: 'refresh token was issued to another client' };
      return { ok: true, scopes: rt.scopes, clientId };
    }
    return { ok: false, error: 'unsupported_grant_type', description: `grant_type ${grantType} is not supported` };
  }

  newAccess(expiresIn, scopes) {
    const at = `at-${this.vendor}-${uuid()}`;
    this.setAccess(at, { expiresIn, scopes });
    return at;
  }

  snapshot() {
    return {
      access: [...this.access].map(([token, t]) => ({ token, expiresAt: t.expiresAt && new Date(t.expiresAt).toISOString(), scopes: t.scopes, revoked: !!t.revoked })),
      refresh: [...this.refresh].map(([token, t]) => ({ token, clientId: t.clientId, revoked: !!t.revoked })),
      clients: [...this.clients].map(([id, c]) => ({ client_id: id, client_secret: c.secret, redirect_uris: c.redirectUris })),
      codes: [...this.codes].map(([code, c]) => ({ code, used: c.used, pkce: !!c.challenge })),
    };
  }
}

/** Bearer token from an Authorization header, or null. */
export function bearer(headers, scheme = 'Bearer') {
  const h = headers.authorization;
  if (!h) return null;
  const m = new RegExp(`^${scheme}\\s+(\\S+)\\s*$`, 'i').exec(h);
  return m ? m[1] : '';
}

/** client_id/secret from an HTTP Basic header (Pipedrive token endpoint). */
export function basicCreds(headers) {
  const h = headers.authorization;
  const m = h && /^Basic\s+(\S+)$/i.exec(h);
  if (!m) return null;
  const s = Buffer.from(m[1], 'base64').toString('utf8');
  const i = s.indexOf(':');
  return i < 0 ? null : { client_id: s.slice(0, i), client_secret: s.slice(i + 1) };
}
