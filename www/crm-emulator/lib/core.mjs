// The emulator core: one node:http server, five vendors in several realms (data centres, regions,
// orgs) by path prefix, the admin API under /_admin, the request log, fault injection and the
// in-memory store.

import http from 'node:http';
import { TokenStore } from './auth.mjs';
import { UserDirectory } from './users.mjs';
import { REALMS, PREFIXES, resolvePrefix } from './realms.mjs';
import { FaultEngine } from './faults.mjs';
import { publicView, clone } from './util.mjs';
import { handleAdmin } from './admin.mjs';

import hubspot from '../vendors/hubspot.mjs';
import pipedrive from '../vendors/pipedrive.mjs';
import salesforce from '../vendors/salesforce.mjs';
import zoho from '../vendors/zoho.mjs';
import clio from '../vendors/clio.mjs';

const FACTORIES = { hubspot, pipedrive, salesforce, zoho, clio };
export const VENDORS = Object.keys(FACTORIES);
export const REALM_KEYS = Object.keys(REALMS);

function compile(pattern) {
  const names = [];
  const src = pattern.replace(/[.]/g, '\\.').replace(/:([A-Za-z_]+)/g, (_, n) => { names.push(n); return '([^/]+)'; });
  return { re: new RegExp(`^${src}$`), names };
}

/** The per-vendor store: named collections of records keyed by id. */
export class VendorStore {
  constructor(name) { this.name = name; this.reset(); }
  reset() { this.collections = {}; this.counters = {}; this.meta = {}; }
  col(name) { return (this.collections[name] ||= new Map()); }
  nextId(name, start = 1) {
    this.counters[name] = (this.counters[name] ?? start - 1) + 1;
    return this.counters[name];
  }
}

export class Emulator {
  constructor() {
    this.config = { defaultCountry: 'US' };
    this.faults = new FaultEngine();
    this.log = [];
    this.seq = 0;
    this.port = null;
    // Everything below is keyed by realm ("zoho-eu", "salesforce-sandbox", ...); the five base
    // realms carry the vendor's own name, so `vendor: "zoho"` in the admin API still means US Zoho.
    this.vendors = {};
    this.stores = {};
    this.tokens = {};
    this.users = {};
    this.realms = {};
    for (const [key, def] of Object.entries(REALMS)) {
      const realm = { key, ...def };
      this.realms[key] = realm;
      this.stores[key] = new VendorStore(key);
      this.tokens[key] = new TokenStore(key, def.vendor);
      const v = FACTORIES[def.vendor](this, realm);
      v.routes = v.routes.map((r) => ({ ...r, ...compile(r.path), name: `${r.method} ${r.path}` }));
      this.vendors[key] = v;
      this.users[key] = new UserDirectory(key, v.makeUserIds);
      this.initRealm(key);
    }
    this.sockets = new Set();
  }

  initRealm(key) {
    const v = this.vendors[key];
    this.users[key].reset(v.defaultUsers());
    this.tokens[key].reset(this.users[key].defaultId);
    v.init(this.stores[key]);
  }

  reset(vendor) {
    const names = vendor ? [vendor] : REALM_KEYS;
    for (const n of names) {
      this.stores[n].reset();
      this.initRealm(n);
    }
    if (!vendor) {
      this.faults.reset(this.config.seed ?? 42);
      this.log = [];
      this.config = { defaultCountry: 'US' };
    } else {
      this.faults.faults = this.faults.faults.filter((f) => f.vendor !== vendor);
      this.log = this.log.filter((e) => e.vendor !== vendor);
    }
  }

  /**
   * Refresh-token rotation for a realm: the vendor's documented default unless the admin config
   * overrides it (`refreshRotation: {"<realm or vendor>": "none"|"rotate"|"rotate-invalidate"}`).
   */
  rotationFor(realm, vendorDefault) {
    const r = this.config.refreshRotation || {};
    return r[realm.key] ?? r[realm.vendor] ?? vendorDefault;
  }

  /** How long an authorization code stays redeemable: admin config `codeTtl` (s) or the vendor's. */
  codeTtlMs(vendorDefaultS = 600) { return (this.config.codeTtl ?? vendorDefaultS) * 1000; }

  /** The realm's canonical API base (the realm key is its own prefix). */
  baseUrl(realmKey) { return `http://127.0.0.1:${this.port}/${realmKey}`; }
  /** The base URL of any prefix ("zoho-accounts-eu", "salesforce-login", "salesforce-mydomain/acme"). */
  prefixUrl(prefix) { return `http://127.0.0.1:${this.port}/${prefix}`; }

