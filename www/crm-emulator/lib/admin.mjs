// The admin API under /_admin (JSON in, JSON out). See README.md for every path and shape.

import { publicView } from './util.mjs';
import { publicUser } from './users.mjs';
import { PREFIXES } from './realms.mjs';

const ok = (body, status = 200) => ({ status, body });
const bad = (message, status = 400) => ({ status, body: { error: message } });

function vendorOf(emu, v, { optional = false } = {}) {
  if (!v) { if (optional) return null; throw Object.assign(new Error('"vendor" is required'), { status: 400 }); }
  if (!emu.vendors[v]) throw Object.assign(new Error(`unknown vendor "${v}"; one of ${Object.keys(emu.vendors).join(', ')}`), { status: 400 });
  return v;
}

/** A user of realm v by id or email (400 when there is none). */
function userOf(emu, v, ref) {
  const u = emu.users[v].resolve(ref);
  if (!u) throw Object.assign(new Error(`no user "${ref}" in ${v}; seed one with POST /_admin/users`), { status: 400 });
  return u;
}

/** {id, name, email} of a realm user, or the bare id when the directory has none. */
function userRef(emu, v, id) {
  if (id === null || id === undefined) return null;
  const u = emu.users[v].get(id);
  return u ? { id: u.id, name: u.name, email: u.email } : { id: String(id), name: null, email: null };
}

function records(emu, vendor, { collection, kind, contains }) {
  const v = emu.vendors[vendor];
  let sources;
  if (kind) {
    if (!v.kinds[kind]) throw Object.assign(new Error(`unknown kind "${kind}"; one of ${Object.keys(v.kinds).join(', ')}`), { status: 400 });
    sources = v.kinds[kind];
  } else if (collection) sources = [[collection, () => true]];
  else sources = Object.keys(emu.stores[vendor].collections).map((c) => [c, () => true]);
  const out = [];
  for (const [col, filter] of sources) {
    for (const rec of emu.stores[vendor].col(col).values()) {
      if (!filter(rec)) continue;
      const pub = publicView(rec);
      if (contains && !JSON.stringify(pub).includes(contains)) continue;
      const own = v.ownership ? v.ownership(rec) : {};
      out.push({ collection: col, id: rec._key ?? rec.id ?? rec.Id, visibleToSearch: emu.visible(rec), owner: userRef(emu, vendor, own.owner), createdBy: userRef(emu, vendor, own.createdBy), record: pub });
    }
  }
  return out;
}

function stats(emu, { vendor, since }) {
  const sinceT = since ? (/^\d+$/.test(since) && Number(since) < 1e12 ? null : Date.parse(since) || Number(since)) : null;
  const sinceSeq = since && /^\d+$/.test(since) && Number(since) < 1e12 ? Number(since) : null;
  const out = { total: 0, byVendor: {} };
  for (const e of emu.log) {
    // A batch's subrequests (`parent`) are logged but count as part of their batch's one call.
    if (e.parent) continue;
    if (vendor && e.vendor !== vendor) continue;
    if (sinceSeq !== null && e.seq <= sinceSeq) continue;
    if (sinceT !== null && e.t < sinceT) continue;
    out.total++;
    const v = (out.byVendor[e.vendor] ||= { total: 0, byRoute: {}, byStatus: {}, faults: 0, first: e.at, last: e.at });
    v.total++;
    const r = e.route || `${e.method} (unrouted) ${e.path}`;
    v.byRoute[r] = (v.byRoute[r] || 0) + 1;
    v.byStatus[e.status] = (v.byStatus[e.status] || 0) + 1;
    if (e.faults.length) v.faults++;
    v.last = e.at;
  }
  out.lastSeq = emu.seq;
  return out;
}

