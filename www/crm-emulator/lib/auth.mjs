// Per-realm token store: OAuth clients, one-shot authorization codes (with PKCE challenges),
// grants, access tokens and refresh tokens, each bound to the user who authorized it. The rules
// that differ per vendor (which client authentication, PKCE, refresh-token rotation, what a revoke
// takes down) are a policy the vendor module passes in; the store only applies it and names the
// failure (`kind`), which the vendor maps to its own error body.

import { uuid, sha256b64url } from './util.mjs';

const DEFAULT_CODE_TTL_MS = 10 * 60 * 1000;

export class TokenStore {
  /** @param realmKey the realm (default tokens are `${realmKey}-token` / `-refresh`); vendor names the default client */
  constructor(realmKey, vendor = realmKey) {
    this.key = realmKey;
    this.vendor = vendor;
    this.reset();
  }

  reset(defaultUserId = null) {
    const k = this.key;
    const v = this.vendor;
    this.defaultUserId = defaultUserId;
    this.access = new Map(); // token -> {expiresAt|null, scopes, revoked, userId, clientId, grant}
    this.refresh = new Map(); // token -> {clientId, scopes, revoked, rotatedOut, userId, grant, issuedAt}
    this.clients = new Map(); // clientId -> {secret, redirectUris|null, name, requireSecret, requirePkce, rotation}
    this.codes = new Map(); // code -> {clientId, redirectUri, challenge, method, scopes, used, userId, issuedAt, ...extra}
    this.grants = new Map(); // grant id -> {clientId, userId, scopes, revoked}
    this.offlineGranted = new Set(); // `${clientId}|${userId}` that already got a refresh token (Zoho)
    this.grants.set('default', { clientId: `${v}-client`, userId: defaultUserId, scopes: null, revoked: false });
    this.access.set(`${k}-token`, { expiresAt: null, scopes: null, userId: defaultUserId, clientId: `${v}-client`, grant: 'default' });
    this.refresh.set(`${k}-refresh`, { clientId: `${v}-client`, scopes: null, userId: defaultUserId, grant: 'default', issuedAt: Date.now() });
    this.clients.set(`${v}-client`, { secret: `${v}-secret`, redirectUris: null, name: 'Calltrail' });
  }

  newGrant({ clientId, userId, scopes }) {
    const id = `g-${uuid()}`;
    this.grants.set(id, { clientId, userId, scopes, revoked: false });
    return id;
  }

  grantRevoked(id) { const g = id && this.grants.get(id); return !!(g && g.revoked); }

  setAccess(token, { expiresIn = null, scopes = null, userId = this.defaultUserId, clientId = `${this.vendor}-client`, grant = 'default' } = {}) {
    this.access.set(token, { expiresAt: expiresIn == null ? null : Date.now() + expiresIn * 1000, scopes, userId, clientId, grant });
  }

  setRefresh(token, { scopes = null, userId = this.defaultUserId, clientId = `${this.vendor}-client`, grant = 'default' } = {}) {
    if (!this.grants.has(grant)) this.grants.set(grant, { clientId, userId, scopes, revoked: false });
    this.refresh.set(token, { clientId, scopes, userId, grant, issuedAt: Date.now() });
  }

  /** {state: 'ok'|'missing'|'invalid'|'expired', ...} */
  check(token) {
    if (!token) return { state: 'missing' };
    const t = this.access.get(token);
    if (!t || t.revoked || this.grantRevoked(t.grant)) return { state: 'invalid' };
    if (t.expiresAt !== null && t.expiresAt <= Date.now()) return { state: 'expired', expiredMs: Date.now() - t.expiresAt };
    return { state: 'ok', scopes: t.scopes, userId: t.userId, clientId: t.clientId, grant: t.grant, token };
  }

  expire(token) {
    const now = Date.now() - 1;
    if (token) { const t = this.access.get(token); if (t) t.expiresAt = now; return; }
    for (const t of this.access.values()) t.expiresAt = now;
  }

  issueCode({ clientId = `${this.vendor}-client`, redirectUri = null, codeChallenge = null, codeChallengeMethod = 'S256', scopes = null, code = null, userId = this.defaultUserId, ...extra } = {}) {
    const c = code || `code-${uuid()}`;
    this.codes.set(c, { clientId, redirectUri, challenge: codeChallenge || null, method: codeChallengeMethod || 'plain', scopes, used: false, userId, issuedAt: Date.now(), ...extra });
    return c;
  }

  newAccess(expiresIn, scopes, { userId = this.defaultUserId, clientId, grant } = {}) {
    const at = `at-${this.key}-${uuid()}`;
    this.setAccess(at, { expiresIn, scopes, userId, clientId, grant });
    return at;
  }

