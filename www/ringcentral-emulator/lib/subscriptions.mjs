// Subscriptions API (/restapi/v1.0/subscription) with WebHook transport, the Validation-Token
// handshake, notification delivery with retries, and blacklisting.
//
// Documented (see README "Sources"): create/list/get/update(PUT)/renew(POST .../renew)/delete;
// SubscriptionInfo {uri,id,creationTime,status Active|Blacklisted,eventFilters,expirationTime,
// expiresIn,deliveryMode{transportType,encryption,address},blacklistedData{reason,blacklistedAt}};
// WebHook lifetime up to 315360000 s; 30 subscriptions per user and app; the handshake must answer
// 200 within 3000 ms echoing Validation-Token, response ≤ 1024 bytes (else SUB-525); a
// verificationToken is sent back on every notification; failing webhooks get "Blacklisted".
// Not documented, chosen here and configurable (README "Assumptions"): retry schedule, the exact
// blacklisting threshold, whether renew reactivates a blacklisted subscription.

import http from 'node:http';
import https from 'node:https';
import { badParam, clone, digits, iso, isLoopbackHost, rcError, uuid4 } from './util.mjs';

const MAX_WEBHOOK_TTL = 315360000;
const FILTER_PARAMS = new Set(['direction', 'missedCall', 'phoneNumber', 'sipData', 'statusCode', 'withRecordings']);
const STATUS_CODES = new Set(['Setup', 'Proceeding', 'Answered', 'Disconnected', 'Gone', 'Parked', 'Hold', 'VoiceMail', 'FaxReceive', 'VoiceMailScreening']);
const USER_AGENT = 'RingCentral-Webhook/8.3'; // as in guide/notifications/webhooks/receiving

/**
 * Parse one event filter. Supported: the account- and extension-level telephony session filters
 * (guide/notifications/event-filters/account-telephony-sessions, extension-telephony-sessions).
 * Returns {filter} (normalised, `~` expanded) or {error}.
 */
export function parseFilter(emu, raw, auth) {
  let u;
  try { u = new URL(String(raw), 'http://x'); } catch { return { error: raw }; }
  const m = /^\/restapi\/v1\.0\/account\/([^/]+)(?:\/extension\/([^/]+))?\/telephony\/sessions$/.exec(u.pathname);
  if (!m) return { error: raw };
  const accountId = m[1] === '~' ? auth.accountId : m[1];
  if (accountId !== auth.accountId) return { forbidden: rcError(403, 'SUB-406', 'Not allowed subscribe for events to extensions of other account') };
  let extensionId = null;
  if (m[2] !== undefined) {
    extensionId = m[2] === '~' ? auth.extensionId : m[2];
    const ext = emu.dir.extension(extensionId);
    if (!ext) return { error: raw };
    if (ext.accountId !== accountId) return { forbidden: rcError(403, 'SUB-406', 'Not allowed subscribe for events to extensions of other account') };
  }
  const params = {};
  for (const [k, v] of u.searchParams) {
    if (!FILTER_PARAMS.has(k)) return { error: raw };
    if (k === 'direction' && !['Inbound', 'Outbound'].includes(v)) return { error: raw };
    if (k === 'statusCode' && !STATUS_CODES.has(v)) return { error: raw };
    if (['missedCall', 'sipData', 'withRecordings'].includes(k) && !['true', 'false'].includes(v)) return { error: raw };
    params[k] = v;
  }
  const path = `/restapi/v1.0/account/${accountId}${extensionId ? `/extension/${extensionId}` : ''}/telephony/sessions`;
  return { filter: { text: path + u.search, accountId, extensionId, params } };
}

/** Does a telephony notification (one party) pass this filter? */
function filterMatches(f, accountId, party) {
  if (f.accountId !== accountId) return false;
  if (f.extensionId && party.extensionId !== f.extensionId) return false;
  const p = f.params;
  if (p.direction && party.direction !== p.direction) return false;
  if (p.missedCall === 'true' && !party.missedCall) return false;
  if (p.statusCode && party.status?.code !== p.statusCode) return false;
  if (p.withRecordings === 'true' && !(party.recordings && party.recordings.length)) return false;
  if (p.phoneNumber && party.from?.phoneNumber !== p.phoneNumber && party.to?.phoneNumber !== p.phoneNumber) return false;
  return true;
}

