// The emulator core: one node:http server on 127.0.0.1 speaking the RingCentral REST paths under
// /restapi, the admin API under /_admin, a request log, REST faults, user-level rate limits and
// an adjustable clock (real time plus config.clockOffsetMs).

import http from 'node:http';
import { Directory, extensionInfo } from './directory.mjs';
import { TokenStore, authenticate, revokeEndpoint, tokenEndpoint } from './auth.mjs';
import { RateLimiter } from './ratelimit.mjs';
import { FaultEngine } from './faults.mjs';
import { Subscriptions } from './subscriptions.mjs';
import { CallLog } from './calllog.mjs';
import { CallPlayer } from './calls.mjs';
import { handleAdmin } from './admin.mjs';
import { b64j, clone, rcError, uuid4 } from './util.mjs';

export function defaultConfig() {
  return {
    seed: 42,
    clockOffsetMs: 0,
    // auth (guide/authentication/refresh-tokens: access 1 h, refresh 7 days; ~10 s re-use grace)
    accessTokenTtl: 3600,
    refreshTokenTtl: 604800,
    refreshReuseGraceMs: 10000,
    passwordGrant: false,
    // subscriptions
    defaultSubscriptionTtl: 604800,
    maxSubscriptionsPerUser: 30,
    validationTimeoutMs: 3000,
    validationMaxResponseBytes: 1024,
    deliveryTimeoutMs: 3000,
    deliverySuccessStatuses: [200],
    retryDelaysMs: [5000, 30000, 120000],
    blacklist: { afterFailures: null, afterMs: 600000 },
    renewReactivates: true,
    reconcileIntervalMs: null,
    allowNonLoopbackWebhooks: false,
    // calls and call log
    paceMs: 10,
    callLogLagMs: 2000,
    recordingLagMs: 5000,
    // rate limits (guide/basics/rate-limits defaults)
    rateLimits: { enabled: true },
  };
}

function compile(pattern) {
  const names = [];
  const src = pattern.replace(/[.]/g, '\\.').replace(/:([A-Za-z_]+)/g, (_, n) => { names.push(n); return '([^/]+)'; });
  return { re: new RegExp(`^${src}$`), names };
}

const V = '/restapi/v1.0';

export class Emulator {
  constructor() {
    this.config = defaultConfig();
    this.dir = new Directory();
    this.tokens = new TokenStore();
    this.limiter = new RateLimiter();
    this.faults = new FaultEngine(this.config.seed);
    this.subscriptions = new Subscriptions(this);
    this.callLog = new CallLog(this);
    this.player = new CallPlayer(this);
    this.log = [];
    this.seq = 0;
    this.port = null;
    this.sockets = new Set();
    this.routes = this.buildRoutes();
    this.seedDefaults();
  }

  get baseUrl() { return `http://127.0.0.1:${this.port}`; }
  now() { return Date.now() + (this.config.clockOffsetMs || 0); }

  buildRoutes() {
    const s = this.subscriptions;
    const cl = this.callLog;
    const r = [
      ['POST', '/restapi/oauth/token', 'auth', (ctx) => tokenEndpoint(this, ctx), { auth: false, form: true }],
      ['POST', '/restapi/oauth/revoke', 'auth', (ctx) => revokeEndpoint(this, ctx), { auth: false, form: true }],
      ['GET', `${V}/account/:accountId`, 'light', (ctx) => this.accountInfo(ctx)],
      ['GET', `${V}/account/:accountId/extension`, 'medium', (ctx) => this.extensionList(ctx)],
      ['GET', `${V}/account/:accountId/extension/:extensionId`, 'light', (ctx) => this.extensionGet(ctx)],
      ['GET', `${V}/account/:accountId/call-log`, 'heavy', (ctx) => cl.list(ctx)],
      ['GET', `${V}/account/:accountId/call-log/:recordId`, 'heavy', (ctx) => cl.getOne(ctx)],
      ['GET', `${V}/account/:accountId/extension/:extensionId/call-log`, 'heavy', (ctx) => cl.list(ctx)],
      ['GET', `${V}/account/:accountId/extension/:extensionId/call-log/:recordId`, 'heavy', (ctx) => cl.getOne(ctx)],
      ['GET', `${V}/account/:accountId/call-log-sync`, 'heavy', (ctx) => cl.sync(ctx)],
      ['GET', `${V}/account/:accountId/extension/:extensionId/call-log-sync`, 'heavy', (ctx) => cl.sync(ctx)],
      ['GET', `${V}/subscription`, 'light', (ctx) => s.list(ctx)],
      ['POST', `${V}/subscription`, 'medium', (ctx) => s.create(ctx)],
      ['GET', `${V}/subscription/:id`, 'light', (ctx) => s.get(ctx)],
      ['PUT', `${V}/subscription/:id`, 'medium', (ctx) => s.renewOrUpdate(ctx, { update: true })],
      ['DELETE', `${V}/subscription/:id`, 'medium', (ctx) => s.remove(ctx)],
      ['POST', `${V}/subscription/:id/renew`, 'light', (ctx) => s.renewOrUpdate(ctx, { update: false })],
    ];
    return r.map(([method, path, group, handler, opts = {}]) => ({ method, path, group, handler, auth: opts.auth !== false, form: Boolean(opts.form), name: `${method} ${path}`, ...compile(path) }));
  }