  newRefresh({ clientId, scopes, userId, grant }) {
    const rt = `rt-${this.key}-${uuid()}`;
    this.refresh.set(rt, { clientId, scopes, userId, grant, issuedAt: Date.now() });
    return rt;
  }

  /**
   * Redeem a token request. `p`: {grant_type, client_id, client_secret, code, redirect_uri,
   * code_verifier, refresh_token} as the vendor read them (body, Basic header or query).
   * `policy`:
   *  - secretCode / secretRefresh: 'required' | 'optional' | 'unless-pkce' (a client's own
   *    requireSecret {code, refresh} wins);
   *  - pkce: 'enforce' (a code issued with a challenge needs the verifier) | 'ignore';
   *  - redirectRequired: the code grant must repeat redirect_uri;
   *  - codeTtlMs; accessTtl (s, null = never expires);
   *  - rotation: 'none' | 'rotate' (new refresh token, the old one keeps working) |
   *    'rotate-invalidate' (new one, the old one is refused from then on); echoRefresh: with 'none',
   *    answer the same refresh token again;
   *  - reuseRevokesGrant: presenting a rotated-out refresh token revokes the whole grant;
   *  - issueRefresh(code) -> bool: whether the code grant gets a refresh token;
   *  - maxRefreshPerUser: oldest refresh token of the same client+user revoked past this count.
   * Returns {ok:true, accessToken, refreshToken|null, refreshIsNew, scopes, userId, clientId, grant, code}
   * or {ok:false, kind}.
   */
  exchange(p, policy) {
    const fail = (kind, extra = {}) => ({ ok: false, kind, ...extra });
    const gt = p.grant_type;
    if (!gt) return fail('missing_grant_type');
    if (gt !== 'authorization_code' && gt !== 'refresh_token') return fail('unsupported_grant_type');
    if (!p.client_id) return fail('missing_client');
    const client = this.clients.get(p.client_id);
    if (!client) return fail('unknown_client');
    const hasSecret = p.client_secret !== undefined && p.client_secret !== null && p.client_secret !== '';
    if (hasSecret && client.secret !== p.client_secret) return fail('bad_secret');
    const rs = client.requireSecret || {};

    if (gt === 'authorization_code') {
      if (!p.code) return fail('missing_code');
      const c = this.codes.get(p.code);
      if (!c || c.used || c.clientId !== p.client_id) return fail('bad_code');
      if (Date.now() - c.issuedAt > (policy.codeTtlMs ?? DEFAULT_CODE_TTL_MS)) return fail('expired_code');
      if (policy.redirectRequired && !p.redirect_uri) return fail('missing_redirect');
      if (c.redirectUri && p.redirect_uri !== undefined && p.redirect_uri !== c.redirectUri) return fail('redirect_mismatch');
      const pkceUsed = !!c.challenge && policy.pkce !== 'ignore';
      if (pkceUsed) {
        if (!p.code_verifier) return fail('missing_verifier');
        const computed = c.method === 'S256' ? sha256b64url(p.code_verifier) : p.code_verifier;
        if (computed !== c.challenge) return fail('bad_verifier');
      }
      const rule = rs.code === true ? 'required' : rs.code === false ? 'optional' : policy.secretCode || 'required';
      if (!hasSecret && (rule === 'required' || (rule === 'unless-pkce' && !pkceUsed))) return fail('missing_secret');
      c.used = true;
      const grant = this.newGrant({ clientId: c.clientId, userId: c.userId, scopes: c.scopes });
      const accessToken = this.newAccess(policy.accessTtl ?? null, c.scopes, { userId: c.userId, clientId: c.clientId, grant });
      let refreshToken = null;
      if (!policy.issueRefresh || policy.issueRefresh(c)) {
        if (policy.maxRefreshPerUser) this.trimRefresh(c.clientId, c.userId, policy.maxRefreshPerUser - 1);
        refreshToken = this.newRefresh({ clientId: c.clientId, scopes: c.scopes, userId: c.userId, grant });
        this.offlineGranted.add(`${c.clientId}|${c.userId}`);
      }
      return { ok: true, accessToken, refreshToken, refreshIsNew: !!refreshToken, scopes: c.scopes, userId: c.userId, clientId: c.clientId, grant, code: c };
    }

    if (!p.refresh_token) return fail('missing_refresh');
    const r = this.refresh.get(p.refresh_token);
    if (!r || r.revoked || this.grantRevoked(r.grant)) return fail('bad_refresh');
    if (r.clientId && r.clientId !== p.client_id) return fail('bad_refresh');
    if (r.rotatedOut) {
      if (policy.reuseRevokesGrant) this.revokeGrant(r.grant);
      return fail('rotated_refresh');
    }
    const rule = rs.refresh === true ? 'required' : rs.refresh === false ? 'optional' : policy.secretRefresh || 'required';
    if (!hasSecret && rule === 'required') return fail('missing_secret');
    const accessToken = this.newAccess(policy.accessTtl ?? null, r.scopes, { userId: r.userId, clientId: r.clientId, grant: r.grant });
    const rotation = client.rotation || policy.rotation || 'none';
    let refreshToken = null;
    let refreshIsNew = false;
    if (rotation === 'none') refreshToken = policy.echoRefresh ? p.refresh_token : null;
    else {
      refreshToken = this.newRefresh({ clientId: r.clientId, scopes: r.scopes, userId: r.userId, grant: r.grant });
      refreshIsNew = true;
      if (rotation === 'rotate-invalidate') { r.rotatedOut = true; r.rotatedTo = refreshToken; }
    }
    return { ok: true, accessToken, refreshToken, refreshIsNew, scopes: r.scopes, userId: r.userId, clientId: r.clientId, grant: r.grant };
  }