export class Subscriptions {
  constructor(emu) {
    this.emu = emu;
    this.reset();
  }

  reset() {
    this.subs = new Map();
    this.log = []; // every handshake and delivery attempt, in order
    this.notifications = new Map(); // `${subId}/${uuid}` -> summary
    this.seq = 0;
    for (const t of this.timers || []) clearTimeout(t);
    this.timers = new Set();
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    this.reconcileTimer = null;
  }

  close() {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
  }

  later(ms, fn) {
    const t = setTimeout(() => { this.timers.delete(t); fn(); }, ms);
    this.timers.add(t);
  }

  /** (Re)arm the optional periodic reconciliation (config.reconcileIntervalMs). */
  armReconcile() {
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    this.reconcileTimer = null;
    const ms = this.emu.config.reconcileIntervalMs;
    if (ms) {
      this.reconcileTimer = setInterval(() => { this.reconcile().catch(() => {}); }, ms);
      this.reconcileTimer.unref?.();
    }
  }

  // ---------------------------------------------------------------- views
  view(sub) {
    const now = this.emu.now();
    const out = {
      uri: `${this.emu.baseUrl}/restapi/v1.0/subscription/${sub.id}`,
      id: sub.id,
      creationTime: iso(sub.creationTime),
      status: sub.status,
      eventFilters: sub.filters.map((f) => f.text),
      expirationTime: iso(sub.expirationTime),
      expiresIn: Math.max(0, Math.round((sub.expirationTime - now) / 1000)),
      deliveryMode: { transportType: 'WebHook', encryption: false, address: sub.address },
    };
    if (sub.blacklistedData) out.blacklistedData = { ...sub.blacklistedData };
    return out;
  }

  adminView(sub) {
    return { ...this.view(sub), ownerId: sub.ownerId, clientId: sub.clientId, accountId: sub.accountId, verificationToken: sub.verificationToken, failures: { ...sub.failures } };
  }

  /** The subscription if it exists, belongs to this user+app and has not expired. */
  find(ctx, id) {
    const sub = this.subs.get(id);
    if (sub && sub.expirationTime <= this.emu.now()) {
      this.subs.delete(id); // an expired subscription is gone (assumption: 404 afterwards)
      return null;
    }
    if (!sub || sub.clientId !== ctx.auth.clientId || sub.ownerId !== ctx.auth.extensionId) return null;
    return sub;
  }

  notFound() { return rcError(404, 'CMN-102', 'Resource for parameter [subscriptionId] is not found', { parameterName: 'subscriptionId' }); }

  // ---------------------------------------------------------------- REST handlers
  parseFilters(ctx, list) {
    if (!Array.isArray(list) || list.length === 0) return { error: badParam('eventFilters') };
    const filters = [];
    const bad = [];
    for (const raw of list) {
      const r = parseFilter(this.emu, raw, ctx.auth);
      if (r.forbidden) return { error: r.forbidden };
      if (r.error !== undefined) bad.push(String(raw));
      else filters.push(r.filter);
    }
    if (bad.length) return { error: rcError(400, 'SUB-508', `Invalid event filters: [${bad.join(', ')}]`) };
    if (!ctx.auth.app.scopes.includes('CallControl')) return { error: rcError403Permission('CallControl') };
    return { filters };
  }