  listen(port = 0, host = '127.0.0.1') {
    this.server = http.createServer((req, res) => this.handle(req, res).catch((err) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ emulator_error: String(err && err.stack || err) }));
      } else res.destroy();
    }));
    this.server.keepAliveTimeout = 5000;
    this.server.on('connection', (s) => { this.sockets.add(s); s.on('close', () => this.sockets.delete(s)); });
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => { this.port = this.server.address().port; resolve(this.port); });
    });
  }

  close() {
    for (const t of this.timers || []) clearTimeout(t);
    for (const s of this.sockets) s.destroy();
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  async readBody(req) {
    const chunks = [];
    let size = 0;
    for await (const c of req) { size += c.length; if (size > 20 * 1024 * 1024) throw new Error('body too large'); chunks.push(c); }
    return Buffer.concat(chunks);
  }

  async handle(req, res) {
    const started = Date.now();
    const url = new URL(req.url, 'http://127.0.0.1');
    const raw = await this.readBody(req);
    const rawText = raw.toString('utf8');
    const segs = url.pathname.split('/');
    if (segs[1] === '_admin') {
      const out = await handleAdmin(this, req.method, url, rawText);
      return this.send(res, out, 'application/json');
    }
    const pre = resolvePrefix(segs);
    if (!pre) {
      return this.send(res, { status: 404, body: { error: `unknown prefix "/${segs[1]}"; use one of ${Object.keys(PREFIXES).map((p) => '/' + p + (PREFIXES[p].mydomain ? '/{name}' : '')).join(', ')} or /_admin` } }, 'application/json');
    }
    const vendorName = pre.realm;
    const vendor = this.vendors[vendorName];
    const path = pre.rest;
    const pathWithQuery = path + url.search;
    const ctype = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
    const entry = {
      seq: ++this.seq, at: new Date(started).toISOString(), t: started, vendor: vendorName, prefix: pre.prefix, method: req.method,
      path, query: Object.fromEntries(url.searchParams), route: null, headers: { ...req.headers },
      body: null, status: null, faults: [], ms: null,
    };
    this.log.push(entry);

    const users = this.users[vendorName];
    const ctx = {
      emu: this, vendor, store: this.stores[vendorName], tokens: this.tokens[vendorName], users,
      realm: this.realms[vendorName], prefix: pre,
      method: req.method, path, url, query: url.searchParams, headers: req.headers,
      rawBody: rawText, contentType: ctype, body: undefined, bodyError: null, params: {},
      baseUrl: `http://127.0.0.1:${this.port}${pre.base}`, entry, now: Date.now(),
      lag: () => this.faults.lagFor(vendorName, req.method, pathWithQuery),
      auth: null, // set by the vendor's authenticate: {userId, token, ...}
      /** The user the request acts as: the token's user, else the realm's default user. */
      user() { return users.get(this.auth && this.auth.userId) || users.default(); },
    };
    if (rawText.length) {
      if (ctype === 'application/x-www-form-urlencoded') ctx.body = Object.fromEntries(new URLSearchParams(rawText));
      else if (ctype.startsWith('multipart/')) ctx.body = { _multipart: true, size: raw.length };
      else {
        try { ctx.body = JSON.parse(rawText); } catch (e) { ctx.bodyError = e.message; }
      }
    }
    entry.body = ctx.body !== undefined ? clone(ctx.body) : (rawText ? rawText.slice(0, 4000) : null);

    const finish = (out) => {
      entry.status = out.status ?? 200;
      entry.ms = Date.now() - started;
    };

    // Faults that act before processing.
    const fired = this.faults.take(vendorName, req.method, pathWithQuery);
    entry.faults = fired.map((f) => f.type);
    let post = null;
    for (const f of fired) {
      if (f.type === 'latency') { await new Promise((r) => setTimeout(r, f.latencyMs)); continue; }
      if (f.type === 'commit_then_drop') { post ||= f; continue; }
      if (f.type === 'reset') { entry.status = 'reset'; entry.ms = Date.now() - started; req.socket.destroy(); return; }
      let out;
      if (f.type === 'rate_limit') out = vendor.errors.rateLimited(ctx, f.retryAfter);
      else if (f.type === 'server_error') out = vendor.errors.serverError(ctx, f.status);
      else if (f.type === 'unauthorized') out = vendor.errors.unauthorized(ctx, 'invalid');
      else if (f.type === 'expire_token') { this.tokens[vendorName].expire(); out = vendor.errors.unauthorized(ctx, 'expired'); }
      else if (f.type === 'limit_exceeded') out = vendor.errors.limitExceeded(ctx);
      else if (f.type === 'error_body') {
        // Verbatim, undecorated: the test wrote the whole reply.
        out = { status: f.status, body: f.body };
        finish(out);
        return this.send(res, out, vendor.contentType);
      }
      out = vendor.decorate(ctx, out, { fault: f });
      finish(out);
      return this.send(res, out, vendor.contentType);
    }

    // Routing.
    let route = null;
    let methodMismatch = false;
    for (const r of vendor.routes) {
      // An auth host (login.salesforce.com, accounts.zoho.eu) serves only the OAuth/identity
      // routes; an API-only host (www.zohoapis.eu) serves none of them.
      if (pre.role === 'auth' && r.kind !== 'auth') continue;
      if (pre.role === 'api' && r.kind === 'auth') continue;
      const m = r.re.exec(path);
      if (!m) continue;
      if (r.method !== req.method) { methodMismatch = true; continue; }
      route = r;
      r.names.forEach((n, i) => { ctx.params[n] = decodeURIComponent(m[i + 1]); });
      break;
    }
    let out;
    if (!route) {
      out = vendor.errors.notFound(ctx, methodMismatch ? 'method' : 'path');
    } else {
      entry.route = route.name;
      ctx.route = route;
      if (route.auth !== false) out = vendor.authenticate(ctx);
      if (!out && ctx.bodyError && ['POST', 'PUT', 'PATCH'].includes(req.method) && !route.rawBody) out = vendor.errors.badJson(ctx, ctx.bodyError);
      if (!out) out = await route.handler(ctx);
      // A batch whose subrequest met a connection fault (Salesforce's Composite): the whole
      // call's connection is reset, or its reply lost after everything ran.
      if (out && out.reset) { entry.status = 'reset'; entry.ms = Date.now() - started; req.socket.destroy(); return; }
      if (ctx.dropReply && !post) post = ctx.dropReply;
    }
    out = vendor.decorate(ctx, out, {});
    finish(out);

    if (post) {
      entry.faults.push(`commit_then_drop:${post.mode}`);
      if (post.mode === '502') {
        return this.send(res, { status: 502, headers: { 'content-type': 'text/html' }, body: '<html><body><h1>502 Bad Gateway</h1></body></html>' });
      }
      entry.status = `dropped(${entry.status})`;
      if (post.mode === 'hang') {
        (this.timers ||= new Set()).add(setTimeout(() => req.socket.destroy(), post.holdMs));
        return;
      }
      req.socket.destroy();
      return;
    }
    return this.send(res, out, vendor.contentType);
  }

  send(res, out, contentType = 'application/json') {
    const status = out.status ?? 200;
    const headers = { ...(out.headers || {}) };
    let payload = '';
    if (out.body !== undefined && out.body !== null && status !== 204 && status !== 304) {
      if (typeof out.body === 'string') { payload = out.body; headers['content-type'] ||= 'text/plain; charset=utf-8'; }
      else { payload = JSON.stringify(out.body); headers['content-type'] ||= contentType; }
    }
    res.writeHead(status, headers);
    res.end(payload);
  }

  // ---------- helpers for vendor modules ----------
  /** Records in a collection visible to search/list (search lag applied). */
  visible(rec, kind = 'search') {
    if (!rec._visibleAt || rec._visibleAt <= Date.now()) return true;
    return !(rec._lagApplies || ['search', 'list']).includes(kind);
  }

  /** Stamp a new record with creation bookkeeping (search lag). */
  stampNew(ctx, rec) {
    const lag = ctx.lag();
    rec._createdMs ??= Date.now();
    if (lag > 0) {
      rec._visibleAt = Date.now() + lag;
      const f = this.faults.faults.find((x) => x.type === 'search_lag' && x.lagMs === lag);
      rec._lagApplies = f ? f.applyTo : ['search', 'list'];
    }
    return rec;
  }

  inspect(vendorName, collection) {
    const s = this.stores[vendorName];
    const cols = collection ? [collection] : Object.keys(s.collections);
    const out = {};
    for (const c of cols) out[c] = [...s.col(c).values()].map(publicView);
    return out;
  }
}