  /** A ready-to-use directory: one account, three users, a call queue, an app, JWTs. */
  seedDefaults() {
    const acc = this.dir.addAccount({ id: '37000000008', mainNumber: '+16505550100', name: 'Emulated Co' });
    const add = (id, extensionNumber, name, extra = {}) => this.dir.addExtension({ accountId: acc.id, id, extensionNumber, name, phoneNumber: `+1650555${String(extensionNumber).padStart(4, '0')}`, ...extra });
    add('62000000101', '101', 'Alice Admin', { admin: true, email: 'alice@example.com' });
    add('62000000102', '102', 'Bob Agent', { email: 'bob@example.com' });
    add('62000000103', '103', 'Carol Agent', { email: 'carol@example.com' });
    add('62000000200', '200', 'Support Queue', { type: 'Department', members: ['62000000102', '62000000103'] });
    this.dir.addApp({ clientId: 'rcemu-client', clientSecret: 'rcemu-secret', name: 'Calltrail (emulated)' });
    for (const id of ['62000000101', '62000000102', '62000000103']) {
      this.dir.addJwt({ extensionId: id, jwt: `${b64j({ alg: 'ES256', typ: 'JWT' })}.${b64j({ sub: id, iss: 'rcemu' })}.rcemu` });
    }
  }

  reset({ empty = false } = {}) {
    this.subscriptions.close();
    this.config = defaultConfig();
    this.dir.reset();
    this.tokens.reset();
    this.limiter.reset();
    this.faults.reset(this.config.seed);
    this.subscriptions.reset();
    this.callLog.reset();
    this.player.reset();
    this.log = [];
    if (!empty) this.seedDefaults();
  }