  /** Keep at most `keep` live refresh tokens for client+user, revoking the oldest (Zoho's per-user cap). */
  trimRefresh(clientId, userId, keep) {
    const live = [...this.refresh.entries()].filter(([, r]) => r.clientId === clientId && String(r.userId) === String(userId) && !r.revoked && !r.rotatedOut && !this.grantRevoked(r.grant)).sort((a, b) => a[1].issuedAt - b[1].issuedAt);
    while (live.length > keep) { const [, r] = live.shift(); r.revoked = true; this.revokeGrant(r.grant); }
  }

  revokeGrant(id) {
    const g = this.grants.get(id);
    if (g) g.revoked = true;
    for (const t of this.access.values()) if (t.grant === id) t.revoked = true;
    for (const r of this.refresh.values()) if (r.grant === id) r.revoked = true;
  }

  /**
   * Revoke a token. `refreshCascade`/`accessCascade`: 'grant' takes down every token of the same
   * grant, 'none' only the token itself. `hint` ('access_token'|'refresh_token') is looked at first.
   * Returns 'access' | 'refresh' | null (unknown or already revoked).
   */
  revoke(token, { refreshCascade = 'grant', accessCascade = 'none', hint = null } = {}) {
    const order = hint === 'access_token' ? ['access', 'refresh'] : ['refresh', 'access'];
    for (const kind of order) {
      const map = kind === 'access' ? this.access : this.refresh;
      const t = map.get(token);
      if (!t || t.revoked || this.grantRevoked(t.grant)) continue;
      t.revoked = true;
      if ((kind === 'access' ? accessCascade : refreshCascade) === 'grant') this.revokeGrant(t.grant);
      return kind;
    }
    return null;
  }

  /** A live refresh token entry, or null. */
  liveRefresh(token) {
    const r = this.refresh.get(token);
    return r && !r.revoked && !r.rotatedOut && !this.grantRevoked(r.grant) ? r : null;
  }

  snapshot() {
    const exp = (t) => t.expiresAt && new Date(t.expiresAt).toISOString();
    return {
      access: [...this.access].map(([token, t]) => ({ token, expiresAt: exp(t), scopes: t.scopes, revoked: !!t.revoked || this.grantRevoked(t.grant), user: t.userId ?? null, clientId: t.clientId ?? null, grant: t.grant ?? null })),
      refresh: [...this.refresh].map(([token, t]) => ({ token, clientId: t.clientId, revoked: !!t.revoked || this.grantRevoked(t.grant), rotatedOut: !!t.rotatedOut, user: t.userId ?? null, grant: t.grant ?? null })),
      clients: [...this.clients].map(([id, c]) => ({ client_id: id, client_secret: c.secret, redirect_uris: c.redirectUris, name: c.name ?? null, require_secret: c.requireSecret ?? null, require_pkce: !!c.requirePkce, refresh_token_rotation: c.rotation ?? null })),
      codes: [...this.codes].map(([code, c]) => ({ code, used: c.used, pkce: !!c.challenge, user: c.userId ?? null, client_id: c.clientId, redirect_uri: c.redirectUri })),
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

/** client_id/secret from an HTTP Basic header, or null. */
export function basicCreds(headers) {
  const h = headers.authorization;
  const m = h && /^Basic\s+(\S+)$/i.exec(h);
  if (!m) return null;
  const s = Buffer.from(m[1], 'base64').toString('utf8');
  const i = s.indexOf(':');
  const dec = (x) => { try { return decodeURIComponent(x); } catch { return x; } }; // RFC 6749 2.3.1: form-encoded first
  return i < 0 ? null : { client_id: dec(s.slice(0, i)), client_secret: dec(s.slice(i + 1)) };
}
