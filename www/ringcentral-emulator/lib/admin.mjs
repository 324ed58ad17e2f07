// The admin API under /_admin (JSON in, JSON out). README.md lists every path and shape.

import { iso, token } from './util.mjs';

const ok = (body, status = 200) => ({ status, body });
const bad = (message, status = 400) => ({ status, body: { error: message } });

const MERGE_KEYS = new Set(['blacklist', 'rateLimits']);

function mergeConfig(emu, patch) {
  for (const [k, v] of Object.entries(patch)) {
    if (MERGE_KEYS.has(k) && v && typeof v === 'object') {
      const cur = { ...(emu.config[k] || {}) };
      for (const [k2, v2] of Object.entries(v)) cur[k2] = v2 && typeof v2 === 'object' && !Array.isArray(v2) ? { ...(cur[k2] || {}), ...v2 } : v2;
      emu.config[k] = cur;
    } else emu.config[k] = v;
  }
  if (patch.seed !== undefined) emu.faults.seed(patch.seed);
  if (patch.rateLimits !== undefined) emu.limiter.reset();
  if (patch.reconcileIntervalMs !== undefined) emu.subscriptions.armReconcile();
}

function defaults(emu) {
  const app = emu.dir.apps.get('rcemu-client');
  const jwts = {};
  for (const c of emu.dir.jwts.values()) jwts[c.extensionId] = c.assertion;
  return {
    accountId: emu.dir.firstAccount()?.id ?? null,
    clientId: app?.clientId ?? null,
    clientSecret: app?.clientSecret ?? null,
    jwts,
  };
}

function directory(emu) {
  return {
    accounts: [...emu.dir.accounts.values()],
    extensions: [...emu.dir.extensions.values()].map(({ password, ...e }) => e),
    apps: [...emu.dir.apps.values()],
    jwts: [...emu.dir.jwts.values()],
  };
}

function filterList(list, q, keys) {
  let out = list;
  for (const k of keys) if (q[k] !== undefined) out = out.filter((e) => String(e[k]) === q[k]);
  if (q.since !== undefined) out = out.filter((e) => e.seq > Number(q.since));
  return out;
}