  listen(port = 0, host = '127.0.0.1') {
    this.server = http.createServer((req, res) => this.handle(req, res).catch((err) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ emulator_error: String((err && err.stack) || err) }));
      } else res.destroy();
    }));
    this.server.keepAliveTimeout = 5000;
    this.server.on('connection', (sock) => { this.sockets.add(sock); sock.on('close', () => this.sockets.delete(sock)); });
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => { this.port = this.server.address().port; resolve(this.port); });
    });
  }

  close() {
    this.subscriptions.close();
    for (const s of this.sockets) s.destroy();
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  async readBody(req) {
    const chunks = [];
    let size = 0;
    for await (const c of req) { size += c.length; if (size > 5 * 1024 * 1024) throw new Error('body too large'); chunks.push(c); }
    return Buffer.concat(chunks).toString('utf8');
  }

  async handle(req, res) {
    const started = Date.now();
    const url = new URL(req.url, 'http://127.0.0.1');
    const raw = await this.readBody(req);
    if (url.pathname === '/_admin' || url.pathname.startsWith('/_admin/')) {
      return this.send(res, await handleAdmin(this, req.method, url, raw));
    }
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const entry = {
      seq: ++this.seq, at: new Date(this.now()).toISOString(), method: req.method, path, query: Object.fromEntries(url.searchParams),
      route: null, headers: redact(req.headers), body: null, status: null, faults: [], rateLimitGroup: null, ms: null,
    };
    this.log.push(entry);
    const ctype = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
    const ctx = { method: req.method, path, url, query: url.searchParams, headers: req.headers, rawBody: raw, contentType: ctype, params: {}, body: undefined, form: null, auth: null, clientId: null };
    const finish = (out) => {
      entry.status = out.status ?? 200;
      entry.ms = Date.now() - started;
      out.headers = { RCRequestId: uuid4(), ...(out.headers || {}) };
      return this.send(res, out);
    };

    // Faults that act before anything else.
    for (const f of this.faults.takeRest(req.method, path + url.search)) {
      entry.faults.push(f.type);
      if (f.type === 'latency') { await new Promise((r) => setTimeout(r, f.latencyMs)); continue; }
      if (f.type === 'reset') { entry.status = 'reset'; req.socket.destroy(); return; }
      if (f.type === 'rate_limit') {
        const out = rcError(429, 'CMN-301', 'Request rate exceeded');
        out.headers = { 'X-Rate-Limit-Group': 'light', 'X-Rate-Limit-Limit': '50', 'X-Rate-Limit-Remaining': '0', 'X-Rate-Limit-Window': '60' };
        if (f.retryAfter !== null) out.headers['Retry-After'] = String(f.retryAfter);
        return finish(out);
      }
      if (f.type === 'server_error') {
        const out = f.status === 503 ? rcError(503, 'CMN-201', 'Service Temporary Unavailable') : rcError(f.status, 'CMN-203', 'Internal Server Error');
        if (f.retryAfter !== null && f.status === 503) out.headers = { 'Retry-After': String(f.retryAfter) };
        return finish(out);
      }
      if (f.type === 'unauthorized') return finish(rcError(401, 'OAU-213', 'Token not found', {}, 'TokenInvalid'));
    }

    let route = null;
    for (const r of this.routes) {
      const m = r.re.exec(path);
      if (!m || r.method !== req.method) continue;
      route = r;
      r.names.forEach((n, i) => { ctx.params[n] = decodeURIComponent(m[i + 1]); });
      break;
    }
    if (!route) return finish(rcError(404, 'CMN-120', 'Invalid URI'));
    entry.route = route.name;
    entry.rateLimitGroup = route.group;

    if (raw.length) {
      if (ctype === 'application/x-www-form-urlencoded') ctx.form = Object.fromEntries(new URLSearchParams(raw));
      else {
        try { ctx.body = JSON.parse(raw); } catch { if (!route.form) return finish(rcError(400, 'CMN-103', "JSON can't be parsed")); }
      }
    }
    ctx.form ??= {};
    entry.body = ctx.body !== undefined ? clone(ctx.body) : (route.form ? redactForm(ctx.form) : null);

    let limitKey;
    if (route.auth) {
      const denied = authenticate(this, ctx);
      if (denied) return finish(denied);
      limitKey = `${ctx.auth.clientId}|${ctx.auth.extensionId}`;
    } else {
      const m = /^Basic\s+(.+)$/i.exec(req.headers.authorization || '');
      limitKey = m ? Buffer.from(m[1], 'base64').toString('utf8').split(':')[0] : (ctx.form.client_id || 'anonymous');
    }
    const rl = this.limiter.take(this, route.group, limitKey);
    if (rl.refused) return finish(rl.refused);
    const out = await route.handler(ctx);
    out.headers = { ...rl.headers, ...(out.headers || {}) };
    return finish(out);
  }

  send(res, out) {
    const status = out.status ?? 200;
    const headers = { ...(out.headers || {}) };
    let payload = '';
    if (out.body !== undefined && out.body !== null && out.body !== '' && status !== 204) {
      payload = typeof out.body === 'string' ? out.body : JSON.stringify(out.body);
      headers['Content-Type'] ||= 'application/json; charset=UTF-8';
    }
    res.writeHead(status, headers);
    res.end(payload);
  }

  // ---------------------------------------------------------------- account / extension info
  sameAccount(ctx) {
    const acc = ctx.params.accountId === '~' ? ctx.auth.accountId : ctx.params.accountId;
    return acc === ctx.auth.accountId ? acc : null;
  }

  accountInfo(ctx) {
    const acc = this.sameAccount(ctx);
    if (!acc) return rcError(403, 'CMN-404', 'Attempt to access another extension');
    const a = this.dir.account(acc);
    return { status: 200, body: { uri: `${this.baseUrl}${V}/account/${a.id}`, id: Number(a.id), mainNumber: a.mainNumber, status: 'Confirmed', setupWizardState: 'Completed' } };
  }

  extensionList(ctx) {
    const acc = this.sameAccount(ctx);
    if (!acc) return rcError(403, 'CMN-404', 'Attempt to access another extension');
    const page = Math.max(1, Number(ctx.query.get('page') ?? 1) || 1);
    const perPage = Math.min(1000, Math.max(1, Number(ctx.query.get('perPage') ?? 100) || 100));
    const types = ctx.query.getAll('type');
    const all = this.dir.extensionsOf(acc).filter((e) => !types.length || types.includes(e.type));
    const slice = all.slice((page - 1) * perPage, page * perPage);
    const uri = (p) => `${this.baseUrl}${V}/account/${acc}/extension?page=${p}&perPage=${perPage}`;
    const navigation = { firstPage: { uri: uri(1) } };
    if (page * perPage < all.length) navigation.nextPage = { uri: uri(page + 1) };
    if (page > 1) navigation.previousPage = { uri: uri(page - 1) };
    return {
      status: 200,
      body: {
        uri: uri(page),
        records: slice.map((e) => extensionInfo(e, this.baseUrl)),
        paging: { page, perPage, ...(slice.length ? { pageStart: (page - 1) * perPage, pageEnd: (page - 1) * perPage + slice.length - 1 } : {}), totalPages: Math.ceil(all.length / perPage), totalElements: all.length },
        navigation,
      },
    };
  }

  extensionGet(ctx) {
    const acc = this.sameAccount(ctx);
    if (!acc) return rcError(403, 'CMN-404', 'Attempt to access another extension');
    const id = ctx.params.extensionId === '~' ? ctx.auth.extensionId : ctx.params.extensionId;
    const e = this.dir.extension(id);
    if (!e || e.accountId !== acc) return rcError(404, 'CMN-102', 'Resource for parameter [extensionId] is not found', { parameterName: 'extensionId' });
    return { status: 200, body: extensionInfo(e, this.baseUrl) };
  }
}

function redact(headers) {
  const h = { ...headers };
  if (h.authorization) h.authorization = h.authorization.replace(/^(\w+)\s+(.{6}).*$/, '$1 $2…');
  return h;
}
function redactForm(form) {
  const f = { ...form };
  for (const k of ['assertion', 'refresh_token', 'password', 'token', 'client_secret']) if (f[k]) f[k] = `${String(f[k]).slice(0, 6)}…`;
  return f;
}