export async function handleAdmin(emu, method, url, rawText) {
  let body = {};
  if (rawText) {
    try { body = JSON.parse(rawText); } catch (e) { return bad(`admin body is not JSON: ${e.message}`); }
  }
  const q = Object.fromEntries(url.searchParams);
  const p = url.pathname.replace(/^\/_admin/, '') || '/';
  try {
    if (p === '/health' && method === 'GET') {
      return ok({
        ok: true, port: emu.port, vendors: Object.keys(emu.vendors), baseUrls: Object.fromEntries(Object.keys(emu.vendors).map((v) => [v, emu.baseUrl(v)])),
        prefixes: Object.fromEntries(Object.entries(PREFIXES).map(([k, x]) => [k + (x.mydomain ? '/{name}' : ''), { realm: x.realm ?? '(by name)', role: x.role, standsFor: x.standsFor ?? emu.realms[x.realm]?.standsFor, url: emu.prefixUrl(k) + (x.mydomain ? '/{name}' : '') }])),
      });
    }
    if (p === '/reset' && method === 'POST') { emu.reset(body.vendor ? vendorOf(emu, body.vendor) : undefined); return ok({ ok: true }); }
    if (p === '/config' && method === 'POST') {
      Object.assign(emu.config, body);
      if (body.seed !== undefined) emu.faults.seed(body.seed);
      return ok(emu.config);
    }
    if (p === '/config' && method === 'GET') return ok(emu.config);

    // ----- tokens and OAuth -----
    if (p === '/tokens' && method === 'POST') {
      const v = vendorOf(emu, body.vendor);
      const t = emu.tokens[v];
      if (body.replace) t.access.clear();
      const userId = body.user !== undefined ? userOf(emu, v, body.user).id : emu.users[v].defaultId;
      const clientId = body.client_id ?? `${emu.realms[v].vendor}-client`;
      const grant = body.access_token || body.refresh_token ? t.newGrant({ clientId, userId, scopes: body.scopes ?? null }) : null;
      if (body.access_token) t.setAccess(body.access_token, { expiresIn: body.expires_in ?? null, scopes: body.scopes ?? null, userId, clientId, grant });
      if (body.refresh_token) t.setRefresh(body.refresh_token, { clientId, scopes: body.scopes ?? null, userId, grant });
      return ok(t.snapshot());
    }
    if (p === '/tokens' && method === 'GET') { const v = vendorOf(emu, q.vendor); return ok(emu.tokens[v].snapshot()); }
    if (p === '/tokens/expire' && method === 'POST') { const v = vendorOf(emu, body.vendor); emu.tokens[v].expire(body.access_token); return ok({ ok: true }); }
    if (p === '/tokens/revoke' && method === 'POST') {
      const v = vendorOf(emu, body.vendor);
      const t = emu.tokens[v];
      if (body.access_token && t.access.get(body.access_token)) t.access.get(body.access_token).revoked = true;
      if (body.refresh_token && t.refresh.get(body.refresh_token)) t.refresh.get(body.refresh_token).revoked = true;
      return ok({ ok: true });
    }
    if (p === '/oauth/clients' && method === 'POST') {
      const v = vendorOf(emu, body.vendor);
      if (!body.client_id) return bad('client_id required');
      const rs = body.require_secret;
      const rot = body.refresh_token_rotation;
      emu.tokens[v].clients.set(body.client_id, {
        secret: body.client_secret ?? null,
        redirectUris: body.redirect_uris ?? null,
        name: body.name ?? null,
        // Salesforce "Require Secret for Web Server Flow" / "... for Refresh Token Flow": true/false for both, or {code, refresh}.
        requireSecret: rs === undefined || rs === null ? null : typeof rs === 'boolean' ? { code: rs, refresh: rs } : { code: rs.code, refresh: rs.refresh },
        requirePkce: !!body.require_pkce,
        // Per-app refresh token rotation (Salesforce): true = "rotate-invalidate", or a mode string.
        rotation: rot === true ? 'rotate-invalidate' : rot || null,
      });
      return ok({ ok: true });
    }
    if (p === '/oauth/codes' && method === 'POST') {
      const v = vendorOf(emu, body.vendor);
      const code = emu.tokens[v].issueCode({
        clientId: body.client_id, redirectUri: body.redirect_uri, codeChallenge: body.code_challenge,
        codeChallengeMethod: body.code_challenge_method, scopes: body.scopes, code: body.code,
        userId: body.user !== undefined ? userOf(emu, v, body.user).id : emu.users[v].current().id,
        offline: body.offline ?? true, prompt: body.prompt ?? 'consent',
      });
      return ok({ code });
    }

    // ----- users -----
    if (p === '/users' && method === 'POST') {
      const v = vendorOf(emu, body.vendor);
      const dir = emu.users[v];
      if (!Array.isArray(body.users)) return bad('"users" must be an array of {id?, name, email, active?, ...}');
      if (body.replace) { dir.reset([]); }
      const made = body.users.map((u) => dir.add(u));
      if (body.replace) emu.tokens[v].defaultUserId = dir.defaultId;
      if (body.current !== undefined) dir.setCurrent(body.current);
      return ok({ users: made.map(publicUser), current: publicUser(dir.current()) });
    }
    if (p === '/users' && method === 'GET') {
      const v = vendorOf(emu, q.vendor);
      return ok({ users: emu.users[v].list().map(publicUser), current: publicUser(emu.users[v].current()), default: emu.users[v].defaultId });
    }
    if (p === '/users/current' && method === 'POST') {
      const v = vendorOf(emu, body.vendor);
      return ok({ current: publicUser(emu.users[v].setCurrent(body.user)) });
    }
    const um = /^\/users\/([^/]+)$/.exec(p);
    if (um && method === 'PATCH') {
      const v = vendorOf(emu, body.vendor ?? q.vendor);
      const u = userOf(emu, v, decodeURIComponent(um[1]));
      const { vendor: _v, id: _id, ...changes } = body;
      Object.assign(u, changes);
      return ok({ user: publicUser(u) });
    }

    // ----- data -----
    if (p === '/seed' && method === 'POST') {
      const v = vendorOf(emu, body.vendor);
      const vendor = emu.vendors[v];
      const created = [];
      for (const c of body.contacts || []) created.push(vendor.seedContact(c));
      for (const [col, recs] of Object.entries(body.records || {})) for (const r of recs) created.push(vendor.seedRaw(col, r));
      return ok({ created: created.map(publicView) });
    }
    if (p === '/delete' && method === 'POST') {
      // A record the CRM no longer has: deleted, or the loser of a merge (`GET /records` names
      // the collection and id).
      const v = vendorOf(emu, body.vendor);
      const col = emu.stores[v].col(String(body.collection));
      const key = [...col.keys()].find((k) => String(k) === String(body.id));
      if (key === undefined) return { status: 404, body: { error: `no ${body.collection} record ${body.id} in ${v}` } };
      col.delete(key);
      return ok({ ok: true });
    }
    if (p === '/fields' && method === 'POST') {
      const v = vendorOf(emu, body.vendor);
      return ok(emu.vendors[v].defineField(body));
    }
    if (p === '/records' && method === 'GET') {
      const v = vendorOf(emu, q.vendor);
      const recs = records(emu, v, q);
      return ok({ count: recs.length, records: recs });
    }
    for (const kind of ['calls', 'messages', 'contacts']) {
      if (p === `/${kind}` && method === 'GET') {
        const vs = q.vendor ? [vendorOf(emu, q.vendor)] : Object.keys(emu.vendors);
        const out = {};
        let count = 0;
        for (const v of vs) { out[v] = records(emu, v, { kind, contains: q.marker || q.contains }); count += out[v].length; }
        return ok({ count, byVendor: out });
      }
    }
    if (p === '/state' && method === 'GET') {
      const vs = q.vendor ? [vendorOf(emu, q.vendor)] : Object.keys(emu.vendors);
      return ok(Object.fromEntries(vs.map((v) => [v, emu.inspect(v, q.collection)])));
    }

    // ----- faults -----
    if (p === '/faults' && method === 'POST') {
      const specs = Array.isArray(body) ? body : [body];
      const made = specs.map((s) => {
        if (s.vendor !== '*') vendorOf(emu, s.vendor);
        return emu.faults.add(s);
      });
      return ok(Array.isArray(body) ? made.map(({ _re, ...f }) => f) : (({ _re, ...f }) => f)(made[0]));
    }
    if (p === '/faults' && method === 'GET') return ok({ faults: emu.faults.list() });
    if (p === '/faults' && method === 'DELETE') {
      if (q.vendor) emu.faults.faults = emu.faults.faults.filter((f) => f.vendor !== q.vendor);
      else emu.faults.faults = [];
      return ok({ ok: true });
    }
    const fm = /^\/faults\/([^/]+)$/.exec(p);
    if (fm && method === 'DELETE') { emu.faults.remove(fm[1]); return ok({ ok: true }); }

    // ----- request log -----
    if (p === '/requests' && method === 'GET') {
      let list = emu.log;
      if (q.vendor) list = list.filter((e) => e.vendor === q.vendor);
      if (q.since) list = list.filter((e) => e.seq > Number(q.since));
      if (q.route) list = list.filter((e) => e.route === q.route);
      if (q.method) list = list.filter((e) => e.method === q.method.toUpperCase());
      if (q.path) { const re = new RegExp(q.path); list = list.filter((e) => re.test(e.path)); }
      const limit = q.limit ? Number(q.limit) : 1000;
      return ok({ count: list.length, lastSeq: emu.seq, requests: list.slice(-limit) });
    }
    if (p === '/requests' && method === 'DELETE') { emu.log = []; return ok({ ok: true }); }
    if (p === '/stats' && method === 'GET') return ok(stats(emu, q));
    return bad(`no admin endpoint ${method} ${url.pathname}`, 404);
  } catch (e) {
    return bad(e.message, e.status || 400);
  }
}