export async function handleAdmin(emu, method, url, rawText) {
  let body = {};
  if (rawText) {
    try { body = JSON.parse(rawText); } catch (e) { return bad(`admin body is not JSON: ${e.message}`); }
  }
  const q = Object.fromEntries(url.searchParams);
  const p = url.pathname.replace(/^\/_admin/, '') || '/';
  const subs = emu.subscriptions;
  let m;
  try {
    if (p === '/health' && method === 'GET') return ok({ ok: true, port: emu.port, baseUrl: emu.baseUrl, now: iso(emu.now()), defaults: defaults(emu) });
    if (p === '/reset' && method === 'POST') { emu.reset({ empty: Boolean(body.empty) }); return ok({ ok: true, defaults: defaults(emu) }); }
    if (p === '/config' && method === 'GET') return ok(emu.config);
    if (p === '/config' && method === 'POST') { mergeConfig(emu, body); return ok(emu.config); }

    // ----- directory
    if (p === '/directory' && method === 'GET') return ok(directory(emu));
    if (p === '/seed' && method === 'POST') {
      const created = { accounts: [], extensions: [], apps: [], jwts: [] };
      for (const a of body.accounts || []) {
        const acc = emu.dir.addAccount(a);
        created.accounts.push(acc);
        for (const e of a.extensions || []) created.extensions.push(emu.dir.addExtension({ ...e, accountId: acc.id }));
      }
      for (const e of body.extensions || []) created.extensions.push(emu.dir.addExtension(e));
      for (const a of body.apps || []) created.apps.push(emu.dir.addApp(a));
      for (const j of body.jwts || []) created.jwts.push(emu.dir.addJwt(j));
      return ok(created);
    }
    if (p === '/accounts' && method === 'POST') return ok(emu.dir.addAccount(body));
    if (p === '/extensions' && method === 'POST') return ok(emu.dir.addExtension(body));
    if ((m = /^\/extensions\/([^/]+)$/.exec(p)) && method === 'PATCH') {
      const e = emu.dir.extension(m[1]);
      if (!e) return bad('no such extension', 404);
      for (const k of ['name', 'email', 'status', 'phoneNumber', 'admin', 'members', 'extensionNumber']) if (body[k] !== undefined) e[k] = body[k];
      return ok(e);
    }
    if (p === '/apps' && method === 'POST') return ok(emu.dir.addApp(body));
    if (p === '/jwts' && method === 'POST') return ok(emu.dir.addJwt(body));
    if (p === '/jwts/revoke' && method === 'POST') {
      const c = emu.dir.jwts.get(body.jwt);
      if (!c) return bad('no such jwt', 404);
      c.revoked = true;
      return ok({ ok: true });
    }

    // ----- tokens
    if (p === '/tokens' && method === 'POST') {
      const ext = emu.dir.extension(body.extensionId);
      if (!ext) return bad('extensionId must name a seeded extension');
      const app = emu.dir.apps.get(body.clientId ?? 'rcemu-client');
      if (!app) return bad('no such app');
      return ok(emu.tokens.issue(emu, { extensionId: ext.id, accountId: ext.accountId, clientId: app.clientId, scope: app.scopes, accessTtl: body.expiresIn, refreshTtl: body.refreshExpiresIn }));
    }
    if (p === '/tokens/expire' && method === 'POST') {
      if (body.accessToken) {
        const t = emu.tokens.access.get(body.accessToken);
        if (!t) return bad('no such token', 404);
        t.expiresAt = emu.now();
      } else emu.tokens.expireAll(emu.now());
      return ok({ ok: true });
    }
    if (p === '/tokens/revoke' && method === 'POST') {
      const t = emu.tokens.access.get(body.accessToken) || emu.tokens.refresh.get(body.refreshToken);
      if (!t) return bad('no such token', 404);
      emu.tokens.revokeSession(t.sessionId);
      return ok({ ok: true });
    }

    // ----- scripted calls
    if (p === '/calls' && method === 'POST') {
      if (body.async) {
        const pending = emu.player.play(body);
        pending.catch(() => {});
        // normalise() runs synchronously inside play(), so a bad script still fails here.
        await Promise.race([pending, new Promise((r) => setImmediate(r))]);
        return ok({ accepted: true, telephonySessionId: emu.player.calls.at(-1)?.telephonySessionId ?? null }, 202);
      }
      return ok(await emu.player.play(body));
    }
    if (p === '/calls' && method === 'GET') return ok({ count: emu.player.calls.length, calls: emu.player.calls });

    // ----- subscriptions, deliveries
    if (p === '/subscriptions' && method === 'GET') return ok({ records: [...subs.subs.values()].map((s) => subs.adminView(s)) });
    if ((m = /^\/subscriptions\/([^/]+)\/(blacklist|expire|reactivate)$/.exec(p)) && method === 'POST') {
      const sub = subs.subs.get(m[1]);
      if (!sub) return bad('no such subscription', 404);
      if (m[2] === 'blacklist') subs.blacklist(sub, body.reason ?? 'Blacklisted by the emulator admin API');
      else if (m[2] === 'expire') sub.expirationTime = emu.now();
      else subs.reactivate(sub);
      return ok(subs.adminView(sub));
    }
    if (p === '/reconcile' && method === 'POST') return ok({ results: await subs.reconcile() });
    if (p === '/deliveries' && method === 'GET') {
      const list = filterList(subs.log, q, ['subscriptionId', 'telephonySessionId', 'kind', 'outcome', 'uuid']);
      return ok({ count: list.length, lastSeq: subs.seq, deliveries: list });
    }
    if (p === '/deliveries' && method === 'DELETE') { subs.log = []; subs.notifications.clear(); return ok({ ok: true }); }
    if (p === '/notifications' && method === 'GET') {
      let list = [...subs.notifications.values()];
      for (const k of ['subscriptionId', 'telephonySessionId', 'state']) if (q[k] !== undefined) list = list.filter((n) => String(n[k]) === q[k]);
      if (q.full !== '1') list = list.map(({ notification, ...n }) => n);
      return ok({ count: list.length, notifications: list });
    }

    // ----- call log
    if (p === '/call-log' && method === 'POST') {
      const acc = body.accountId ? emu.dir.account(body.accountId) : emu.dir.firstAccount();
      if (!acc) return bad('no such account');
      const lag = body.lagMs ?? 0;
      const made = [];
      for (const rec of body.records || []) {
        const id = rec.id ?? token(15);
        const startMs = Date.parse(rec.startTime);
        if (Number.isNaN(startMs)) return bad('every record needs an ISO startTime');
        const owners = (rec.extensionIds ?? (rec.extension?.id ? [String(rec.extension.id)] : [])).map(String);
        const { extensionIds, id: _id, ...data } = rec;
        emu.callLog.stage(id, { type: 'Voice', ...data }, emu.now() + lag, { accountId: acc.id, owners, startMs });
        made.push(id);
      }
      return ok({ ids: made });
    }
    if ((m = /^\/call-log\/([^/]+)$/.exec(p)) && (method === 'PATCH' || method === 'DELETE')) {
      const r = emu.callLog.records.get(m[1]);
      if (!r) return bad('no such record', 404);
      emu.callLog.materialize();
      const latest = emu.callLog.pending.filter((x) => x.id === r.id).at(-1)?.data ?? r.data;
      const next = method === 'DELETE' ? { ...latest, deleted: true } : { ...latest, ...(body.patch || {}) };
      emu.callLog.stage(r.id, next, emu.now() + (body.lagMs ?? 0), { accountId: r.accountId, owners: [], startMs: r.startMs });
      return ok({ ok: true });
    }
    if (p === '/call-log/reset' && method === 'POST') { emu.callLog.reset(); return ok({ ok: true }); }
    if (p === '/call-log' && method === 'GET') {
      emu.callLog.materialize();
      return ok({
        visible: [...emu.callLog.records.values()].filter((r) => r.data).map((r) => ({ id: r.id, seq: r.seq, owners: [...r.owners], record: r.data })),
        pending: emu.callLog.pending.map((x) => ({ id: x.id, visibleAt: iso(x.at) })),
      });
    }

    // ----- faults
    if (p === '/faults' && method === 'POST') {
      const specs = Array.isArray(body) ? body : [body];
      const made = specs.map((s) => emu.faults.add(s)).map(({ _re, ...f }) => f);
      return ok(Array.isArray(body) ? made : made[0]);
    }
    if (p === '/faults' && method === 'GET') return ok({ faults: emu.faults.list() });
    if (p === '/faults' && method === 'DELETE') { emu.faults.faults = []; return ok({ ok: true }); }
    if ((m = /^\/faults\/([^/]+)$/.exec(p)) && method === 'DELETE') { emu.faults.remove(m[1]); return ok({ ok: true }); }

    // ----- REST request log
    if (p === '/requests' && method === 'GET') {
      let list = emu.log;
      if (q.since) list = list.filter((e) => e.seq > Number(q.since));
      if (q.route) list = list.filter((e) => e.route === q.route);
      if (q.method) list = list.filter((e) => e.method === q.method.toUpperCase());
      if (q.path) { const re = new RegExp(q.path); list = list.filter((e) => re.test(e.path)); }
      return ok({ count: list.length, lastSeq: emu.seq, requests: list.slice(-(Number(q.limit) || 1000)) });
    }
    if (p === '/requests' && method === 'DELETE') { emu.log = []; return ok({ ok: true }); }

    return bad(`no admin endpoint ${method} ${url.pathname}`, 404);
  } catch (e) {
    return bad(e.message, e.status || 400);
  }
}