  ttl(v) {
    if (v === undefined || v === null) return { ttl: this.emu.config.defaultSubscriptionTtl };
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) return { error: badParam('expiresIn') };
    return { ttl: Math.min(n, MAX_WEBHOOK_TTL) };
  }

  async create(ctx) {
    const b = ctx.body;
    if (!b || typeof b !== 'object') return badParam('body', 'Request body is required');
    const dm = b.deliveryMode;
    if (!dm || typeof dm !== 'object' || !dm.transportType) return badParam('deliveryMode.transportType');
    if (dm.transportType !== 'WebHook') {
      return badParam('deliveryMode.transportType', dm.transportType === 'WebSocket'
        ? 'WebSocket subscriptions are created over the WebSocket connection; this emulator serves WebHook only'
        : 'Parameter [deliveryMode.transportType] value is invalid.');
    }
    if (!ctx.auth.app.scopes.includes('SubscriptionWebhook')) return rcError403Permission('SubscriptionWebhook');
    let addr;
    try { addr = new URL(String(dm.address)); } catch { return badParam('deliveryMode.address'); }
    if (!['http:', 'https:'].includes(addr.protocol)) return badParam('deliveryMode.address');
    if (!this.emu.config.allowNonLoopbackWebhooks && !isLoopbackHost(addr.hostname)) {
      return badParam('deliveryMode.address', 'Parameter [deliveryMode.address] value is invalid. (emulator: webhook addresses must be loopback)');
    }
    const pf = this.parseFilters(ctx, b.eventFilters);
    if (pf.error) return pf.error;
    const t = this.ttl(b.expiresIn);
    if (t.error) return t.error;
    const mine = [...this.subs.values()].filter((s) => s.ownerId === ctx.auth.extensionId && s.clientId === ctx.auth.clientId && s.expirationTime > this.emu.now());
    if (mine.length >= this.emu.config.maxSubscriptionsPerUser) return rcError(403, 'SUB-505', 'Subscriptions limit exceeded');

    const id = uuid4();
    const hs = await this.handshake(addr.href, { subscriptionId: id, purpose: 'create' });
    if (!hs.ok) return handshakeError(hs);
    const now = this.emu.now();
    const sub = {
      id,
      ownerId: ctx.auth.extensionId,
      accountId: ctx.auth.accountId,
      clientId: ctx.auth.clientId,
      filters: pf.filters,
      address: addr.href,
      // verificationToken per the API reference; the older receiving guide calls it validationToken.
      verificationToken: dm.verificationToken ?? dm.validationToken ?? null,
      ttl: t.ttl,
      creationTime: now,
      expirationTime: now + t.ttl * 1000,
      status: 'Active',
      blacklistedData: null,
      failures: { consecutive: 0, firstAt: null, lastReason: null },
    };
    this.subs.set(id, sub);
    return { status: 200, body: this.view(sub) };
  }

  list(ctx) {
    const records = [];
    for (const sub of [...this.subs.values()]) {
      if (this.find(ctx, sub.id)) records.push(this.view(sub));
    }
    return { status: 200, body: { uri: `${this.emu.baseUrl}/restapi/v1.0/subscription`, records } };
  }

  get(ctx) {
    const sub = this.find(ctx, ctx.params.id);
    return sub ? { status: 200, body: this.view(sub) } : this.notFound();
  }

  async renewOrUpdate(ctx, { update }) {
    const sub = this.find(ctx, ctx.params.id);
    if (!sub) return this.notFound();
    let filters = null;
    let ttl = sub.ttl;
    const b = update && ctx.body && typeof ctx.body === 'object' ? ctx.body : {};
    if (b.eventFilters !== undefined) {
      const pf = this.parseFilters(ctx, b.eventFilters);
      if (pf.error) return pf.error;
      filters = pf.filters;
    }
    if (update) {
      // PUT with an empty body renews "using the default expiration time" (API reference).
      const t = this.ttl(b.expiresIn);
      if (t.error) return t.error;
      ttl = t.ttl;
    }
    if (sub.status === 'Blacklisted' && this.emu.config.renewReactivates) {
      const hs = await this.handshake(sub.address, { subscriptionId: sub.id, purpose: update ? 'update' : 'renew' });
      if (!hs.ok) return handshakeError(hs);
      this.reactivate(sub);
    }
    if (filters) sub.filters = filters;
    sub.ttl = ttl;
    sub.expirationTime = this.emu.now() + ttl * 1000;
    return { status: 200, body: this.view(sub) };
  }

  remove(ctx) {
    const sub = this.find(ctx, ctx.params.id);
    if (!sub) return this.notFound();
    this.subs.delete(sub.id);
    return { status: 204 };
  }

  reactivate(sub) {
    sub.status = 'Active';
    sub.blacklistedData = null;
    sub.failures = { consecutive: 0, firstAt: null, lastReason: null };
  }

  blacklist(sub, reason) {
    if (sub.status === 'Blacklisted') return;
    sub.status = 'Blacklisted';
    sub.blacklistedData = { reason, blacklistedAt: iso(this.emu.now()) };
    this.record({ kind: 'blacklisted', subscriptionId: sub.id, reason });
  }

  /** Re-validate every blacklisted subscription; those whose webhook now answers come back. */
  async reconcile() {
    const out = [];
    for (const sub of this.subs.values()) {
      if (sub.status !== 'Blacklisted') continue;
      const hs = await this.handshake(sub.address, { subscriptionId: sub.id, purpose: 'reconcile' });
      if (hs.ok) this.reactivate(sub);
      out.push({ id: sub.id, status: sub.status });
    }
    return out;
  }

  // ---------------------------------------------------------------- HTTP to the webhook
  record(entry) {
    const e = { seq: ++this.seq, at: iso(this.emu.now()), ...entry };
    this.log.push(e);
    return e;
  }

  /** One POST to a webhook: resolves {status, statusText, headers, bytes, ms, error}. */
  post(address, headers, payload, timeoutMs) {
    return new Promise((resolve) => {
      const started = Date.now();
      let url;
      try { url = new URL(address); } catch (e) { resolve({ error: 'bad address', ms: 0 }); return; }
      const lib = url.protocol === 'https:' ? https : http;
      let settled = false;
      const done = (r) => { if (!settled) { settled = true; resolve({ ms: Date.now() - started, ...r }); } };
      const body = payload === null ? '' : payload;
      const req = lib.request(url, {
        method: 'POST',
        headers: { ...headers, 'Content-Length': Buffer.byteLength(body) },
        agent: false,
        timeout: timeoutMs,
      }, (res) => {
        const chunks = [];
        let size = 0;
        res.on('data', (c) => { size += c.length; if (size <= 65536) chunks.push(c); });
        res.on('end', () => {
          let headerBytes = `HTTP/1.1 ${res.statusCode} ${res.statusMessage}\r\n`.length;
          for (let i = 0; i < res.rawHeaders.length; i += 2) headerBytes += res.rawHeaders[i].length + 2 + res.rawHeaders[i + 1].length + 2;
          done({ status: res.statusCode, statusText: res.statusMessage, headers: res.headers, bytes: headerBytes + size, body: Buffer.concat(chunks).toString('utf8').slice(0, 2000) });
        });
        res.on('error', (e) => done({ error: e.code || e.message }));
      });
      // The whole exchange must finish in time (guide: "respond within 3000 milliseconds").
      const timer = setTimeout(() => { req.destroy(); done({ error: 'timeout' }); }, timeoutMs);
      req.on('close', () => clearTimeout(timer));
      req.on('timeout', () => { req.destroy(); done({ error: 'timeout' }); });
      req.on('error', (e) => done({ error: e.code || e.message }));
      req.end(body);
    });
  }

  /** The Validation-Token handshake (guide/notifications/webhooks/creating-webhooks). */
  async handshake(address, { subscriptionId, purpose }) {
    const vt = uuid4();
    const r = await this.post(address, {
      'Validation-Token': vt,
      'Content-Type': 'application/json',
      Accept: 'application/json',
      'User-Agent': USER_AGENT,
    }, null, this.emu.config.validationTimeoutMs);
    let problem = null;
    if (r.error === 'timeout') problem = `no answer within ${this.emu.config.validationTimeoutMs} ms`;
    else if (r.error) problem = `cannot reach the webhook (${r.error})`;
    else if (r.status !== 200) problem = `webhook answered HTTP ${r.status}`;
    else if (r.headers['validation-token'] !== vt) problem = r.headers['validation-token'] === undefined ? 'Validation-Token header not echoed' : 'Validation-Token header echoed with a different value';
    else if (r.bytes > this.emu.config.validationMaxResponseBytes) problem = `response of ${r.bytes} bytes (headers and body) exceeds ${this.emu.config.validationMaxResponseBytes}`;
    this.record({
      kind: 'validation', purpose, subscriptionId, address, validationToken: vt,
      status: r.status ?? null, error: r.error ?? null, echoed: r.headers?.['validation-token'] ?? null,
      responseBytes: r.bytes ?? null, ms: r.ms, outcome: problem ? 'failed' : 'ok', problem,
    });
    return { ok: !problem, problem };
  }

  // ---------------------------------------------------------------- notifications
  /**
   * Fan one telephony-session event (a body with one party) out to every subscription whose
   * filters match. `eventPath` is the account- or extension-level filter path of the party
   * (as real account-level streams show it).
   */
  publish(accountId, body) {
    const party = body.parties[0];
    const eventPath = `/restapi/v1.0/account/${accountId}${party.extensionId ? `/extension/${party.extensionId}` : ''}/telephony/sessions`;
    const now = this.emu.now();
    for (const sub of this.subs.values()) {
      if (!sub.filters.some((f) => filterMatches(f, accountId, party))) continue;
      const note = {
        uuid: digits(19),
        event: eventPath,
        timestamp: iso(now),
        subscriptionId: sub.id,
        ownerId: sub.ownerId,
        body: clone(body),
      };
      this.dispatch(sub, note);
    }
  }

  summary(sub, note) {
    const key = `${sub.id}/${note.uuid}`;
    let s = this.notifications.get(key);
    if (!s) {
      s = {
        subscriptionId: sub.id, uuid: note.uuid, telephonySessionId: note.body.telephonySessionId,
        sequence: note.body.sequence, partyId: note.body.parties[0].id, statusCode: note.body.parties[0].status.code,
        state: 'pending', attempts: 0, deliveredCopies: 0, faults: [], notification: note,
      };
      this.notifications.set(key, s);
    }
    return s;
  }

  dispatch(sub, note) {
    const s = this.summary(sub, note);
    const base = { kind: 'notification', subscriptionId: sub.id, uuid: note.uuid, telephonySessionId: s.telephonySessionId, sequence: s.sequence, statusCode: s.statusCode };
    if (sub.status === 'Blacklisted') { s.state = 'skipped'; this.record({ ...base, outcome: 'skipped', reason: 'blacklisted' }); return; }
    const faults = this.emu.faults.takeDelivery(sub.id, note);
    s.faults.push(...faults.map((f) => f.type));
    if (faults.some((f) => f.type === 'drop')) { s.state = 'dropped'; this.record({ ...base, outcome: 'dropped', faults: ['drop'] }); return; }
    let wait = 0;
    for (const f of faults) {
      if (f.type === 'delay') wait = Math.max(wait, f.delayMs);
      if (f.type === 'reorder') wait = Math.max(wait, f.holdMs);
    }
    const dup = faults.find((f) => f.type === 'duplicate');
    const copies = dup ? Math.max(2, dup.copies) : 1;
    for (let c = 0; c < copies; c++) {
      const at = wait + (c ? c * dup.gapMs : 0);
      const go = () => this.attempt(sub.id, note, 1, { copy: c + 1, faults: faults.map((f) => f.type) });
      if (at > 0) this.later(at, go); else go();
    }
  }

  async attempt(subId, note, n, meta) {
    const cfg = this.emu.config;
    const sub = this.subs.get(subId);
    const s = sub ? this.summary(sub, note) : null;
    const base = { kind: 'notification', subscriptionId: subId, uuid: note.uuid, telephonySessionId: note.body.telephonySessionId, sequence: note.body.sequence, statusCode: note.body.parties[0].status.code, attempt: n, copy: meta.copy };
    if (!sub) { this.record({ ...base, outcome: 'skipped', reason: 'deleted' }); return; }
    if (sub.expirationTime <= this.emu.now()) { s.state = 'skipped'; this.record({ ...base, outcome: 'skipped', reason: 'expired' }); return; }
    if (sub.status === 'Blacklisted') { if (s.state !== 'delivered') s.state = 'skipped'; this.record({ ...base, outcome: 'skipped', reason: 'blacklisted' }); return; }
    s.attempts += 1;
    const headers = {
      'Content-Type': 'application/json; charset=UTF-8',
      Accept: 'application/json',
      'User-Agent': USER_AGENT,
    };
    if (sub.verificationToken) headers['Verification-Token'] = sub.verificationToken;
    let r;
    const forced = this.emu.faults.failTarget(sub.id);
    if (forced) r = { status: 503, statusText: 'Service Unavailable', ms: 0, forced: true };
    else r = await this.post(sub.address, headers, JSON.stringify(note), cfg.deliveryTimeoutMs);
    const ok = !r.error && cfg.deliverySuccessStatuses.includes(r.status);
    const faults = [...(meta.faults || []), ...(forced ? ['fail_target'] : [])];
    if (ok) {
      sub.failures = { consecutive: 0, firstAt: null, lastReason: null };
      s.state = 'delivered';
      s.deliveredCopies += 1;
      this.record({ ...base, outcome: 'delivered', status: r.status, ms: r.ms, answer: answerOf(r), faults });
      return;
    }
    const reason = r.error === 'timeout' ? 'I/O operation is failed. Details: [Read timed out]'
      : r.error ? `I/O operation is failed. Details: [${r.error === 'ECONNREFUSED' ? 'Connection refused' : r.error}]`
        : `Webhook responses with code: [${r.status}], reason: [${r.statusText || http.STATUS_CODES[r.status] || ''}]`;
    const now = this.emu.now();
    sub.failures.consecutive += 1;
    sub.failures.firstAt ??= now;
    sub.failures.lastReason = reason;
    const rule = cfg.blacklist || {};
    const byCount = rule.afterFailures != null && sub.failures.consecutive >= rule.afterFailures;
    const byTime = rule.afterMs != null && now - sub.failures.firstAt >= rule.afterMs;
    const retryIn = cfg.retryDelaysMs[n - 1];
    const willRetry = !(byCount || byTime) && retryIn !== undefined;
    this.record({ ...base, outcome: willRetry ? 'failed-will-retry' : 'failed', status: r.status ?? null, error: r.error ?? null, ms: r.ms, answer: answerOf(r), reason, faults });
    if (byCount || byTime) {
      this.blacklist(sub, reason);
      if (s.state !== 'delivered') s.state = 'failed';
      return;
    }
    if (willRetry) this.later(retryIn, () => this.attempt(subId, note, n + 1, meta));
    else if (s.state !== 'delivered') s.state = 'failed';
  }
}

/** What the webhook answered, for the delivery log: its body (first 200 characters), if any. */
function answerOf(r) {
  if (r.forced) return '(fail_target fault: the webhook was not called)';
  return r.body ? r.body.slice(0, 200) : null;
}

function rcError403Permission(name) {
  // Shape as in ringcentral-web-phone#154 (InsufficientPermissions / CMN-401 with permissionName).
  return {
    status: 403,
    body: {
      errorCode: 'InsufficientPermissions',
      message: `In order to call this API endpoint, application needs to have [${name}] permission`,
      errors: [{ errorCode: 'CMN-401', message: `In order to call this API endpoint, application needs to have [${name}] permission`, permissionName: name }],
      permissionName: name,
    },
  };
}

function handshakeError(hs) {
  // The guide documents SUB-525 "WebHook server response is invalid" for a bad handshake answer;
  // the same code is used here for every handshake failure, with the cause in errors[0].
  return {
    status: 400,
    body: {
      errorCode: 'SUB-525',
      message: 'WebHook server response is invalid',
      errors: [{ errorCode: 'SUB-525', message: `WebHook server response is invalid: ${hs.problem}` }],
    },
  };
}

export { rcError403Permission };
